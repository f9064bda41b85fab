"""The admin API for a tenant's master data: `/v1/tenant` (defaults, HL7 sending facilities,
the audit trail), `/v1/payers`, `/v1/providers`, `/v1/facilities`. Every call acts for the
caller's tenant only (another tenant's entry answers 404), and every change is audited with
the authenticated principal. A change that would make the master data wrong is refused
whole (422, naming the field and the reason)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field

from claimflow_intake.adapters.repository import entry_body
from claimflow_intake.domain.registry import (
    Facility,
    Payer,
    PostalAddress,
    Provider,
    TenantDefaults,
)
from claimflow_intake.entrypoints.http import ProblemOut, problem_detail
from claimflow_intake.master_data import (
    AlreadyRegistered,
    MasterDataRefused,
    NotRegistered,
    add_facility,
    add_provider,
    delete_facility,
    delete_payer,
    delete_provider,
    put_payer,
    replace_facility,
    replace_provider,
    set_tenant,
)
from claimflow_intake.unit_of_work import SqlIntakeUnitOfWork
from claimflow_shared.events.models import PlainText
from claimflow_shared.runtime.http import AfterId
from claimflow_shared.runtime.tenancy import PrincipalDep, TenantDep
from claimflow_shared.runtime.uow import UnitsOfWork

T = TypeVar("T")

PayerId = Annotated[str, Path(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9]+$")]
EntryId = Annotated[int, Path(ge=1, le=2**62)]
Text = Annotated[str, Field(min_length=1, max_length=100)]
LocalId = Annotated[str, Field(min_length=1, max_length=255)]


class AddressIn(PlainText):
    line1: str = Field(min_length=1, max_length=55)
    line2: str | None = Field(default=None, max_length=55)
    city: str = Field(min_length=2, max_length=30)
    state: str = Field(min_length=2, max_length=2)
    postal_code: str = Field(pattern=r"^[0-9]{5}([0-9]{4})?$")

    def domain(self) -> PostalAddress:
        return PostalAddress(self.line1, self.city, self.state, self.postal_code, self.line2)


class PayerIn(PlainText):
    """A payer as the tenant bills it; `aliases` are the names its EHRs spell it with."""

    name: str = Field(min_length=1, max_length=60)
    aliases: list[Text] = Field(default_factory=list, max_length=50)
    claim_filing_indicator: str = Field(default="CI", min_length=2, max_length=2)
    timely_filing_days: int = Field(default=365, ge=1, le=3650)
    member_id_source: Literal["document", "patient-id"] = "document"


class PayerOut(BaseModel):
    payer_id: str
    name: str
    aliases: list[str]
    claim_filing_indicator: str
    timely_filing_days: int
    member_id_source: str


class ProviderIn(PlainText):
    """A billing organisation or a rendering practitioner: NPI, tax id (EIN), NUCC taxonomy,
    address, and the local identifiers (`system|value`) EHRs name it by."""

    kind: Literal["organization", "individual"]
    npi: str | None = Field(default=None, max_length=10)
    name: str | None = Field(default=None, max_length=60)
    first_name: str | None = Field(default=None, max_length=35)
    last_name: str | None = Field(default=None, max_length=60)
    tax_id: str | None = Field(default=None, max_length=9)
    taxonomy: str | None = Field(default=None, max_length=10)
    address: AddressIn | None = None
    local_ids: list[LocalId] = Field(default_factory=list, max_length=20)

    def domain(self) -> Provider:
        return Provider(
            kind=self.kind,
            npi=self.npi,
            name=self.name,
            first_name=self.first_name,
            last_name=self.last_name,
            tax_id=self.tax_id,
            taxonomy=self.taxonomy,
            address=self.address.domain() if self.address else None,
            local_ids=tuple(self.local_ids),
        )


class AddressOut(BaseModel):
    line1: str
    line2: str | None = None
    city: str
    state: str
    postal_code: str


class ProviderOut(BaseModel):
    """A registered provider; `can_bill` / `can_render` say whether it has what a claim
    needs of a billing organisation (NPI, tax id, address) or a rendering practitioner."""

    id: int
    kind: str
    npi: str | None
    name: str | None
    first_name: str | None
    last_name: str | None
    tax_id: str | None
    taxonomy: str | None
    address: AddressOut | None
    local_ids: list[str]
    can_bill: bool
    can_render: bool

    @classmethod
    def of(cls, provider: Provider) -> ProviderOut:
        return cls(
            id=provider.ref or 0,
            can_bill=provider.can_bill,
            can_render=provider.can_render,
            **entry_body(provider),
        )


class FacilityIn(PlainText):
    name: str = Field(min_length=1, max_length=60)
    local_ids: list[LocalId] = Field(default_factory=list, max_length=20)
    npi: str | None = Field(default=None, max_length=10)
    address: AddressIn | None = None
    place_of_service: str | None = Field(default=None, max_length=2)
    organization_id: str | None = Field(default=None, max_length=255)

    def domain(self) -> Facility:
        return Facility(
            name=self.name,
            local_ids=tuple(self.local_ids),
            npi=self.npi,
            address=self.address.domain() if self.address else None,
            place_of_service=self.place_of_service,
            organization_id=self.organization_id,
        )


class FacilityOut(BaseModel):
    id: int
    name: str
    local_ids: list[str]
    npi: str | None
    address: AddressOut | None
    place_of_service: str | None
    organization_id: str | None

    @classmethod
    def of(cls, facility: Facility) -> FacilityOut:
        return cls(id=facility.ref or 0, **entry_body(facility))


class TenantIn(PlainText):
    """Defaults, and the HL7 sending facilities (MSH-4) whose messages on the shared MLLP
    listener are this tenant's (left out: unchanged; a list replaces them)."""

    billing_npi: str | None = Field(default=None, max_length=10)
    place_of_service: str | None = Field(default=None, max_length=2)
    hl7_sending_facilities: list[Text] | None = Field(default=None, max_length=50)


