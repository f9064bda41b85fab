"""The remittance service's HTTP API: 835 upload and files, postings, the unmatched queue,
the provider account, KPIs, and the operators' views; the denial queue and patient accounts
have routers of their own (`denials_api`, `patients_api`)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from claimflow_remittance.adapters.tables import (
    Posting,
    PostingLine,
    ProviderAccountEntry,
    RemittanceFile,
    UnmatchedPayment,
)
from claimflow_remittance.domain.aging import BUCKETS
from claimflow_remittance.domain.kpis import Kpis
from claimflow_remittance.entrypoints import denials_api, patients_api
from claimflow_remittance.entrypoints.params import DayQuery, RowId
from claimflow_remittance.ledger import (
    UPLOAD,
    ImportResult,
    LedgerError,
    NotFound,
    dismiss_unmatched,
    import_835,
    place_unmatched,
    release_held,
)
from claimflow_remittance.reports import tenant_kpis
from claimflow_remittance.settings import Settings
from claimflow_remittance.unit_of_work import SqlRemittanceUnitOfWork
from claimflow_shared.runtime.http import AfterId
from claimflow_shared.runtime.tenancy import OperatorDep, PrincipalDep, TenantDep
from claimflow_shared.runtime.uow import UnitsOfWork

Limit = Annotated[int, Query(ge=1, le=1000)]
# The body is an X12 file, read as a stream: declared here so tools can exercise the route.
X12_BODY = {
    "required": True,
    "content": {
        media: {"schema": {"type": "string", "description": "an X12 835 interchange"}}
        for media in ("application/edi-x12", "text/plain", "application/octet-stream")
    },
}
_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def money(value: Decimal | int | None) -> str:
    return f"{Decimal(value or 0):.2f}"


class LinePublic(BaseModel):
    position: int
    line_numbers: list[int]
    match: str | None
    code: str
    modifiers: list[str]
    units: str
    service_date: date | None
    charge: str
    paid: str
    allowed: str
    contractual: str
    patient_responsibility: str
    denied: str
    adjustments: list[dict]
    rarcs: list[str]

    @classmethod
    def of(cls, line: PostingLine) -> LinePublic:
        return cls(
            position=line.position,
            line_numbers=line.line_numbers,
            match=line.match,
            code=line.code,
            modifiers=line.modifiers,
            units=f"{Decimal(line.units).normalize():f}",
            service_date=line.service_date,
            charge=money(line.charge),
            paid=money(line.paid),
            allowed=money(line.allowed),
            contractual=money(line.contractual),
            patient_responsibility=money(line.patient_responsibility),
            denied=money(line.denied),
            adjustments=line.adjustments,
            rarcs=line.rarcs,
        )


class PostingPublic(BaseModel):
    claim_id: str
    encounter_id: str
    status: str
    status_code: str
    payer_claim_number: str
    original_payer_claim_number: str | None = None
    charge: str
    paid: str
    allowed: str
    patient_responsibility: str
    contractual: str
    denied_amount: str
    denial_category: str | None
    crossover: str | None = None
    reverses: str | None = None
    reversed_by: str | None = None
    posting_key: str
    file_id: str
    posted_by: str
    posted_at: datetime
    lines: list[LinePublic] | None = None

    @classmethod
    def of(cls, p: Posting, lines: list[PostingLine] | None = None) -> PostingPublic:
        amounts = (
            "charge", "paid", "allowed", "patient_responsibility", "contractual", "denied_amount",
        )  # fmt: skip
        return cls(
            **p.model_dump(include=set(cls.model_fields) - set(amounts) - {"lines"}),
            **{name: money(getattr(p, name)) for name in amounts},
            lines=None if lines is None else [LinePublic.of(line) for line in lines],
        )


class StatusTotals(BaseModel):
    count: int
    paid: str
    patient_responsibility: str
    denied: str


class RemittanceSummary(BaseModel):
    posted: int
    by_status: dict[str, StatusTotals]


class PostedPublic(BaseModel):
    claim_id: str
    status: str
    paid: str
    patient_responsibility: str
    payer_claim_number: str
    denial_category: str | None
    reverses: str | None


class UnmatchedOutcomePublic(BaseModel):
    claim_id: str
    kind: str
    reason: str
    amount: str


class HeldPublic(BaseModel):
    claim_id: str
    transaction: int
    reason: str


class UploadResult(BaseModel):
    """The answer to an upload: what was posted, what waits in the unmatched queue, what
    is held (and why), the file's problems, and PLB adjustments posted."""

    file_id: str
    status: str
    policy: str
    duplicate: bool
    duplicate_reason: str | None
    transactions: int
    claims: int
    posted_count: int
    unmatched_count: int
    held_count: int
    problems: list[dict]
    posted: list[PostedPublic]
    unmatched: list[UnmatchedOutcomePublic]
    held: list[HeldPublic]
    provider_adjustments: list[dict]

    @classmethod
    def of(cls, r: ImportResult) -> UploadResult:
        return cls(
            file_id=r.file_id,
            status=r.status,
            policy=r.policy,
            duplicate=r.duplicate,
            duplicate_reason=r.duplicate_reason,
            transactions=r.transactions,
            claims=r.claims,
            posted_count=len(r.posted),
            unmatched_count=len(r.unmatched),
            held_count=len(r.held),
            problems=r.problems,
            posted=[
                PostedPublic(
                    claim_id=p.claim_id,
                    status=p.status,
                    paid=money(p.paid),
                    patient_responsibility=money(p.patient_responsibility),
                    payer_claim_number=p.payer_claim_number,
                    denial_category=p.denial_category,
                    reverses=p.reverses,
                )
                for p in r.posted
            ],
            unmatched=[
                UnmatchedOutcomePublic(
                    claim_id=u.claim_id, kind=u.kind, reason=u.reason, amount=money(u.amount)
                )
                for u in r.unmatched
            ],
            held=[
                HeldPublic(claim_id=h.claim_id, transaction=h.transaction, reason=h.reason)
                for h in r.held
            ],
            provider_adjustments=r.provider_adjustments,
        )


