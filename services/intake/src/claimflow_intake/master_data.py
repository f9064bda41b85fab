"""Commands that change a tenant's master data: payers, providers, facilities, defaults and
HL7 routes. Each runs under the tenant's registry lock, is refused with the problems it
would introduce (never half-applied), and is audited with the principal who asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from claimflow_intake.domain.registry import (
    DirectoryUpdate,
    Facility,
    Payer,
    Provider,
    TenantDefaults,
    TenantRegistry,
)
from claimflow_intake.domain.validation import Problem
from claimflow_intake.unit_of_work import IntakeUnitOfWork


class MasterDataRefused(ValueError):
    """The change would leave the registry with these problems."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = list(problems)


class NotRegistered(LookupError):
    """No such entry in this tenant's registry (another tenant's is not there either)."""


class AlreadyRegistered(ValueError):
    def __init__(self, reason: str, ref: int | str | None = None) -> None:
        super().__init__(reason)
        self.ref = ref


def _principal(uow: IntakeUnitOfWork) -> str:
    return uow.principal or "system"


async def change_registry(
    *,
    uow: IntakeUnitOfWork,
    tenant_id: str,
    change: Callable[[TenantRegistry], TenantRegistry],
    reason: str | None = None,
    check: bool = True,
) -> TenantRegistry:
    """Apply `change` to the tenant's current registry and store the result; with `check`,
    refuse it when it adds problems to the master data."""
    await uow.lock(f"intake-registry:{tenant_id}")
    before = await uow.registry.load(tenant_id)
    after = change(before)
    if check:
        known = set(before.problems())
        added = [p for p in after.problems() if p not in known]
        if added:
            raise MasterDataRefused(added)
    return await uow.registry.save(before, after, principal=_principal(uow), reason=reason)


async def put_payer(*, uow: IntakeUnitOfWork, tenant_id: str, payer: Payer) -> Payer:
    """Register a payer, or replace the one with its payer id."""
    saved = await change_registry(
        uow=uow, tenant_id=tenant_id, change=lambda r: r.with_payer(payer)
    )
    return saved.payer_by_id(payer.payer_id)


async def delete_payer(*, uow: IntakeUnitOfWork, tenant_id: str, payer_id: str) -> None:
    def change(registry: TenantRegistry) -> TenantRegistry:
        if payer_id.strip().upper() not in {p.payer_id.upper() for p in registry.payers}:
            raise NotRegistered("payer")
        return registry.without_payer(payer_id)

    await change_registry(uow=uow, tenant_id=tenant_id, change=change)


def _only(entries, ref: int, what: str):
    found = [e for e in entries if e.ref == ref]
    if not found:
        raise NotRegistered(what)
    return found[0]


async def add_provider(*, uow: IntakeUnitOfWork, tenant_id: str, provider: Provider) -> Provider:
    """Register a provider; one with the same NPI or a shared local identifier is refused
    (replace that one instead), so two entries never claim the same identity."""

    def change(registry: TenantRegistry) -> TenantRegistry:
        if (existing := registry.matching_provider(provider)) is not None:
            raise AlreadyRegistered(
                "a provider with this NPI or local identifier is registered", existing.ref
            )
        return registry.with_provider(provider)

    saved = await change_registry(uow=uow, tenant_id=tenant_id, change=change)
    return saved.providers[-1]


async def replace_provider(
    *, uow: IntakeUnitOfWork, tenant_id: str, ref: int, provider: Provider
) -> Provider:
    def change(registry: TenantRegistry) -> TenantRegistry:
        _only(registry.providers, ref, "provider")
        return registry.with_provider(replace(provider, ref=ref))

    saved = await change_registry(uow=uow, tenant_id=tenant_id, change=change)
    return _only(saved.providers, ref, "provider")


async def delete_provider(*, uow: IntakeUnitOfWork, tenant_id: str, ref: int) -> None:
    def change(registry: TenantRegistry) -> TenantRegistry:
        _only(registry.providers, ref, "provider")
        return registry.without_provider(ref)

    await change_registry(uow=uow, tenant_id=tenant_id, change=change)


async def add_facility(*, uow: IntakeUnitOfWork, tenant_id: str, facility: Facility) -> Facility:
    saved = await change_registry(
        uow=uow, tenant_id=tenant_id, change=lambda r: r.with_facility(facility)
    )
    return saved.facilities[-1]


async def replace_facility(
    *, uow: IntakeUnitOfWork, tenant_id: str, ref: int, facility: Facility
) -> Facility:
    def change(registry: TenantRegistry) -> TenantRegistry:
        _only(registry.facilities, ref, "facility")
        return registry.with_facility(replace(facility, ref=ref))

    saved = await change_registry(uow=uow, tenant_id=tenant_id, change=change)
    return _only(saved.facilities, ref, "facility")


async def delete_facility(*, uow: IntakeUnitOfWork, tenant_id: str, ref: int) -> None:
    def change(registry: TenantRegistry) -> TenantRegistry:
        _only(registry.facilities, ref, "facility")
        return registry.without_facility(ref)

    await change_registry(uow=uow, tenant_id=tenant_id, change=change)


async def set_tenant(
    *,
    uow: IntakeUnitOfWork,
    tenant_id: str,
    defaults: TenantDefaults,
    hl7_sending_facilities: Sequence[str] | None = None,
) -> TenantRegistry:
    """The tenant's defaults, and (when given) the HL7 sending facilities (MSH-4) whose
    messages on the shared MLLP listener are this tenant's."""
    saved = await change_registry(
        uow=uow, tenant_id=tenant_id, change=lambda r: r.with_defaults(defaults)
    )
    if hl7_sending_facilities is not None:
        taken = await uow.registry.route_hl7(
            tenant_id, hl7_sending_facilities, principal=_principal(uow)
        )
        if taken:
            raise AlreadyRegistered(
                "a sending facility is already routed to another tenant: "
                + ", ".join(t[:40] for t in taken)
            )
    return saved


async def load_directory(
    *, uow: IntakeUnitOfWork, tenant_id: str, update: DirectoryUpdate, reason: str
) -> TenantRegistry:
    """Merge a provider directory (a Practitioner/Organization bundle) into the registry:
    entries with the same NPI or local identifier are updated, keeping what only the
    registry knows (tax id, taxonomy). What the directory could not use is in its own
    problems, which the caller reports; the rest loads."""
    return await change_registry(
        uow=uow,
        tenant_id=tenant_id,
        change=lambda r: r.merged(update),
        reason=reason,
        check=False,
    )