class TenantOut(BaseModel):
    tenant_id: str
    billing_npi: str | None
    place_of_service: str | None
    hl7_sending_facilities: list[str]
    payers: int
    providers: int
    facilities: int
    version: int


class AuditOut(BaseModel):
    id: int
    at: datetime
    principal: str
    action: str
    entity: str
    key: str
    before: dict | None
    after: dict | None
    reason: str | None


async def _guarded(work: Awaitable[T]) -> T:
    """The master-data errors as HTTP answers."""
    try:
        return await work
    except MasterDataRefused as refused:
        raise HTTPException(
            422, problem_detail([ProblemOut.of(p) for p in refused.problems])
        ) from None
    except NotRegistered as missing:
        raise HTTPException(404, f"no such {missing}") from None
    except AlreadyRegistered as conflict:
        detail: dict[str, Any] = {"msg": str(conflict)}
        if isinstance(conflict.ref, int):
            detail["id"] = conflict.ref
        raise HTTPException(409, detail) from None


def router(uows: UnitsOfWork[SqlIntakeUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["master data"])

    async def registry(tenant: str):
        async with uows() as uow:
            return await uow.registry.load(tenant)

    # --- the tenant ---------------------------------------------------------------------------

    @api.get("/tenant", response_model=TenantOut)
    async def get_tenant(tenant: TenantDep) -> TenantOut:
        async with uows() as uow:
            loaded = await uow.registry.load(tenant)
            facilities = await uow.registry.hl7_facilities(tenant)
            version = await uow.registry.version(tenant)
        return TenantOut(
            tenant_id=tenant,
            billing_npi=loaded.defaults.billing_npi,
            place_of_service=loaded.defaults.place_of_service,
            hl7_sending_facilities=facilities,
            payers=len(loaded.payers),
            providers=len(loaded.providers),
            facilities=len(loaded.facilities),
            version=version,
        )

    @api.put("/tenant", response_model=TenantOut)
    async def put_tenant(body: TenantIn, tenant: TenantDep, principal: PrincipalDep) -> TenantOut:
        async with uows(principal=str(principal)) as uow:
            await _guarded(
                set_tenant(
                    uow=uow,
                    tenant_id=tenant,
                    defaults=TenantDefaults(body.billing_npi, body.place_of_service),
                    hl7_sending_facilities=body.hl7_sending_facilities,
                )
            )
        return await get_tenant(tenant)

    @api.get("/tenant/audit", response_model=list[AuditOut])
    async def get_audit(
        tenant: TenantDep,
        after_id: AfterId = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AuditOut]:
        """Every change to the tenant's master data: who, when, what it was and became."""
        async with uows() as uow:
            rows = await uow.registry.audit(tenant, after_id=after_id, limit=limit)
        return [AuditOut.model_validate(r, from_attributes=True) for r in rows]

    # --- payers -------------------------------------------------------------------------------

    @api.get("/payers", response_model=list[PayerOut])
    async def list_payers(tenant: TenantDep) -> list[PayerOut]:
        return [PayerOut(**entry_body(p)) for p in (await registry(tenant)).payers]

    @api.get("/payers/{payer_id}", response_model=PayerOut)
    async def get_payer(payer_id: PayerId, tenant: TenantDep) -> PayerOut:
        payers = (await registry(tenant)).payers
        found = [p for p in payers if p.payer_id.upper() == payer_id.upper()]
        if not found:
            raise HTTPException(404, "no such payer")
        return PayerOut(**entry_body(found[0]))

    @api.put("/payers/{payer_id}", response_model=PayerOut)
    async def put_payer_route(
        payer_id: PayerId, body: PayerIn, tenant: TenantDep, principal: PrincipalDep
    ) -> PayerOut:
        """Register the payer, or replace the one with this payer id."""
        payer = Payer(payer_id=payer_id, **{**body.model_dump(), "aliases": tuple(body.aliases)})
        async with uows(principal=str(principal)) as uow:
            saved = await _guarded(put_payer(uow=uow, tenant_id=tenant, payer=payer))
        return PayerOut(**entry_body(saved))

    @api.delete("/payers/{payer_id}", status_code=204, response_class=Response)
    async def delete_payer_route(
        payer_id: PayerId, tenant: TenantDep, principal: PrincipalDep
    ) -> Response:
        async with uows(principal=str(principal)) as uow:
            await _guarded(delete_payer(uow=uow, tenant_id=tenant, payer_id=payer_id))
        return Response(status_code=204)

    # --- providers ----------------------------------------------------------------------------

    @api.get("/providers", response_model=list[ProviderOut])
    async def list_providers(
        tenant: TenantDep, npi: Annotated[str | None, Query(max_length=10)] = None
    ) -> list[ProviderOut]:
        providers = (await registry(tenant)).providers
        return [ProviderOut.of(p) for p in providers if npi is None or p.npi == npi]

    @api.get("/providers/{provider_id}", response_model=ProviderOut)
    async def get_provider(provider_id: EntryId, tenant: TenantDep) -> ProviderOut:
        found = [p for p in (await registry(tenant)).providers if p.ref == provider_id]
        if not found:
            raise HTTPException(404, "no such provider")
        return ProviderOut.of(found[0])

    @api.post("/providers", status_code=201, response_model=ProviderOut)
    async def post_provider(
        body: ProviderIn, tenant: TenantDep, principal: PrincipalDep
    ) -> ProviderOut:
        """Register a provider; one whose NPI or local identifier is registered already is
        a conflict (409 naming that entry's id: replace it with PUT)."""
        async with uows(principal=str(principal)) as uow:
            saved = await _guarded(add_provider(uow=uow, tenant_id=tenant, provider=body.domain()))
        return ProviderOut.of(saved)

    @api.put("/providers/{provider_id}", response_model=ProviderOut)
    async def put_provider(
        provider_id: EntryId, body: ProviderIn, tenant: TenantDep, principal: PrincipalDep
    ) -> ProviderOut:
        async with uows(principal=str(principal)) as uow:
            saved = await _guarded(
                replace_provider(uow=uow, tenant_id=tenant, ref=provider_id, provider=body.domain())
            )
        return ProviderOut.of(saved)

    @api.delete("/providers/{provider_id}", status_code=204, response_class=Response)
    async def delete_provider_route(
        provider_id: EntryId, tenant: TenantDep, principal: PrincipalDep
    ) -> Response:
        async with uows(principal=str(principal)) as uow:
            await _guarded(delete_provider(uow=uow, tenant_id=tenant, ref=provider_id))
        return Response(status_code=204)

    # --- facilities ---------------------------------------------------------------------------

    @api.get("/facilities", response_model=list[FacilityOut])
    async def list_facilities(tenant: TenantDep) -> list[FacilityOut]:
        return [FacilityOut.of(f) for f in (await registry(tenant)).facilities]

    @api.post("/facilities", status_code=201, response_model=FacilityOut)
    async def post_facility(
        body: FacilityIn, tenant: TenantDep, principal: PrincipalDep
    ) -> FacilityOut:
        async with uows(principal=str(principal)) as uow:
            saved = await _guarded(add_facility(uow=uow, tenant_id=tenant, facility=body.domain()))
        return FacilityOut.of(saved)

    @api.put("/facilities/{facility_id}", response_model=FacilityOut)
    async def put_facility(
        facility_id: EntryId, body: FacilityIn, tenant: TenantDep, principal: PrincipalDep
    ) -> FacilityOut:
        async with uows(principal=str(principal)) as uow:
            saved = await _guarded(
                replace_facility(uow=uow, tenant_id=tenant, ref=facility_id, facility=body.domain())
            )
        return FacilityOut.of(saved)

    @api.delete("/facilities/{facility_id}", status_code=204, response_class=Response)
    async def delete_facility_route(
        facility_id: EntryId, tenant: TenantDep, principal: PrincipalDep
    ) -> Response:
        async with uows(principal=str(principal)) as uow:
            await _guarded(delete_facility(uow=uow, tenant_id=tenant, ref=facility_id))
        return Response(status_code=204)

    return api
