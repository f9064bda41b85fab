"""The denial work queue over HTTP: filter it, assign, note, act, and prepare appeal packets.
Every change is made as, and audited with, the authenticated principal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field

from claimflow_remittance.adapters.repository import DenialQuery
from claimflow_remittance.adapters.tables import DenialAuditRow, DenialItemRow, DenialNoteRow
from claimflow_remittance.denial_work import (
    ContactIn,
    assign_denial,
    note_denial,
    prepare_appeal_packet,
    work_denial,
)
from claimflow_remittance.domain.appeals import AppealPacketError, slots_for
from claimflow_remittance.domain.denial_queue import DenialActionError, DenialNotFound
from claimflow_remittance.domain.denials import CATEGORIES
from claimflow_remittance.entrypoints.params import MAX_MONEY, DayQuery
from claimflow_remittance.unit_of_work import SqlRemittanceUnitOfWork
from claimflow_shared.runtime.tenancy import PrincipalDep, TenantDep
from claimflow_shared.runtime.uow import UnitsOfWork

Status = Literal["open", "resubmitted", "appealed", "written-off", "billed-to-patient", "any"]


class DenialPublic(BaseModel):
    item_id: str
    claim_id: str
    encounter_id: str
    payer_id: str | None
    payer_name: str
    payer_claim_number: str | None
    category: str
    subcategory: str
    carcs: list[str]
    rarcs: list[str]
    denied_lines: list[int]
    denied_amount: str
    denied_on: date
    age_days: int
    partial: bool
    appealable: bool
    appeal_deadline: date | None
    recommended_action: str
    suggested_action: str
    status: str
    assignee: str | None

    @classmethod
    def of(cls, row: DenialItemRow, today: date) -> DenialPublic:
        return cls(
            **row.model_dump(include=set(cls.model_fields) - {"denied_amount", "age_days"}),
            denied_amount=f"{Decimal(row.denied_amount):.2f}",
            age_days=(today - row.denied_on).days,
        )


class NotePublic(BaseModel):
    at: datetime
    by: str
    text: str

    @classmethod
    def of(cls, row: DenialNoteRow) -> NotePublic:
        return cls(at=row.at, by=row.by, text=row.text)


class AuditPublic(BaseModel):
    at: datetime
    by: str
    what: str
    detail: str

    @classmethod
    def of(cls, row: DenialAuditRow) -> AuditPublic:
        return cls(at=row.at, by=row.by, what=row.what, detail=row.detail)


class DenialDetail(DenialPublic):
    notes: list[NotePublic]
    audit: list[AuditPublic]


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=128)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class ActionIn(BaseModel):
    action: Literal["correct-and-resubmit", "appeal", "write-off", "bill-patient"]
    reason: str = Field(default="", max_length=500)
    amount: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=2)
    corrections: list[dict] = Field(default_factory=list, max_length=50)


class ContactBody(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    address: list[Annotated[str, Field(max_length=120)]] = Field(default_factory=list, max_length=4)
    identifier: str = Field(default="", max_length=40)
    phone: str = Field(default="", max_length=30)

    def value(self) -> ContactIn:
        return ContactIn(self.name, tuple(self.address), self.identifier, self.phone)


class AppealPacketIn(BaseModel):
    arguments: dict[str, Annotated[str, Field(max_length=4000)]] = Field(
        default_factory=dict, max_length=20
    )
    attachments: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=50
    )
    practice: ContactBody | None = None
    payer: ContactBody | None = None


class SlotPublic(BaseModel):
    heading: str
    prompt: str


def _today() -> date:
    return datetime.now(UTC).date()


def _refused(exc: Exception) -> HTTPException:
    if isinstance(exc, DenialNotFound):
        return HTTPException(status_code=404, detail="denial item not found")
    if isinstance(exc, DenialActionError):
        return HTTPException(status_code=422, detail={"field": exc.field, "reason": exc.reason})
    return HTTPException(status_code=422, detail=str(exc))


def router(uows: UnitsOfWork[SqlRemittanceUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/denials", tags=["denials"])

    @api.get("", response_model=list[DenialPublic])
    async def queue(
        tenant: TenantDep,
        status: Status = "open",
        payer_id: str | None = None,
        category: Annotated[str | None, Query(description=", ".join(CATEGORIES))] = None,
        min_amount: Annotated[Decimal | None, Query(ge=0, le=MAX_MONEY)] = None,
        max_amount: Annotated[Decimal | None, Query(ge=0, le=MAX_MONEY)] = None,
        min_age_days: Annotated[int | None, Query(ge=0, le=36500)] = None,
        max_age_days: Annotated[int | None, Query(ge=0, le=36500)] = None,
        deadline_by: DayQuery = None,
        assignee: str | None = None,
        claim_id: str | None = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[DenialPublic]:
        """The tenant's denials, nearest appeal deadline first, then the most money."""
        today = _today()
        query = DenialQuery(
            tenant_id=tenant,
            statuses=() if status == "any" else (status,),
            payer_id=payer_id,
            category=category,
            min_amount=min_amount,
            max_amount=max_amount,
            denied_on_or_before=None if min_age_days is None else today - timedelta(min_age_days),
            denied_on_or_after=None if max_age_days is None else today - timedelta(max_age_days),
            deadline_by=deadline_by,
            assignee=assignee,
            claim_id=claim_id,
        )
        async with uows() as uow:
            rows = await uow.denials.items(query, offset=offset, limit=limit)
        return [DenialPublic.of(row, today) for row in rows]

    @api.get("/{item_id}", response_model=DenialDetail)
    async def detail(item_id: str, tenant: TenantDep) -> DenialDetail:
        async with uows() as uow:
            row = await uow.denials.get(tenant, item_id)
            if row is None:
                raise HTTPException(status_code=404, detail="denial item not found")
            notes = await uow.denials.notes(item_id)
            audit = await uow.denials.audit(item_id)
        return DenialDetail(
            **DenialPublic.of(row, _today()).model_dump(),
            notes=[NotePublic.of(n) for n in notes],
            audit=[AuditPublic.of(a) for a in audit],
        )

    @api.post("/{item_id}/assign", response_model=DenialPublic)
    async def assign(
        item_id: str, body: AssignIn, tenant: TenantDep, principal: PrincipalDep
    ) -> DenialPublic:
        try:
            async with uows(principal=str(principal)) as uow:
                row = await assign_denial(
                    uow, tenant_id=tenant, item_id=item_id, to=body.assignee, by=str(principal)
                )
        except (DenialNotFound, DenialActionError) as exc:
            raise _refused(exc) from exc
        return DenialPublic.of(row, _today())

    @api.post("/{item_id}/notes", response_model=DenialPublic, status_code=201)
    async def note(
        item_id: str, body: NoteIn, tenant: TenantDep, principal: PrincipalDep
    ) -> DenialPublic:
        try:
            async with uows(principal=str(principal)) as uow:
                row = await note_denial(
                    uow, tenant_id=tenant, item_id=item_id, text=body.text, by=str(principal)
                )
        except (DenialNotFound, DenialActionError) as exc:
            raise _refused(exc) from exc
        return DenialPublic.of(row, _today())

    @api.post("/{item_id}/actions", response_model=DenialPublic)
    async def act(
        item_id: str, body: ActionIn, tenant: TenantDep, principal: PrincipalDep
    ) -> DenialPublic:
        """Correct and resubmit (with line corrections), appeal, write off with a reason or
        bill the patient: published as `denial.worked` for the claims stage."""
        try:
            async with uows(principal=str(principal)) as uow:
                row = await work_denial(
                    uow,
                    tenant_id=tenant,
                    item_id=item_id,
                    action=body.action,
                    by=str(principal),
                    reason=body.reason,
                    amount=body.amount,
                    corrections=body.corrections,
                )
        except (DenialNotFound, DenialActionError) as exc:
            raise _refused(exc) from exc
        return DenialPublic.of(row, _today())

    @api.get("/{item_id}/appeal-slots", response_model=list[SlotPublic])
    async def appeal_slots(item_id: str, tenant: TenantDep) -> list[SlotPublic]:
        """The argument slots a biller fills for this denial's category."""
        async with uows() as uow:
            row = await uow.denials.get(tenant, item_id)
        if row is None:
            raise HTTPException(status_code=404, detail="denial item not found")
        return [SlotPublic(heading=s.heading, prompt=s.prompt) for s in slots_for(row.category)]

    @api.post(
        "/{item_id}/appeal-packet",
        response_class=Response,
        responses={200: {"content": {"application/pdf": {}}}},
    )
    async def appeal_packet(
        item_id: str, body: AppealPacketIn, tenant: TenantDep, principal: PrincipalDep
    ) -> Response:
        """The appeal packet as a PDF: claim facts, the denial reasons in words a payer
        reads, the arguments written into the slots, and the attachments list."""
        try:
            async with uows(principal=str(principal)) as uow:
                pdf = await prepare_appeal_packet(
                    uow,
                    tenant_id=tenant,
                    item_id=item_id,
                    arguments=body.arguments,
                    attachments=body.attachments,
                    by=str(principal),
                    practice=body.practice.value() if body.practice else None,
                    payer=body.payer.value() if body.payer else None,
                )
        except (DenialNotFound, DenialActionError, AppealPacketError) as exc:
            raise _refused(exc) from exc
        return Response(
            content=pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="appeal-{item_id[:12]}.pdf"'},
        )

    return api
