"""Intake's repositories: accepted documents (looked up a whole batch at a time), tenant
master data (read as one `TenantRegistry`, cached per replica until its version moves, and
saved as the difference between two registries with an audit row per change), HL7 v2
routes and registrations, idempotency keys and bulk jobs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_intake.adapters.tables import (
    AcceptedEncounter,
    BulkJob,
    BulkResult,
    FacilityRow,
    Hl7Registration,
    Hl7Route,
    IdempotencyRecord,
    PayerRow,
    ProviderRow,
    RegistryAudit,
    TenantRow,
)
from claimflow_intake.domain.hl7 import Registration
from claimflow_intake.domain.registry import (
    Facility,
    Payer,
    PostalAddress,
    Provider,
    TenantDefaults,
    TenantRegistry,
)
from claimflow_shared.runtime.db import rows_by_encounter
from claimflow_shared.runtime.tables import TimelineEntry
from claimflow_shared.runtime.uow import UnitOfWork

DocumentKey = tuple[str, str]
"""(source system, document id)"""
EncounterKey = tuple[str, str]
"""(tenant id, encounter id)"""


def _now() -> datetime:
    return datetime.now(UTC)


# --- encounters ------------------------------------------------------------------------------


class EncounterRepository:
    """Accepted encounters, by source document or by encounter id; callers scope by tenant."""

    async def by_documents(
        self, tenant_id: str, keys: Iterable[DocumentKey]
    ) -> dict[DocumentKey, AcceptedEncounter]:
        raise NotImplementedError

    def add(self, values: dict[str, Any]) -> None:
        """A new encounter (its row's values), written with the others at commit."""
        raise NotImplementedError

    def changed(self, encounter: AcceptedEncounter) -> None:
        """An encounter read from this repository was changed."""

    async def load(self, keys: Iterable[EncounterKey], *, for_update: bool = False) -> None:
        """Look up many encounters at once, for `get` to answer from; `for_update` also locks
        them until the unit of work ends (a stage's events arrive on several partitions at
        once, and two batches must not both read a status and overwrite each other's)."""

    async def get(self, tenant_id: str, encounter_id: str) -> AcceptedEncounter | None:
        raise NotImplementedError

    async def list(self, tenant_id: str, *, after_id: int, limit: int) -> list[AcceptedEncounter]:
        raise NotImplementedError

    async def timeline(self, tenant_id: str, encounter_id: str) -> list[TimelineEntry]:
        raise NotImplementedError


class SqlEncounterRepository(EncounterRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self.session = session
        self.uow = uow
        self._by_id: dict[EncounterKey, AcceptedEncounter | None] = {}

    async def by_documents(
        self, tenant_id: str, keys: Iterable[DocumentKey]
    ) -> dict[DocumentKey, AcceptedEncounter]:
        wanted = set(keys)
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(AcceptedEncounter).where(
                AcceptedEncounter.tenant_id == tenant_id,
                AcceptedEncounter.document_id.in_({doc for _, doc in wanted}),
            )
        )
        found = {(r.source_system, r.document_id): r for r in rows.scalars()}
        return {key: row for key, row in found.items() if key in wanted}

    def add(self, values: dict[str, Any]) -> None:
        self.uow.insert(AcceptedEncounter, **values)

    def changed(self, encounter: AcceptedEncounter) -> None:
        self.session.add(encounter)

    async def load(self, keys: Iterable[EncounterKey], *, for_update: bool = False) -> None:
        wanted = set(keys) - set(self._by_id)
        self._by_id |= await rows_by_encounter(
            self.session, AcceptedEncounter, wanted, for_update=for_update
        )

    async def get(self, tenant_id: str, encounter_id: str) -> AcceptedEncounter | None:
        await self.load([(tenant_id, encounter_id)])
        return self._by_id[(tenant_id, encounter_id)]

    async def list(self, tenant_id: str, *, after_id: int, limit: int) -> list[AcceptedEncounter]:
        rows = await self.session.execute(
            select(AcceptedEncounter)
            .where(AcceptedEncounter.tenant_id == tenant_id, AcceptedEncounter.id > after_id)
            .order_by(AcceptedEncounter.id)
            .limit(limit)
        )
        return list(rows.scalars())

    async def timeline(self, tenant_id: str, encounter_id: str) -> list[TimelineEntry]:
        rows = await self.session.execute(
            select(TimelineEntry)
            .where(TimelineEntry.tenant_id == tenant_id, TimelineEntry.encounter_id == encounter_id)
            .order_by(TimelineEntry.at, TimelineEntry.id)
        )
        return list(rows.scalars())


class IdempotencyRepository:
    async def get(self, tenant_id: str, key: str) -> IdempotencyRecord | None:
        raise NotImplementedError

    def add(self, record: IdempotencyRecord) -> None:
        raise NotImplementedError


class SqlIdempotencyRepository(IdempotencyRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self.session = session
        self.uow = uow

    async def get(self, tenant_id: str, key: str) -> IdempotencyRecord | None:
        rows = await self.session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key
            )
        )
        return rows.scalars().first()

    def add(self, record: IdempotencyRecord) -> None:
        self.uow.add(record)


