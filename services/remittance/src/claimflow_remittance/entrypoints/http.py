"""The remittance service's HTTP API: postings, 835 upload, unmatched payments, summary."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import func, select

from claimflow_remittance.adapters.tables import Posting, RemittanceFile, UnmatchedPayment
from claimflow_remittance.ledger import ingest_835
from claimflow_shared.runtime.context import HandlerContext
from claimflow_shared.runtime.tenancy import TenantDep
from claimflow_shared.x12 import X12Error

router = APIRouter(prefix="/v1", tags=["remittance"])


def _posting(p: Posting) -> dict:
    return {
        "claim_id": p.claim_id,
        "encounter_id": p.encounter_id,
        "status": p.status,
        "payer_claim_number": p.payer_claim_number,
        "charge": f"{p.charge:.2f}",
        "paid": f"{p.paid:.2f}",
        "allowed": f"{p.allowed:.2f}",
        "patient_responsibility": f"{p.patient_responsibility:.2f}",
        "denied_amount": f"{p.denied_amount:.2f}",
        "denial_category": p.denial_category,
        "file_id": p.file_id,
        "posted_at": p.posted_at.isoformat(),
    }


@router.get("/postings")
async def list_postings(
    tenant: TenantDep, request: Request, claim_id: str | None = None, limit: int = 100_000
) -> list[dict]:
    async with request.app.state.service.db.sessions() as session:
        query = select(Posting).where(Posting.tenant_id == tenant)
        if claim_id:
            query = query.where(Posting.claim_id == claim_id)
        rows = await session.exec(query.order_by(Posting.id).limit(min(limit, 100_000)))
    return [_posting(p) for p in rows.scalars().all()]


@router.get("/summary")
async def summary(tenant: TenantDep, request: Request) -> dict:
    async with request.app.state.service.db.sessions() as session:
        rows = (
            await session.exec(
                select(
                    Posting.status,
                    func.count(),
                    func.sum(Posting.paid),
                    func.sum(Posting.patient_responsibility),
                    func.sum(Posting.denied_amount),
                )
                .where(Posting.tenant_id == tenant)
                .group_by(Posting.status)
            )
        ).all()
        claims = (
            await session.exec(
                select(func.count(func.distinct(Posting.claim_id))).where(
                    Posting.tenant_id == tenant
                )
            )
        ).scalar_one()
    by_status = {
        s: {
            "count": n,
            "paid": f"{Decimal(p or 0):.2f}",
            "patient_responsibility": f"{Decimal(r or 0):.2f}",
            "denied": f"{Decimal(d or 0):.2f}",
        }
        for s, n, p, r, d in rows
    }
    return {"posted": claims, "by_status": by_status}


@router.post("/remittances", status_code=201)
async def upload_835(request: Request, tenant: TenantDep) -> dict:
    """Post an 835 file uploaded by hand (the same path as the ERA download)."""
    service = request.app.state.service
    content = (await request.body()).decode("utf-8", errors="replace")
    name = request.headers.get("X-File-Name") or "upload"
    try:
        async with service.db.transaction() as session:
            ctx = HandlerContext(session=session, producer=service.producer_name)
            ref = f"{tenant}:{name}:{hashlib.sha256(content.encode()).hexdigest()}"
            result = await ingest_835(ctx, source="upload", source_ref=ref, content=content)
    except X12Error as exc:
        raise HTTPException(status_code=422, detail=f"not an 835: {exc}") from exc
    service.notify_outbox()
    return {
        "file_id": result.file_id,
        "duplicate": result.duplicate,
        "posted": result.posted,
        "unmatched": result.unmatched,
        "problems": result.problems,
    }


@router.get("/ops/unmatched")
async def unmatched(request: Request, limit: int = 200) -> list[dict]:
    """Payments whose claim is unknown: the operators' unmatched-payment queue."""
    async with request.app.state.service.db.sessions() as session:
        rows = (
            (
                await session.exec(
                    select(UnmatchedPayment).order_by(UnmatchedPayment.id).limit(limit)
                )
            )
            .scalars()
            .all()
        )
    return [
        {
            "claim_id": u.claim_id,
            "file_id": u.file_id,
            "paid": f"{u.paid:.2f}",
            "received_at": u.received_at.isoformat(),
        }
        for u in rows
    ]


@router.get("/ops/files")
async def files(request: Request, limit: int = 200) -> list[dict]:
    async with request.app.state.service.db.sessions() as session:
        rows = (
            (
                await session.exec(
                    select(RemittanceFile).order_by(RemittanceFile.id.desc()).limit(limit)
                )
            )
            .scalars()
            .all()
        )
    return [
        {
            "file_id": f.file_id,
            "source": f.source,
            "source_ref": f.source_ref,
            "payment_total": f"{f.payment_total:.2f}",
            "claims": f.claim_count,
            "problems": len(f.problems),
            "received_at": f.received_at.isoformat(),
        }
        for f in rows
    ]