class UnmatchedPublic(BaseModel):
    id: int
    tenant_id: str | None
    claim_id: str
    kind: str
    reason: str
    amount: str
    status: str
    file_id: str
    received_at: datetime
    resolved_by: str | None

    @classmethod
    def of(cls, u: UnmatchedPayment) -> UnmatchedPublic:
        return cls(
            id=u.id or 0,
            tenant_id=u.tenant_id,
            claim_id=u.claim_id,
            kind=u.kind,
            reason=u.reason,
            amount=money(u.amount),
            status=u.status,
            file_id=u.file_id,
            received_at=u.received_at,
            resolved_by=u.resolved_by,
        )


class FilePublic(BaseModel):
    id: int
    file_id: str
    tenant_id: str | None
    source: str
    status: str
    policy: str
    received_by: str
    size_bytes: int
    payment_total: str
    transactions: int
    claims: int
    posted: int
    problems: int
    error: str | None
    duplicate_of: str | None
    received_at: datetime

    @classmethod
    def of(cls, f: RemittanceFile) -> FilePublic:
        return cls(
            id=f.id or 0,
            file_id=f.file_id,
            tenant_id=f.tenant_id,
            source=f.source,
            status=f.status,
            policy=f.policy,
            received_by=f.received_by,
            size_bytes=f.size_bytes,
            payment_total=money(f.payment_total),
            transactions=f.transaction_count,
            claims=f.claim_count,
            posted=f.posted_count,
            problems=len(f.problems),
            error=f.error,
            duplicate_of=f.duplicate_of,
            received_at=f.received_at,
        )


class FileDetail(FilePublic):
    problem_list: list[dict]
    held_transactions: list[int]
    released_by: str | None

    @classmethod
    def of(cls, f: RemittanceFile) -> FileDetail:
        return cls(
            **FilePublic.of(f).model_dump(),
            problem_list=f.problems,
            held_transactions=f.held_transactions,
            released_by=f.released_by,
        )


class ProviderEntryPublic(BaseModel):
    payer_id: str | None
    payer_name: str
    provider_id: str
    reason: str
    kind: str
    reference: str
    amount: str
    trace_number: str
    file_id: str
    fiscal_period_end: date | None
    posted_at: datetime

    @classmethod
    def of(cls, e: ProviderAccountEntry) -> ProviderEntryPublic:
        return cls(
            **e.model_dump(include=set(cls.model_fields) - {"amount"}), amount=money(e.amount)
        )


class ProviderAccount(BaseModel):
    balance: dict[str, dict[str, str]]  # payer -> kind -> amount to the provider
    entries: list[ProviderEntryPublic]