# --- tenant master data ----------------------------------------------------------------------


def payer_of(row: PayerRow) -> Payer:
    return Payer(
        payer_id=row.payer_id,
        name=row.name,
        aliases=tuple(row.aliases),
        claim_filing_indicator=row.claim_filing_indicator,
        timely_filing_days=row.timely_filing_days,
        member_id_source=row.member_id_source,  # type: ignore[arg-type]
    )


def _address(body: dict | None) -> PostalAddress | None:
    return PostalAddress(**body) if body else None


def _address_body(address: PostalAddress | None) -> dict | None:
    return dataclasses.asdict(address) if address else None


def provider_of(row: ProviderRow) -> Provider:
    return Provider(
        kind=row.kind,  # type: ignore[arg-type]
        npi=row.npi,
        name=row.name,
        first_name=row.first_name,
        last_name=row.last_name,
        tax_id=row.tax_id,
        taxonomy=row.taxonomy,
        address=_address(row.address),
        local_ids=tuple(row.local_ids),
        ref=row.id,
    )


def facility_of(row: FacilityRow) -> Facility:
    return Facility(
        name=row.name,
        local_ids=tuple(row.local_ids),
        npi=row.npi,
        address=_address(row.address),
        place_of_service=row.place_of_service,
        organization_id=row.organization_id,
        ref=row.id,
    )


def entry_body(entry: Payer | Provider | Facility | TenantDefaults) -> dict[str, Any]:
    """An entry as JSON for the audit trail and the admin API (without its row reference)."""
    body = dataclasses.asdict(entry)
    body.pop("ref", None)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in body.items()}


def provider_key(provider: Provider) -> str:
    return provider.npi or (provider.local_ids[0] if provider.local_ids else "")


class RegistryRepository:
    """A tenant's master data as one `TenantRegistry`."""

    async def load(self, tenant_id: str) -> TenantRegistry:
        raise NotImplementedError

    async def version(self, tenant_id: str) -> int:
        raise NotImplementedError

    async def save(
        self,
        before: TenantRegistry,
        after: TenantRegistry,
        *,
        principal: str,
        reason: str | None = None,
    ) -> TenantRegistry:
        """Write what differs between the two registries, one audit row per change, and move
        the tenant's version on; returns `after` as stored (new entries with their refs)."""
        raise NotImplementedError

    async def hl7_facilities(self, tenant_id: str) -> list[str]:
        raise NotImplementedError

    async def route_hl7(
        self, tenant_id: str, facilities: Sequence[str], *, principal: str
    ) -> list[str]:
        """Route these sending facilities (MSH-4) to the tenant; returns those that already
        belong to another tenant (and routes nothing then)."""
        raise NotImplementedError

    async def tenant_of_facility(self, facility: str) -> str | None:
        raise NotImplementedError

    async def audit(self, tenant_id: str, *, after_id: int, limit: int) -> list[RegistryAudit]:
        raise NotImplementedError


