"""The coding service's HTTP API: the coder worklist (list, claim, accept, correct, query the
provider, record the answer), one encounter's coding with its HCC categories, statement
coding for people and scripts (`claimflow code`), per-tenant settings, the summary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from claimflow_coding import commands
from claimflow_coding.adapters.repository import WorklistFilter
from claimflow_coding.adapters.tables import CodingAction, EncounterCoding, WorklistItem
from claimflow_coding.commands import Caller
from claimflow_coding.domain.cac import statement_result
from claimflow_coding.domain.coding import age_on
from claimflow_coding.domain.worklist import WAITING, Decision, ItemStatus, LineInput, WorklistError
from claimflow_coding.unit_of_work import SqlCodingUnitOfWork
from claimflow_shared.events import (
    CodedDiagnosis,
    CodedServiceLine,
    DiagnosisCandidates,
    DocumentedDiagnosis,
    DocumentedProcedure,
    QueryReason,
    RiskAdjustmentCategory,
)
from claimflow_shared.events.models import Contract
from claimflow_shared.runtime.http import MAX_ROW_ID, AfterId
from claimflow_shared.runtime.tables import utcnow
from claimflow_shared.runtime.tenancy import OperatorDep, Principal, PrincipalDep, TenantDep

MAX_TEXT = 1000
ItemId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
HccFilter = Annotated[
    str | None,
    Query(pattern=r"^(any|HCC[0-9]{1,4})$", description="A CMS-HCC category, or any"),
]


# --- response models ----------------------------------------------------------------------


class WorklistItemPublic(BaseModel):
    id: int
    tenant_id: str
    encounter_id: str
    revision: int
    status: str
    rules: list[str]
    reasons: list[QueryReason]
    payer_id: str
    threshold: float
    raised_at: datetime
    age_minutes: int
    claimed_by: str | None
    claimed_at: datetime | None

    @classmethod
    def of(cls, item: WorklistItem, now: datetime) -> WorklistItemPublic:
        raised = (
            item.raised_at if item.raised_at.tzinfo else item.raised_at.replace(tzinfo=now.tzinfo)
        )
        return cls(
            id=item.id or 0,
            tenant_id=item.tenant_id,
            encounter_id=item.encounter_id,
            revision=item.revision,
            status=item.status,
            rules=[r for r in item.rules.split(",") if r],
            reasons=[QueryReason.model_validate(r) for r in item.reasons],
            payer_id=item.payer_id,
            threshold=item.threshold,
            raised_at=item.raised_at,
            age_minutes=max(0, int((now - raised).total_seconds() // 60)),
            claimed_by=item.claimed_by,
            claimed_at=item.claimed_at,
        )


class ActionPublic(BaseModel):
    action: str
    principal: str
    at: datetime
    before: dict[str, Any]
    after: dict[str, Any]
    note: str | None

    @classmethod
    def of(cls, action: CodingAction) -> ActionPublic:
        return cls(
            action=action.action,
            principal=action.principal,
            at=action.at,
            before=action.before,
            after=action.after,
            note=action.note,
        )


class WorklistItemDetail(WorklistItemPublic):
    """An item with what the coder needs to decide: the documented diagnoses and services,
    the patient's age and sex (for the edits; no name or identifiers), the suggestion with
    ranked candidates, the provider query, and the audit trail."""

    patient_age: int | None
    patient_sex: str
    documented_diagnoses: list[DocumentedDiagnosis]
    documented_procedures: list[DocumentedProcedure]
    suggested_diagnoses: list[CodedDiagnosis]
    suggested_lines: list[CodedServiceLine]
    candidates: list[DiagnosisCandidates]
    hcc_categories: list[RiskAdjustmentCategory]
    provider_query: str | None
    provider_answer: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    actions: list[ActionPublic]


class CodingOutcome(BaseModel):
    encounter_id: str
    status: str
    revision: int
    diagnoses: list[str]
    service_lines: list[dict[str, Any]]
    hcc_categories: list[RiskAdjustmentCategory]
    query_rules: list[str]
    coded_by: str
    decided_at: datetime
    worklist_item_id: int | None = None

    @classmethod
    def of(cls, row: EncounterCoding, item_id: int | None = None) -> CodingOutcome:
        return cls(
            encounter_id=row.encounter_id,
            status=row.status,
            revision=row.revision,
            diagnoses=row.diagnoses,
            service_lines=row.service_lines,
            hcc_categories=row.hcc_categories,
            query_rules=row.query_rules,
            coded_by=row.coded_by,
            decided_at=row.decided_at,
            worklist_item_id=item_id,
        )


class CodingOutcomeListed(CodingOutcome):
    id: int


class CodingSummary(BaseModel):
    coded: int
    query: int
    worklist: dict[str, int]


class CandidatePublic(BaseModel):
    code: str = Field(examples=["E11.65"], description="ICD-10-CM, with the dot")
    description: str
    confidence: float
    evidence: list[str] = Field(default_factory=list)


class StatementResult(BaseModel):
    text: str
    candidates: list[CandidatePublic]
    decision: Literal["auto", "query"]
    reasons: list[str]


class CodingSettingsPublic(BaseModel):
    tenant_id: str
    auto_code_threshold: float
    default: bool = Field(description="True when the tenant uses the service default")
    updated_by: str | None = None
    updated_at: datetime | None = None


# --- request bodies (contracts: text with control characters is refused at the edge) -------


Note = Annotated[str | None, Field(default=None, max_length=500)]
Rules = Annotated[
    list[Annotated[str, Field(max_length=40)]], Field(default_factory=list, max_length=20)
]


class LineBody(Contract):
    code_system: Literal["CPT", "HCPCS"]
    code: str = Field(min_length=5, max_length=5)
    modifiers: list[Annotated[str, Field(pattern=r"^[0-9A-Z]{2}$")]] = Field(
        default_factory=list, max_length=4
    )
    units: int = Field(default=1, ge=1, le=999)
    diagnosis_pointers: list[int] = Field(min_length=1, max_length=4)
    service_date: date | None = None

    def line(self) -> LineInput:
        return LineInput(
            code_system=self.code_system,
            code=self.code.upper(),
            diagnosis_pointers=self.diagnosis_pointers,
            modifiers=tuple(self.modifiers),
            units=self.units,
            service_date=self.service_date,
        )


Codes = list[Annotated[str, Field(min_length=3, max_length=8)]]


class ClaimBody(Contract):
    take_over: bool = Field(default=False, description="Take an item another coder holds")


class AcceptBody(Contract):
    revision: int | None = Field(default=None, ge=1, description="The revision you reviewed")
    overrides: Rules
    note: Note


class CorrectBody(AcceptBody):
    diagnoses: Codes = Field(min_length=1, max_length=12, description="Final codes in order")
    service_lines: list[LineBody] | None = Field(
        default=None, max_length=50, description="Omit to keep the suggested lines"
    )


class QueryBody(Contract):
    question: str = Field(min_length=1, max_length=2000)


class AnswerBody(Contract):
    answer: str = Field(min_length=1, max_length=2000)
    resolve: Literal["none", "accept", "correct"] = Field(
        default="none",
        description="none: back to the coder; accept: the suggestion stands; correct: the "
        "codes below",
    )
    diagnoses: Codes | None = Field(default=None, max_length=12)
    service_lines: list[LineBody] | None = Field(default=None, max_length=50)
    overrides: Rules
    note: Note


class ThresholdBody(Contract):
    auto_code_threshold: float = Field(ge=0, le=1)
    note: Note


class CodeBody(Contract):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    threshold: float | None = Field(default=None, ge=0, le=1)


class CodeBatchBody(Contract):
    statements: list[Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]] = Field(
        min_length=1, max_length=1000
    )
    threshold: float | None = Field(default=None, ge=0, le=1)


# --- routes -------------------------------------------------------------------------------


def _caller(principal: Principal) -> Caller:
    # A tenant key acts for its tenant; an operator for the tenant it names in X-Tenant-ID,
    # or across tenants (the coder pool of a billing firm) when it names none.
    return Caller(str(principal), principal.tenant_id)


def _http(error: WorklistError) -> HTTPException:
    status = {"not-found": 404, "conflict": 409}.get(error.kind, 422)
    return HTTPException(status_code=status, detail=f"{error.field}: {error.reason}")


def _decision(body: AcceptBody, *, method: str = "coder") -> Decision:
    lines = None
    diagnoses = None
    if isinstance(body, CorrectBody):
        diagnoses = body.diagnoses
        lines = [x.line() for x in body.service_lines] if body.service_lines is not None else None
    return Decision(diagnoses, lines, tuple(body.overrides), body.note, method)


def router(uows: Callable[..., SqlCodingUnitOfWork], *, default_threshold: float) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["coding"])

    async def detail(item_id: int, caller: Caller) -> WorklistItemDetail:
        async with uows() as uow:
            item = await uow.worklist.get(item_id, tenant_id=caller.tenant_id)
            if item is None:
                raise HTTPException(status_code=404, detail="item_id: no such worklist item")
            actions = await uow.worklist.actions(item.tenant_id, item.encounter_id)
        now = utcnow()
        suggestion = item.suggestion
        documented = item.documented
        patient = documented["patient"]
        return WorklistItemDetail(
            **WorklistItemPublic.of(item, now).model_dump(),
            patient_age=age_on(
                date.fromisoformat(patient["birth_date"]),
                date.fromisoformat(documented["period_start"]),
            ),
            patient_sex=patient["sex"],
            documented_diagnoses=documented["diagnoses"],
            documented_procedures=documented["procedures"],
            suggested_diagnoses=suggestion.get("suggested_diagnoses", []),
            suggested_lines=suggestion.get("suggested_lines", []),
            candidates=suggestion.get("candidates", []),
            hcc_categories=suggestion.get("hcc_categories", []),
            provider_query=item.provider_query,
            provider_answer=item.provider_answer,
            resolved_by=item.resolved_by,
            resolved_at=item.resolved_at,
            actions=[ActionPublic.of(a) for a in actions],
        )

    async def command(principal: Principal, item_id: int, run) -> WorklistItemDetail:
        caller = _caller(principal)
        try:
            async with uows(principal=str(principal)) as uow:
                await run(uow, caller)
        except WorklistError as error:
            raise _http(error) from error
        return await detail(item_id, caller)

    @api.get("/worklist", response_model=list[WorklistItemPublic])
    async def worklist(
        principal: PrincipalDep,
        tenant: Annotated[str | None, Query(max_length=64, description="Operators only")] = None,
        status: Annotated[list[ItemStatus] | None, Query()] = None,
        rule: Annotated[str | None, Query(max_length=40, pattern=r"^[A-Z0-9:-]+$")] = None,
        payer: Annotated[str | None, Query(max_length=80)] = None,
        min_age_minutes: Annotated[int | None, Query(ge=0, le=10_000_000)] = None,
        max_age_minutes: Annotated[int | None, Query(ge=0, le=10_000_000)] = None,
        claimed_by: Annotated[str | None, Query(max_length=200)] = None,
        hcc: HccFilter = None,
        after_id: AfterId = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[WorklistItemPublic]:
        """Encounters waiting on a coder, oldest first, filtered by tenant, how long they
        have waited, the rule that raised them, payer, status or holder; the next page
        starts after the last id of this one (`after_id`)."""
        scope = principal.tenant_id
        if tenant is not None:
            if principal.role != "operator" and tenant != scope:
                return []
            scope = tenant
        now = utcnow()
        view = WorklistFilter(
            tenant_id=scope,
            statuses=tuple(s.value for s in (status or WAITING)),
            rule=rule,
            payer_id=payer,
            raised_before=now - timedelta(minutes=min_age_minutes)
            if min_age_minutes is not None
            else None,
            raised_after=now - timedelta(minutes=max_age_minutes)
            if max_age_minutes is not None
            else None,
            claimed_by=claimed_by,
            hcc=hcc,
            after_id=after_id,
            limit=limit,
        )
        async with uows() as uow:
            rows = await uow.worklist.list(view)
        return [WorklistItemPublic.of(r, now) for r in rows]

    @api.get("/worklist/{item_id}", response_model=WorklistItemDetail)
    async def worklist_item(item_id: ItemId, principal: PrincipalDep) -> WorklistItemDetail:
        return await detail(item_id, _caller(principal))

    @api.post("/worklist/{item_id}/claim", response_model=WorklistItemDetail)
    async def claim(
        item_id: ItemId, principal: PrincipalDep, body: ClaimBody | None = None
    ) -> WorklistItemDetail:
        """Take the item: only its holder may decide it, query the provider or release it."""
        take_over = bool(body and body.take_over)
        return await command(
            principal,
            item_id,
            lambda uow, caller: commands.claim_item(
                uow=uow, item_id=item_id, caller=caller, take_over=take_over
            ),
        )

    @api.post("/worklist/{item_id}/release", response_model=WorklistItemDetail)
    async def release(item_id: ItemId, principal: PrincipalDep) -> WorklistItemDetail:
        return await command(
            principal,
            item_id,
            lambda uow, caller: commands.release_item(uow=uow, item_id=item_id, caller=caller),
        )

    @api.post("/worklist/{item_id}/accept", response_model=WorklistItemDetail)
    async def accept(
        item_id: ItemId, principal: PrincipalDep, body: AcceptBody | None = None
    ) -> WorklistItemDetail:
        """The suggested codes stand: checked by the edits and sent on as encounter.coded."""
        body = body or AcceptBody()
        return await command(
            principal,
            item_id,
            lambda uow, caller: commands.decide_item(
                uow=uow,
                item_id=item_id,
                caller=caller,
                decision=_decision(body),
                revision=body.revision,
            ),
        )

    @api.post("/worklist/{item_id}/correct", response_model=WorklistItemDetail)
    async def correct(
        item_id: ItemId, principal: PrincipalDep, body: CorrectBody
    ) -> WorklistItemDetail:
        """The coder's codes replace the suggestion: checked by the edits (an error can be
        overridden by its rule name with a note) and sent on as encounter.coded."""
        return await command(
            principal,
            item_id,
            lambda uow, caller: commands.decide_item(
                uow=uow,
                item_id=item_id,
                caller=caller,
                decision=_decision(body),
                revision=body.revision,
            ),
        )

    @api.post("/worklist/{item_id}/query-provider", response_model=WorklistItemDetail)
    async def query_provider(
        item_id: ItemId, principal: PrincipalDep, body: QueryBody
    ) -> WorklistItemDetail:
        """Send a physician query: the item waits for the answer."""
        return await command(
            principal,
            item_id,
            lambda uow, caller: commands.query_provider(
                uow=uow, item_id=item_id, caller=caller, question=body.question
            ),
        )

    @api.post("/worklist/{item_id}/answer", response_model=WorklistItemDetail)
    async def answer(
        item_id: ItemId, principal: PrincipalDep, body: AnswerBody
    ) -> WorklistItemDetail:
        """Record the provider's answer; with `resolve` accept or correct, the encounter
        flows on at once."""
        decision = None
        if body.resolve == "accept":
            decision = Decision(None, None, tuple(body.overrides), body.note, "provider-answer")
        elif body.resolve == "correct":
            if not body.diagnoses:
                raise HTTPException(
                    status_code=422, detail="diagnoses: required when resolve is correct"
                )
            lines = [x.line() for x in body.service_lines] if body.service_lines else None
            decision = Decision(
                body.diagnoses, lines, tuple(body.overrides), body.note, "provider-answer"
            )
        return await command(
            principal,
            item_id,
            lambda uow, caller: commands.answer_query(
                uow=uow, item_id=item_id, caller=caller, answer=body.answer, decision=decision
            ),
        )

    @api.get("/encounters/{encounter_id}", response_model=CodingOutcome)
    async def coding_outcome(
        encounter_id: Annotated[str, Path(max_length=64)], tenant: TenantDep
    ) -> CodingOutcome:
        """How the encounter is coded now (final codes, HCC categories), or why it waits."""
        async with uows() as uow:
            row = await uow.codings.get(tenant, encounter_id)
            item = await uow.worklist.for_encounter(tenant, encounter_id)
        if row is None:
            raise HTTPException(status_code=404, detail="encounter_id: not coded here")
        return CodingOutcome.of(row, item.id if item else None)

    @api.get("/encounters", response_model=list[CodingOutcomeListed])
    async def codings(
        tenant: TenantDep,
        status: Annotated[Literal["coded", "query"] | None, Query()] = None,
        hcc: HccFilter = None,
        after_id: AfterId = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[CodingOutcomeListed]:
        """The tenant's encounters as coded now, in id order; `hcc` narrows to those whose
        final codes map to a CMS-HCC category (the risk-adjustment coders' review)."""
        async with uows() as uow:
            rows = await uow.codings.list(
                tenant, status=status, hcc=hcc, after_id=after_id, limit=limit
            )
        return [
            CodingOutcomeListed(id=row.id or 0, **CodingOutcome.of(row).model_dump())
            for row in rows
        ]

    @api.get("/summary", response_model=CodingSummary)
    async def summary(tenant: TenantDep) -> CodingSummary:
        """How many of the tenant's encounters are coded, wait on a query, and the worklist
        by status."""
        async with uows() as uow:
            counts = await uow.codings.counts(tenant)
            items = await uow.worklist.counts(tenant)
        return CodingSummary(
            coded=counts.get("coded", 0), query=counts.get("query", 0), worklist=items
        )

    async def threshold_for(principal: Principal, asked: float | None) -> float:
        if asked is not None:
            return asked
        if principal.tenant_id is None:
            return default_threshold
        async with uows() as uow:
            own = await uow.settings.threshold(principal.tenant_id)
        return default_threshold if own is None else own

    @api.post("/code", response_model=StatementResult)
    async def code_statement(body: CodeBody, principal: PrincipalDep) -> StatementResult:
        """Ranked ICD-10-CM candidates for one diagnosis statement, with confidence,
        evidence and the decision the tenant's threshold gives (the production coder)."""
        threshold = await threshold_for(principal, body.threshold)
        result = await asyncio.to_thread(statement_result, body.text, threshold=threshold)
        return StatementResult.model_validate(result)

    @api.post("/code/batch", response_model=list[StatementResult])
    async def code_statements(
        body: CodeBatchBody, principal: PrincipalDep
    ) -> list[StatementResult]:
        """The same for up to 1000 statements, answered in order."""
        threshold = await threshold_for(principal, body.threshold)

        def run() -> list[dict[str, Any]]:
            return [statement_result(text, threshold=threshold) for text in body.statements]

        return [StatementResult.model_validate(r) for r in await asyncio.to_thread(run)]

    @api.get("/settings", response_model=CodingSettingsPublic)
    async def settings(tenant: TenantDep) -> CodingSettingsPublic:
        """The tenant's coding settings (the service default unless set)."""
        async with uows() as uow:
            own = await uow.settings.get(tenant)
        if own is None:
            return CodingSettingsPublic(
                tenant_id=tenant, auto_code_threshold=default_threshold, default=True
            )
        return CodingSettingsPublic(
            tenant_id=tenant,
            auto_code_threshold=own.auto_code_threshold,
            default=False,
            updated_by=own.updated_by,
            updated_at=own.updated_at,
        )

    @api.put("/admin/tenants/{tenant_id}/settings", response_model=CodingSettingsPublic)
    async def set_settings(
        tenant_id: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")],
        body: ThresholdBody,
        operator: OperatorDep,
    ) -> CodingSettingsPublic:
        """Set a tenant's auto-coding threshold (operators; audited)."""
        async with uows(principal=str(operator)) as uow:
            saved = await commands.set_threshold(
                uow=uow,
                tenant_id=tenant_id,
                threshold=body.auto_code_threshold,
                principal=str(operator),
                note=body.note,
            )
            result = CodingSettingsPublic(
                tenant_id=tenant_id,
                auto_code_threshold=saved.auto_code_threshold,
                default=False,
                updated_by=saved.updated_by,
                updated_at=saved.updated_at,
            )
        return result

    return api
