"""The remittance service's HTTP API: postings, 835 upload, unmatched payments, summary."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from claimflow_remittance.adapters.tables import Posting
from claimflow_remittance.ledger import import_835
from claimflow_remittance.unit_of_work import SqlRemittanceUnitOfWork
from claimflow_shared.runtime.http import AfterId
from claimflow_shared.runtime.tenancy import TenantDep
from claimflow_shared.x12 import X12Error


class PostingPublic(BaseModel):
    claim_id: str
    encounter_id: str
    status: str
    payer_claim_number: str
    charge: str
    paid: str
    allowed: str
    patient_responsibility: str
    denied_amount: str
    denial_category: str | None
    file_id: str
    posted_at: datetime

    @classmethod
    def of(cls, p: Posting) -> PostingPublic:
        money = ("charge", "paid", "allowed", "patient_responsibility", "denied_amount")
        return cls(
            **p.model_dump(include=set(cls.model_fields) - set(money)),
            **{name: f"{getattr(p, name):.2f}" for name in money},
        )


class StatusTotals(BaseModel):
    count: int
    paid: str
    patient_responsibility: str
    denied: str


class RemittanceSummary(BaseModel):
    posted: int
    by_status: dict[str, StatusTotals]


class UploadResult(BaseModel):
    file_id: str
    duplicate: bool
    posted: int
    unmatched: int
    problems: list[str]


class UnmatchedPublic(BaseModel):
    claim_id: str
    file_id: str
    paid: str
    received_at: datetime


class FilePublic(BaseModel):
    file_id: str
    source: str
    source_ref: str
    payment_total: str
    claims: int
    problems: int
    received_at: datetime


def _money(value: Decimal | None) -> str:
    return f"{Decimal(value or 0):.2f}"


def router(uows: Callable[[], SqlRemittanceUnitOfWork]) -> APIRouter:
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
                tenant, claim_id=claim_id, after_id=after_id, limit=max(1, min(limit, 100_000))
            )
        return [PostingPublic.of(p) for p in rows]

    @api.get("/summary", response_model=RemittanceSummary)
    async def summary(tenant: TenantDep) -> RemittanceSummary:
        async with uows() as uow:
            claims, rows = await uow.ledger.totals_by_status(tenant)
        return RemittanceSummary(
            posted=claims,
            by_status={
                status: StatusTotals(
                    count=n, paid=_money(paid), patient_responsibility=_money(pr), denied=_money(d)
                )
                for status, n, paid, pr, d in rows
            },
        )

    @api.post("/remittances", status_code=201, response_model=UploadResult)
    async def upload_835(request: Request, tenant: TenantDep) -> UploadResult:
        """Post an 835 file uploaded by hand (the same path as the ERA download)."""
        content = (await request.body()).decode("utf-8", errors="replace")
        name = request.headers.get("X-File-Name") or "upload"
        ref = f"{tenant}:{name}:{hashlib.sha256(content.encode()).hexdigest()}"
        try:
            async with uows() as uow:
                result = await import_835(uow=uow, source="upload", source_ref=ref, content=content)
        except X12Error as exc:
            raise HTTPException(status_code=422, detail=f"not an 835: {exc}") from exc
        return UploadResult(**vars(result))

    @api.get("/ops/unmatched", response_model=list[UnmatchedPublic])
    async def unmatched(limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[UnmatchedPublic]:
        """Payments whose claim is unknown: the operators' unmatched-payment queue."""
        async with uows() as uow:
            rows = await uow.ledger.unmatched(limit=max(1, min(limit, 1000)))
        return [
            UnmatchedPublic(
                claim_id=u.claim_id,
                file_id=u.file_id,
                paid=_money(u.paid),
                received_at=u.received_at,
            )
            for u in rows
        ]

    @api.get("/ops/files", response_model=list[FilePublic])
    async def files(limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[FilePublic]:
        async with uows() as uow:
            rows = await uow.ledger.files(limit=max(1, min(limit, 1000)))
        return [
            FilePublic(
                file_id=f.file_id,
                source=f.source,
                source_ref=f.source_ref,
                payment_total=_money(f.payment_total),
                claims=f.claim_count,
                problems=len(f.problems),
                received_at=f.received_at,
            )
            for f in rows
        ]

    return api