def normalise_facility(name: str) -> str:
    return name.strip().casefold()


class SqlRegistryRepository(RegistryRepository):
    # (database, tenant) → (version, registry): master data changes rarely and is read for
    # every message, so each replica keeps it until the tenant's version moves.
    _cache: ClassVar[dict[tuple[str, str], tuple[int, TenantRegistry]]] = {}

    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self.session = session
        self.uow = uow
        self._database = str(session.bind.url) if session.bind is not None else ""

    async def _tenant_row(self, tenant_id: str) -> TenantRow | None:
        rows = await self.session.execute(select(TenantRow).where(TenantRow.tenant_id == tenant_id))
        return rows.scalars().first()

    async def version(self, tenant_id: str) -> int:
        rows = await self.session.execute(
            select(TenantRow.version).where(TenantRow.tenant_id == tenant_id)
        )
        return rows.scalar() or 0

    async def load(self, tenant_id: str) -> TenantRegistry:
        version = await self.version(tenant_id)
        cached = self._cache.get((self._database, tenant_id))
        if cached is not None and cached[0] == version:
            return cached[1]
        registry = await self._read(tenant_id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[(self._database, tenant_id)] = (version, registry)
        return registry

    async def _read(self, tenant_id: str) -> TenantRegistry:
        tenant = await self._tenant_row(tenant_id)
        payers = await self.session.execute(
            select(PayerRow).where(PayerRow.tenant_id == tenant_id).order_by(PayerRow.id)
        )
        providers = await self.session.execute(
            select(ProviderRow).where(ProviderRow.tenant_id == tenant_id).order_by(ProviderRow.id)
        )
        facilities = await self.session.execute(
            select(FacilityRow).where(FacilityRow.tenant_id == tenant_id).order_by(FacilityRow.id)
        )
        defaults = TenantDefaults(
            billing_npi=tenant.billing_npi if tenant else None,
            place_of_service=tenant.place_of_service if tenant else None,
        )
        return TenantRegistry(
            tenant_id=tenant_id,
            payers=tuple(payer_of(r) for r in payers.scalars()),
            providers=tuple(provider_of(r) for r in providers.scalars()),
            facilities=tuple(facility_of(r) for r in facilities.scalars()),
            defaults=defaults,
        )

    async def save(
        self,
        before: TenantRegistry,
        after: TenantRegistry,
        *,
        principal: str,
        reason: str | None = None,
    ) -> TenantRegistry:
        tenant_id = after.tenant_id
        audit = _Auditor(self.uow, tenant_id, principal, reason)
        await self._save_payers(tenant_id, before, after, audit)
        providers = await self._save_providers(tenant_id, before, after, audit)
        facilities = await self._save_facilities(tenant_id, before, after, audit)
        tenant = await self._tenant_row(tenant_id)
        if tenant is None:
            tenant = TenantRow(tenant_id=tenant_id)
        if before.defaults != after.defaults:
            audit.change("tenant", "defaults", before.defaults, after.defaults)
            tenant.billing_npi = after.defaults.billing_npi
            tenant.place_of_service = after.defaults.place_of_service
        tenant.version += 1
        tenant.updated_at, tenant.updated_by = _now(), principal
        self.session.add(tenant)
        await self.session.flush()
        return dataclasses.replace(after, providers=providers, facilities=facilities)

    async def _save_payers(
        self, tenant_id: str, before: TenantRegistry, after: TenantRegistry, audit: _Auditor
    ) -> None:
        old = {p.payer_id.upper(): p for p in before.payers}
        new = {p.payer_id.upper(): p for p in after.payers}
        rows = await self.session.execute(select(PayerRow).where(PayerRow.tenant_id == tenant_id))
        stored = {r.payer_id.upper(): r for r in rows.scalars()}
        for key, payer in new.items():
            if old.get(key) == payer and key in stored:
                continue
            row = stored.get(key) or PayerRow(tenant_id=tenant_id, payer_id=payer.payer_id, name="")
            row.payer_id, row.name, row.aliases = payer.payer_id, payer.name, list(payer.aliases)
            row.claim_filing_indicator = payer.claim_filing_indicator
            row.timely_filing_days = payer.timely_filing_days
            row.member_id_source = payer.member_id_source
            row.updated_at = _now()
            self.session.add(row)
            audit.change("payer", payer.payer_id, old.get(key), payer)
        for key, payer in old.items():
            if key not in new:
                if key in stored:
                    await self.session.delete(stored[key])
                audit.change("payer", payer.payer_id, payer, None)

    async def _save_providers(
        self, tenant_id: str, before: TenantRegistry, after: TenantRegistry, audit: _Auditor
    ) -> tuple[Provider, ...]:
        rows = await self.session.execute(
            select(ProviderRow).where(ProviderRow.tenant_id == tenant_id)
        )
        stored = {r.id: r for r in rows.scalars()}
        old = {p.ref: p for p in before.providers if p.ref is not None}
        kept: set[int] = set()
        saved: list[tuple[Provider, ProviderRow]] = []
        for provider in after.providers:
            row = stored.get(provider.ref) if provider.ref is not None else None
            previous = old.get(provider.ref) if provider.ref is not None else None
            if row is not None:
                kept.add(row.id)  # type: ignore[arg-type]
                if previous == provider:
                    saved.append((provider, row))
                    continue
            else:
                row = ProviderRow(tenant_id=tenant_id, kind=provider.kind)
            row.kind, row.npi, row.name = provider.kind, provider.npi, provider.name
            row.first_name, row.last_name = provider.first_name, provider.last_name
            row.tax_id, row.taxonomy = provider.tax_id, provider.taxonomy
            row.address = _address_body(provider.address)
            row.local_ids = list(provider.local_ids)
            row.updated_at = _now()
            self.session.add(row)
            audit.change("provider", provider_key(provider), previous, provider)
            saved.append((provider, row))
        for ref, row in stored.items():
            if ref not in kept:
                await self.session.delete(row)
                gone = old.get(ref) or provider_of(row)
                audit.change("provider", provider_key(gone), gone, None)
        await self.session.flush()
        return tuple(dataclasses.replace(p, ref=row.id) for p, row in saved)

    async def _save_facilities(
        self, tenant_id: str, before: TenantRegistry, after: TenantRegistry, audit: _Auditor
    ) -> tuple[Facility, ...]:
        rows = await self.session.execute(
            select(FacilityRow).where(FacilityRow.tenant_id == tenant_id)
        )
        stored = {r.id: r for r in rows.scalars()}
        old = {f.ref: f for f in before.facilities if f.ref is not None}
        kept: set[int] = set()
        saved: list[tuple[Facility, FacilityRow]] = []
        for facility in after.facilities:
            row = stored.get(facility.ref) if facility.ref is not None else None
            previous = old.get(facility.ref) if facility.ref is not None else None
            if row is not None:
                kept.add(row.id)  # type: ignore[arg-type]
                if previous == facility:
                    saved.append((facility, row))
                    continue
            else:
                row = FacilityRow(tenant_id=tenant_id, name=facility.name)
            row.name, row.local_ids, row.npi = facility.name, list(facility.local_ids), facility.npi
            row.address = _address_body(facility.address)
            row.place_of_service, row.organization_id = (
                facility.place_of_service,
                facility.organization_id,
            )
            row.updated_at = _now()
            self.session.add(row)
            audit.change("facility", facility.name, previous, facility)
            saved.append((facility, row))
        for ref, row in stored.items():
            if ref not in kept:
                await self.session.delete(row)
                gone = old.get(ref) or facility_of(row)
                audit.change("facility", gone.name, gone, None)
        await self.session.flush()
        return tuple(dataclasses.replace(f, ref=row.id) for f, row in saved)

    async def hl7_facilities(self, tenant_id: str) -> list[str]:
        tenant = await self._tenant_row(tenant_id)
        return list(tenant.hl7_sending_facilities) if tenant else []

    async def route_hl7(
        self, tenant_id: str, facilities: Sequence[str], *, principal: str
    ) -> list[str]:
        wanted = {normalise_facility(f): f.strip() for f in facilities if f.strip()}
        rows = await self.session.execute(
            select(Hl7Route).where(Hl7Route.sending_facility.in_(set(wanted)))
        )
        taken = [r.sending_facility for r in rows.scalars() if r.tenant_id != tenant_id]
        if taken:
            return sorted(wanted[t] for t in taken)
        tenant = await self._tenant_row(tenant_id) or TenantRow(tenant_id=tenant_id)
        before = list(tenant.hl7_sending_facilities)
        await self.session.execute(delete(Hl7Route).where(Hl7Route.tenant_id == tenant_id))
        await self.session.flush()
        for normalised in wanted:
            self.session.add(Hl7Route(sending_facility=normalised, tenant_id=tenant_id))
        tenant.hl7_sending_facilities = sorted(wanted.values())
        tenant.version += 1
        tenant.updated_at, tenant.updated_by = _now(), principal
        self.session.add(tenant)
        if before != tenant.hl7_sending_facilities:
            self.uow.insert(
                RegistryAudit,
                tenant_id=tenant_id,
                principal=principal,
                action="updated",
                entity="tenant",
                key="hl7_sending_facilities",
                before={"hl7_sending_facilities": before},
                after={"hl7_sending_facilities": tenant.hl7_sending_facilities},
                at=_now(),
            )
        await self.session.flush()
        return []

    async def tenant_of_facility(self, facility: str) -> str | None:
        rows = await self.session.execute(
            select(Hl7Route.tenant_id).where(
                Hl7Route.sending_facility == normalise_facility(facility)
            )
        )
        return rows.scalar()

    async def audit(self, tenant_id: str, *, after_id: int, limit: int) -> list[RegistryAudit]:
        rows = await self.session.execute(
            select(RegistryAudit)
            .where(RegistryAudit.tenant_id == tenant_id, RegistryAudit.id > after_id)
            .order_by(RegistryAudit.id)
            .limit(limit)
        )
        return list(rows.scalars())


class _Auditor:
    """One audit row per entry a save created, updated or deleted."""

    def __init__(self, uow: UnitOfWork, tenant_id: str, principal: str, reason: str | None):
        self.uow, self.tenant_id, self.principal, self.reason = uow, tenant_id, principal, reason

    def change(self, entity: str, key: str, before: Any, after: Any) -> None:
        action = "created" if before is None else "deleted" if after is None else "updated"
        self.uow.insert(
            RegistryAudit,
            tenant_id=self.tenant_id,
            principal=self.principal,
            action=action,
            entity=entity,
            key=key[:200],
            before=entry_body(before) if before is not None else None,
            after=entry_body(after) if after is not None else None,
            reason=self.reason,
            at=_now(),
        )


# --- HL7 v2 registrations --------------------------------------------------------------------


class Hl7Repository:
    async def registration(self, tenant_id: str, key: str) -> Registration | None:
        raise NotImplementedError

    async def save_registration(self, tenant_id: str, registration: Registration) -> None:
        raise NotImplementedError


class SqlHl7Repository(Hl7Repository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self.session = session

    async def _row(self, tenant_id: str, key: str) -> Hl7Registration | None:
        rows = await self.session.execute(
            select(Hl7Registration).where(
                Hl7Registration.tenant_id == tenant_id, Hl7Registration.key == key
            )
        )
        return rows.scalars().first()

    async def registration(self, tenant_id: str, key: str) -> Registration | None:
        row = await self._row(tenant_id, key)
        return Registration.from_json(row.registration) if row else None

    async def save_registration(self, tenant_id: str, registration: Registration) -> None:
        row = await self._row(tenant_id, registration.key) or Hl7Registration(
            tenant_id=tenant_id, key=registration.key, registration=""
        )
        row.registration, row.updated_at = registration.to_json(), _now()
        self.session.add(row)


# --- bulk jobs -------------------------------------------------------------------------------


class BulkRepository:
    def add_job(self, job: BulkJob) -> None:
        raise NotImplementedError

    async def job(self, job_id: str, *, tenant_id: str | None = None) -> BulkJob | None:
        """A job (of this tenant, when one is named)."""
        raise NotImplementedError

    def changed(self, job: BulkJob) -> None:
        """A job read from this repository was changed."""

    async def jobs(self, tenant_id: str, *, limit: int) -> list[BulkJob]:
        raise NotImplementedError

    async def unfinished(self) -> list[BulkJob]:
        """Jobs received in full and not finished, oldest first (any tenant)."""
        raise NotImplementedError

    def add_results(self, results: Iterable[dict[str, Any]]) -> None:
        """Each record's result (a row's values), written set-wise at commit."""
        raise NotImplementedError

    async def seen_documents(self, job_id: str, document_ids: Iterable[str]) -> set[str]:
        """Which of these document ids earlier records of the job already had."""
        raise NotImplementedError

    async def results(
        self, job_id: str, *, status: str | None, after: int, limit: int
    ) -> list[BulkResult]:
        raise NotImplementedError


class SqlBulkRepository(BulkRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self.session = session
        self.uow = uow

    def add_job(self, job: BulkJob) -> None:
        self.session.add(job)

    async def job(self, job_id: str, *, tenant_id: str | None = None) -> BulkJob | None:
        query = select(BulkJob).where(BulkJob.job_id == job_id)
        if tenant_id is not None:
            query = query.where(BulkJob.tenant_id == tenant_id)
        return (await self.session.execute(query)).scalars().first()

    def changed(self, job: BulkJob) -> None:
        self.session.add(job)

    async def jobs(self, tenant_id: str, *, limit: int) -> list[BulkJob]:
        rows = await self.session.execute(
            select(BulkJob)
            .where(BulkJob.tenant_id == tenant_id)
            .order_by(BulkJob.id.desc())
            .limit(limit)
        )
        return list(rows.scalars())

    async def unfinished(self) -> list[BulkJob]:
        rows = await self.session.execute(
            select(BulkJob).where(BulkJob.status.in_(("queued", "running"))).order_by(BulkJob.id)
        )
        return list(rows.scalars())

    def add_results(self, results: Iterable[dict[str, Any]]) -> None:
        for result in results:
            self.uow.insert(BulkResult, **result)

    async def seen_documents(self, job_id: str, document_ids: Iterable[str]) -> set[str]:
        wanted = set(document_ids)
        if not wanted:
            return set()
        rows = await self.session.execute(
            select(BulkResult.document_id).where(
                BulkResult.job_id == job_id, BulkResult.document_id.in_(wanted)
            )
        )
        return {r for r in rows.scalars() if r is not None}

    async def results(
        self, job_id: str, *, status: str | None, after: int, limit: int
    ) -> list[BulkResult]:
        query = select(BulkResult).where(BulkResult.job_id == job_id, BulkResult.ordinal > after)
        if status:
            query = query.where(BulkResult.status == status)
        rows = await self.session.execute(query.order_by(BulkResult.ordinal).limit(limit))
        return list(rows.scalars())