class PlaceIn(BaseModel):
    claim_id: str = Field(min_length=1, max_length=38)


class DismissIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class KpiPublic(BaseModel):
    payer_id: str | None
    claims_submitted: int
    clean_claim_rate: str | None
    claims_adjudicated: int
    first_pass_resolution_rate: str | None
    initial_denial_rate: str | None
    denial_rate_by_category: dict[str, str]
    net_collection_rate: str | None
    ar_total: str
    ar_aging: dict[str, str]
    days_in_ar: str | None
    cost_to_collect: dict[str, str | int]

    @classmethod
    def of(cls, k: Kpis) -> KpiPublic:
        c = k.cost_to_collect
        return cls(
            payer_id=k.payer_id,
            claims_submitted=k.claims_submitted,
            clean_claim_rate=_rate(k.clean_claim_rate),
            claims_adjudicated=k.claims_adjudicated,
            first_pass_resolution_rate=_rate(k.first_pass_resolution_rate),
            initial_denial_rate=_rate(k.initial_denial_rate),
            denial_rate_by_category={
                c: _rate(r) or "0.0000" for c, r in k.denial_rate_by_category.items()
            },
            net_collection_rate=_rate(k.net_collection_rate),
            ar_total=money(k.ar_total),
            ar_aging={b: money(k.ar_aging[b]) for b in BUCKETS},
            days_in_ar=None if k.days_in_ar is None else str(k.days_in_ar),
            cost_to_collect={
                "collected": money(c.collected),
                "claims_submitted": c.claims_submitted,
                "resubmissions": c.resubmissions,
                "rejections": c.rejections,
                "appeals": c.appeals,
                "write_offs": c.write_offs,
                "written_off": money(c.written_off),
                "statements_sent": c.statements_sent,
            },
        )


class KpiReport(BaseModel):
    tenant_id: str
    period_start: date
    period_end: date
    as_of: date
    overall: KpiPublic
    by_payer: list[KpiPublic]


def _rate(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.4f}"


