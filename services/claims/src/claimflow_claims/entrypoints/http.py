"""The claims service's HTTP API: search claims, one claim's whole story (lines, edits,
files, acknowledgments, payments, timeline) and the 837 it was sent in; a biller's
correct / void / release; fee schedule import; the stage summary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Response
from pydantic import BaseModel, Field

from claimflow_claims import commands
from claimflow_claims.adapters.tables import ClaimRecord, FeeScheduleRecord
from claimflow_claims.domain.fee_schedule import DEFAULT_PAYER
from claimflow_claims.domain.messages import claim_lines
from claimflow_claims.domain.states import ClaimState
from claimflow_claims.unit_of_work import SqlClaimsUnitOfWork
from claimflow_shared.events.models import ClaimLine, LineCorrection
from claimflow_shared.runtime.http import AfterId
from claimflow_shared.runtime.tenancy import PrincipalDep, TenantDep

_SUBMITTED_OR_LATER = {
    ClaimState.SUBMITTED,
    ClaimState.ACCEPTED,
    ClaimState.PAID,
    ClaimState.PARTIALLY_PAID,
    ClaimState.DENIED,
    ClaimState.REVERSED,
    ClaimState.APPEALED,
    ClaimState.CORRECTED,
    ClaimState.CLOSED,
}
PayerQuery = Annotated[str | None, Query(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9]+$")]


class ClaimPublic(BaseModel):
    id: int | None = Field(description="Position for `after_id` paging; none until stored")
    claim_id: str
    encounter_id: str
    sequence: int
    state: str
    claim_type: str
    frequency_code: str
    payer_id: str
    payer_responsibility: str
    total_charge: str
    paid: str | None
    period_start: date
    period_end: date
    findings: list[dict]
    submission_file: str | None
    payer_claim_number: str | None
    original_claim_id: str | None
    updated_at: datetime

    @classmethod
    def of(cls, r: ClaimRecord) -> ClaimPublic:
        """From a stored claim, or one this request just staged."""
        values = {name: getattr(r, name, None) for name in _PUBLIC_COLUMNS}
        return cls(
            **values,
            total_charge=f"{r.total_charge:.2f}",
            paid=None if r.paid is None else f"{r.paid:.2f}",
        )


_PUBLIC_COLUMNS = tuple(set(ClaimPublic.model_fields) - {"total_charge", "paid"})


class TimelineStep(BaseModel):
    at: datetime
    from_state: str | None
    to_state: str
    event: str
    actor: str
    reason: str | None


class Submission(BaseModel):
    """An interchange the claim was sent in, and what the 999 and 277CA said about it."""

    file_name: str
    interchange_control_number: int
    transaction_control_number: str
    ack_999: str
    ack_277ca: str | None
    codes: list[str]
    reasons: list[str]
    payer_claim_number: str | None
    at: datetime


class Payment(BaseModel):
    kind: str
    status: str
    status_code: str | None
    payer_claim_number: str | None
    paid: str
    allowed: str | None
    patient_responsibility: str | None
    adjustments: list[dict]
    rarcs: list[str]
    detail: dict
    at: datetime


class ClaimDetail(ClaimPublic):
    diagnoses: list[str]
    lines: list[ClaimLine]
    denial: dict | None
    submissions: list[Submission]
    payments: list[Payment]
    timeline: list[TimelineStep]
    audit: list[dict] = Field(
        description="The timeline in the shape of the first claims API (from, to, ...)"
    )
    related_claims: list[str] = Field(description="The encounter's other claims")


class ClaimsSummary(BaseModel):
    by_state: dict[str, int]
    submitted: int


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="Why, for the audit trail")


class Correction(Reason):
    corrections: list[LineCorrection] = Field(default_factory=list, max_length=50)


class FeeSchedulePublic(BaseModel):
    payer_id: str | None = Field(description="None: the tenant's schedule for every payer")
    name: str
    version: int
    row_count: int
    imported_by: str
    imported_at: datetime

    @classmethod
    def of(cls, r: FeeScheduleRecord) -> FeeSchedulePublic:
        return cls(
            payer_id=None if r.payer_id == DEFAULT_PAYER else r.payer_id,
            name=r.name,
            version=r.version,
            row_count=r.row_count,
            imported_by=r.imported_by,
            imported_at=r.imported_at,
        )


class FeeRowPublic(BaseModel):
    code_system: str
    code: str
    modifier: str
    unit_price: str
    effective_date: date | None
    end_date: date | None


def _refused(exc: commands.CommandRefused) -> HTTPException:
    return HTTPException(status_code=exc.status, detail=str(exc))


def router(uows: Callable[..., SqlClaimsUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["claims"])

    @api.get("/claims", response_model=list[ClaimPublic])
    async def search_claims(
        tenant: TenantDep,
        state: ClaimState | None = None,
        payer_id: PayerQuery = None,
        claim_type: Annotated[str | None, Query(pattern=r"^837[PI]$")] = None,
        encounter_id: Annotated[str | None, Query(max_length=64)] = None,
        service_from: date | None = None,
        service_to: date | None = None,
        after_id: AfterId = 0,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 100_000,
    ) -> list[ClaimPublic]:
        """The tenant's claims by state, payer, claim type, encounter and dates of service
        (a claim matches when its service period overlaps [service_from, service_to])."""
        async with uows() as uow:
            rows = await uow.claims.search(
                tenant,
                state=state.value if state else None,
                payer_id=payer_id,
                claim_type=claim_type,
                encounter_id=encounter_id,
                service_from=service_from,
                service_to=service_to,
                after_id=after_id,
                limit=limit,
            )
        return [ClaimPublic.of(r) for r in rows]

    @api.get("/claims/{claim_id}", response_model=ClaimDetail)
    async def get_claim(claim_id: str, tenant: TenantDep) -> ClaimDetail:
        async with uows() as uow:
            record = await uow.claims.get(tenant, claim_id)
            if record is None:
                raise HTTPException(status_code=404, detail="claim not found")
            audit = await uow.claims.audit_trail(tenant, claim_id)
            payments = await uow.claims.payments_of(tenant, claim_id)
            files = await uow.claims.submissions_of(tenant, claim_id)
            related = await uow.claims.of_encounter(tenant, record.encounter_id)
            claim = await uow.claims.claim_of(record)
        return ClaimDetail(
            **ClaimPublic.of(record).model_dump(),
            diagnoses=list(claim.diagnoses),
            lines=claim_lines(claim),
            denial=record.denial,
            submissions=[Submission.model_validate(f, from_attributes=True) for f in files],
            payments=[_payment(p) for p in payments],
            timeline=[TimelineStep.model_validate(a, from_attributes=True) for a in audit],
            audit=[
                {
                    "at": a.at.isoformat(),
                    "from": a.from_state,
                    "to": a.to_state,
                    "event": a.event,
                    "actor": a.actor,
                    "reason": a.reason,
                }
                for a in audit
            ],
            related_claims=[c.claim_id for c in related if c.claim_id != claim_id],
        )

    @api.get(
        "/claims/{claim_id}/x12",
        response_class=Response,
        responses={200: {"content": {"application/edi-x12": {}}}},
    )
    async def claim_interchange(
        claim_id: str,
        tenant: TenantDep,
        file_name: Annotated[str | None, Query(max_length=120)] = None,
    ) -> Response:
        """The 837 interchange the claim was sent in (the latest one, or `file_name`)."""
        async with uows() as uow:
            record = await uow.claims.get(tenant, claim_id)
            if record is None:
                raise HTTPException(status_code=404, detail="claim not found")
            sent = [s.file_name for s in await uow.claims.submissions_of(tenant, claim_id)]
            if record.submission_file and record.submission_file not in sent:
                sent.append(record.submission_file)  # in a file not answered (or refused)
            wanted = file_name or (sent[-1] if sent else None)
            if wanted is None or wanted not in sent:
                raise HTTPException(status_code=404, detail="the claim was not sent in a file")
            file = await uow.claims.file(wanted)
        if file is None:
            raise HTTPException(status_code=404, detail="the claim was not sent in a file")
        return Response(
            content=file.content,
            media_type="application/edi-x12",
            headers={"Content-Disposition": f'attachment; filename="{file.file_name}"'},
        )

    @api.post("/claims/{claim_id}/correct", response_model=ClaimPublic)
    async def correct(
        claim_id: str, body: Correction, tenant: TenantDep, principal: PrincipalDep
    ) -> ClaimPublic:
        """Correct a claim: edited and scrubbed again if the payer never took it, else
        replaced by a frequency-7 claim; answers with the claim that goes on."""
        try:
            async with uows(principal=str(principal)) as uow:
                record = await commands.correct_claim(
                    uow,
                    tenant_id=tenant,
                    claim_id=claim_id,
                    corrections=body.corrections,
                    reason=body.reason,
                    principal=str(principal),
                )
        except commands.CommandRefused as exc:
            raise _refused(exc) from None
        return ClaimPublic.of(record)

    @api.post("/claims/{claim_id}/void", response_model=ClaimPublic)
    async def void(
        claim_id: str, body: Reason, tenant: TenantDep, principal: PrincipalDep
    ) -> ClaimPublic:
        """Void a claim: cancelled if the payer never took it, else a frequency-8 claim
        (answered with that void claim)."""
        try:
            async with uows(principal=str(principal)) as uow:
                record = await commands.void(
                    uow,
                    tenant_id=tenant,
                    claim_id=claim_id,
                    reason=body.reason,
                    principal=str(principal),
                )
        except commands.CommandRefused as exc:
            raise _refused(exc) from None
        return ClaimPublic.of(record)

    @api.post("/claims/{claim_id}/release", response_model=ClaimPublic)
    async def release(
        claim_id: str, body: Reason, tenant: TenantDep, principal: PrincipalDep
    ) -> ClaimPublic:
        """Release a held or rejected claim as it is, overriding the edits it failed."""
        try:
            async with uows(principal=str(principal)) as uow:
                record = await commands.release(
                    uow,
                    tenant_id=tenant,
                    claim_id=claim_id,
                    reason=body.reason,
                    principal=str(principal),
                )
        except commands.CommandRefused as exc:
            raise _refused(exc) from None
        return ClaimPublic.of(record)

    @api.get("/summary", response_model=ClaimsSummary)
    async def summary(tenant: TenantDep) -> ClaimsSummary:
        """Claims of the tenant per state, and how many reached the clearinghouse."""
        async with uows() as uow:
            by_state = await uow.claims.count_by_state(tenant)
        submitted = sum(n for s, n in by_state.items() if s in _SUBMITTED_OR_LATER)
        return ClaimsSummary(by_state=by_state, submitted=submitted)

    @api.put(
        "/fee-schedules",
        response_model=FeeSchedulePublic,
        openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    )
    async def import_fee_schedule(
        tenant: TenantDep,
        principal: PrincipalDep,
        body: Annotated[bytes, Body(media_type="text/csv")],
        payer_id: PayerQuery = None,
        name: Annotated[str, Query(min_length=1, max_length=100)] = "fee schedule",
    ) -> FeeSchedulePublic:
        """Replace the tenant's fee schedule for `payer_id` (none: every payer without its
        own) with a CSV: code_system,code,modifier,unit_price[,effective_date,end_date,
        category]. A file with any problem changes nothing; every problem is named."""
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise HTTPException(status_code=422, detail="the file is not UTF-8 text") from None
        try:
            async with uows(principal=str(principal)) as uow:
                record = await commands.import_fee_schedule(
                    uow,
                    tenant_id=tenant,
                    payer_id=payer_id or DEFAULT_PAYER,
                    name=name,
                    text=text,
                    principal=str(principal),
                )
        except commands.InvalidFeeSchedule as exc:
            raise HTTPException(
                status_code=422,
                detail={
                    "message": str(exc),
                    "problems": [
                        {"line": p.line, "column": p.column, "message": p.message}
                        for p in exc.problems[:1000]
                    ],
                },
            ) from None
        return FeeSchedulePublic.of(record)

    @api.get("/fee-schedules", response_model=list[FeeSchedulePublic])
    async def fee_schedules(tenant: TenantDep) -> list[FeeSchedulePublic]:
        async with uows() as uow:
            return [FeeSchedulePublic.of(r) for r in await uow.fees.schedules(tenant)]

    @api.get("/fee-schedules/rows", response_model=list[FeeRowPublic])
    async def fee_schedule_rows(tenant: TenantDep, payer_id: PayerQuery = None) -> list:
        wanted = payer_id or DEFAULT_PAYER
        async with uows() as uow:
            found = [r for r in await uow.fees.schedules(tenant) if r.payer_id == wanted]
            if not found or found[0].id is None:
                raise HTTPException(status_code=404, detail="no fee schedule for this payer")
            rows = await uow.fees.rows_of(found[0].id)
        return [
            FeeRowPublic(
                code_system=r.code_system,
                code=r.code,
                modifier=r.modifier,
                unit_price=_price(r.unit_price),
                effective_date=r.effective_date,
                end_date=r.end_date,
            )
            for r in rows
        ]

    return api


def _price(value: Decimal) -> str:
    cents = value.quantize(Decimal("0.01"))
    return f"{cents}" if cents == value else f"{value.normalize():f}"


def _payment(p: Any) -> Payment:
    def text(value):  # type: ignore[no-untyped-def]
        return None if value is None else f"{value:.2f}"

    return Payment(
        kind=p.kind,
        status=p.status,
        status_code=p.status_code,
        payer_claim_number=p.payer_claim_number,
        paid=f"{p.paid:.2f}",
        allowed=text(p.allowed),
        patient_responsibility=text(p.patient_responsibility),
        adjustments=p.adjustments,
        rarcs=p.rarcs,
        detail=p.detail,
        at=p.at,
    )