def router(
    uows: UnitsOfWork[SqlRemittanceUnitOfWork], settings: Settings | None = None
) -> APIRouter:
    settings = settings or Settings()
    api = APIRouter(prefix="/v1", tags=["remittance"])

    @api.get("/postings", response_model=list[PostingPublic])
    async def list_postings(
        tenant: TenantDep,
        claim_id: str | None = None,
        after_id: AfterId = 0,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 100_000,
    ) -> list[PostingPublic]:
        async with uows() as uow:
            rows = await uow.ledger.postings(
                tenant, claim_id=claim_id, after_id=after_id, limit=min(limit, 100_000)
            )
        return [PostingPublic.of(p) for p in rows]

    @api.get("/claims/{claim_id}/postings", response_model=list[PostingPublic])
    async def claim_postings(claim_id: str, tenant: TenantDep) -> list[PostingPublic]:
        """Every posting of one claim with its lines (paid, allowed, CAS, RARCs)."""
        async with uows() as uow:
            rows = await uow.ledger.postings(tenant, claim_id=claim_id, after_id=0, limit=200)
            lines = await uow.ledger.lines_of(tenant, {p.posting_key for p in rows})
        if not rows:
            raise HTTPException(status_code=404, detail="no posting for this claim")
        by_key: dict[str, list[PostingLine]] = {}
        for line in lines:
            by_key.setdefault(line.posting_key, []).append(line)
        return [PostingPublic.of(p, by_key.get(p.posting_key, [])) for p in rows]

    @api.get("/summary", response_model=RemittanceSummary)
    async def summary(tenant: TenantDep) -> RemittanceSummary:
        async with uows() as uow:
            claims, rows = await uow.ledger.totals_by_status(tenant)
        return RemittanceSummary(
            posted=claims,
            by_status={
                status: StatusTotals(
                    count=n, paid=money(paid), patient_responsibility=money(pr), denied=money(d)
                )
                for status, n, paid, pr, d in rows
            },
        )

    @api.post(
        "/remittances",
        status_code=201,
        response_model=UploadResult,
        responses={
            413: {"description": "larger than MAX_UPLOAD_BYTES"},
            422: {"description": "not an 835"},
        },
        openapi_extra={"requestBody": X12_BODY},
    )
    async def upload_835(
        request: Request, response: Response, tenant: TenantDep, principal: PrincipalDep
    ) -> UploadResult:
        """Post an 835 uploaded by hand, for the caller's tenant only (the same posting as the
        ERA download). The body is the file; X-File-Name may name it."""
        content = await _bounded_body(request, settings.max_upload_bytes)
        name = _FILE_NAME.sub("_", request.headers.get("X-File-Name") or "upload")[:100]
        async with uows(principal=str(principal)) as uow:
            result = await import_835(
                uow=uow,
                source=UPLOAD,
                source_ref=f"{tenant}:{name}:{uuid.uuid4().hex}",
                content=content,
                received_by=str(principal),
                tenant_id=tenant,
            )
        if result.status == "quarantined":
            raise HTTPException(
                status_code=422, detail={"file_id": result.file_id, "error": result.error}
            )
        if result.duplicate:
            response.status_code = 200
        return UploadResult.of(result)

    @api.get("/remittances", response_model=list[FilePublic])
    async def list_files(
        tenant: TenantDep, status: str | None = None, before_id: AfterId = 0, limit: Limit = 100
    ) -> list[FilePublic]:
        """The tenant's 835 files, newest first (page with `before_id` = the last `id`)."""
        async with uows() as uow:
            rows = await uow.ledger.files(
                tenant_id=tenant, status=status, after_id=before_id, limit=limit
            )
        return [FilePublic.of(f) for f in rows]

    @api.get("/remittances/{file_id}", response_model=FileDetail)
    async def file_detail(file_id: str, tenant: TenantDep) -> FileDetail:
        async with uows() as uow:
            found = await uow.ledger.file(file_id, tenant_id=tenant)
        if found is None:
            raise HTTPException(status_code=404, detail="file not found")
        return FileDetail.of(found)

    @api.get("/unmatched", response_model=list[UnmatchedPublic])
    async def tenant_unmatched(
        tenant: TenantDep, status: str | None = "open", after_id: AfterId = 0, limit: Limit = 200
    ) -> list[UnmatchedPublic]:
        """The tenant's unmatched-payment queue: what needs a person, and why."""
        async with uows() as uow:
            rows = await uow.ledger.unmatched(
                tenant_id=tenant, status=status, after_id=after_id, limit=limit
            )
        return [UnmatchedPublic.of(u) for u in rows]

    @api.post("/unmatched/{item_id}/post", response_model=PostedPublic)
    async def place(
        item_id: RowId, body: PlaceIn, tenant: TenantDep, principal: PrincipalDep
    ) -> PostedPublic:
        """Post a waiting payment to the claim a person names (audited as that person)."""
        try:
            async with uows(principal=str(principal)) as uow:
                p = await place_unmatched(
                    uow,
                    tenant_id=tenant,
                    item_id=item_id,
                    claim_id=body.claim_id,
                    by=str(principal),
                )
        except NotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        except LedgerError as exc:
            raise HTTPException(
                status_code=422, detail={"field": exc.field, "reason": exc.reason}
            ) from exc
        return PostedPublic(
            claim_id=p.claim_id,
            status=p.status,
            paid=money(p.paid),
            patient_responsibility=money(p.patient_responsibility),
            payer_claim_number=p.payer_claim_number,
            denial_category=p.denial_category,
            reverses=p.reverses,
        )

    @api.post("/unmatched/{item_id}/dismiss", response_model=UnmatchedPublic)
    async def dismiss(
        item_id: RowId, body: DismissIn, tenant: TenantDep, principal: PrincipalDep
    ) -> UnmatchedPublic:
        try:
            async with uows(principal=str(principal)) as uow:
                item = await dismiss_unmatched(
                    uow, tenant_id=tenant, item_id=item_id, reason=body.reason, by=str(principal)
                )
                public = UnmatchedPublic.of(item)
        except NotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        except LedgerError as exc:
            raise HTTPException(
                status_code=422, detail={"field": exc.field, "reason": exc.reason}
            ) from exc
        return public

    @api.get("/provider-account", response_model=ProviderAccount)
    async def provider_account(
        tenant: TenantDep, after_id: AfterId = 0, limit: Limit = 500
    ) -> ProviderAccount:
        """PLB adjustments posted to the tenant's provider account, and the balance per payer
        and kind (interest, offset, forward balance, ...): money to the provider."""
        async with uows() as uow:
            entries = await uow.ledger.provider_account(tenant, after_id=after_id, limit=limit)
            totals = await uow.ledger.provider_balance(tenant)
        balance: dict[str, dict[str, str]] = {}
        for payer_id, kind, amount in totals:
            balance.setdefault(payer_id or "-", {})[kind] = money(amount)
        return ProviderAccount(
            balance=balance, entries=[ProviderEntryPublic.of(e) for e in entries]
        )

    @api.get("/kpis", response_model=KpiReport)
    async def kpis(
        tenant: TenantDep,
        period_start: DayQuery = None,
        period_end: DayQuery = None,
        as_of: DayQuery = None,
        payer_id: str | None = None,
    ) -> KpiReport:
        """Clean claim rate, first-pass resolution, initial denial rate (by category), net
        collection rate, A/R and its aging, days in A/R and cost-to-collect inputs, for
        claims first submitted in the period (default: the last 90 days), overall and per
        payer."""
        today = date.today()
        end = period_end or as_of or today
        start = period_start or date.fromordinal(end.toordinal() - 89)
        if start > end:
            raise HTTPException(status_code=422, detail="period_start: after period_end")
        async with uows() as uow:
            report = await tenant_kpis(
                uow,
                tenant_id=tenant,
                period_start=start,
                period_end=end,
                as_of=as_of or end,
                payer_id=payer_id,
                by_payer=payer_id is None,
            )
        overall = report.pop(payer_id if payer_id is not None else None)
        return KpiReport(
            tenant_id=tenant,
            period_start=start,
            period_end=end,
            as_of=as_of or end,
            overall=KpiPublic.of(overall),
            by_payer=[KpiPublic.of(k) for k in report.values()],
        )

    # -- operators ---------------------------------------------------------------------

    @api.get("/ops/unmatched", response_model=list[UnmatchedPublic], tags=["ops"])
    async def ops_unmatched(
        _: OperatorDep,
        tenant_id: str | None = None,
        status: str | None = "open",
        after_id: AfterId = 0,
        limit: Limit = 200,
    ) -> list[UnmatchedPublic]:
        """Every tenant's unmatched payments (also those no tenant could be told of)."""
        async with uows() as uow:
            rows = await uow.ledger.unmatched(
                tenant_id=tenant_id,
                status=status,
                after_id=after_id,
                limit=limit,
                every_tenant=tenant_id is None,
            )
        return [UnmatchedPublic.of(u) for u in rows]

    @api.get("/ops/files", response_model=list[FilePublic], tags=["ops"])
    async def ops_files(
        _: OperatorDep,
        tenant_id: str | None = None,
        status: str | None = None,
        before_id: AfterId = 0,
        limit: Limit = 200,
    ) -> list[FilePublic]:
        """Every 835 file, newest first: quarantined and held ones with their errors."""
        async with uows() as uow:
            rows = await uow.ledger.files(
                tenant_id=tenant_id,
                status=status,
                after_id=before_id,
                limit=limit,
                every_tenant=tenant_id is None,
            )
        return [FilePublic.of(f) for f in rows]

    @api.get("/ops/files/{file_id}", response_model=FileDetail, tags=["ops"])
    async def ops_file(file_id: str, _: OperatorDep) -> FileDetail:
        async with uows() as uow:
            found = await uow.ledger.file(file_id)
        if found is None:
            raise HTTPException(status_code=404, detail="file not found")
        return FileDetail.of(found)

    @api.post("/ops/files/{file_id}/release", response_model=UploadResult, tags=["ops"])
    async def release(file_id: str, operator: OperatorDep) -> UploadResult:
        """Post a held file's transactions after looking at its problems (audited)."""
        try:
            async with uows(principal=str(operator)) as uow:
                result = await release_held(uow, file_id=file_id, by=str(operator))
        except NotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        except LedgerError as exc:
            raise HTTPException(
                status_code=409, detail={"field": exc.field, "reason": exc.reason}
            ) from exc
        return UploadResult.of(result)

    api.include_router(denials_api.router(uows))
    api.include_router(patients_api.router(uows))
    return api


async def _bounded_body(request: Request, limit: int) -> str:
    """The request body, read as it streams in, refused (413) past `limit` bytes."""
    too_large = HTTPException(
        status_code=413,
        detail=f"the 835 is larger than the {limit} bytes an upload may carry (MAX_UPLOAD_BYTES)",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    if not body.strip():
        raise HTTPException(status_code=422, detail="body: empty; send the 835 file as the body")
    return body.decode("utf-8", errors="replace")
