"""The claims service's HTTP API: claims, their audit trail, and the stage summary."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import func, select

from claimflow_claims.adapters.tables import ClaimAudit, ClaimRecord
from claimflow_claims.domain.states import ClaimState
from claimflow_shared.runtime.tenancy import TenantDep

router = APIRouter(prefix="/v1", tags=["claims"])

_SUBMITTED_OR_LATER = {
    ClaimState.SUBMITTED,
    ClaimState.ACCEPTED,
    ClaimState.ACKNOWLEDGED,
    ClaimState.PAID,
    ClaimState.PARTIALLY_PAID,
    ClaimState.DENIED,
    ClaimState.APPEALED,
}


def _row(r: ClaimRecord) -> dict:
    return {
        "claim_id": r.claim_id,
        "encounter_id": r.encounter_id,
        "state": r.state,
        "frequency_code": r.frequency_code,
        "payer_id": r.payer_id,
        "total_charge": f"{r.total_charge:.2f}",
        "findings": r.findings,
        "submission_file": r.submission_file,
        "payer_claim_number": r.payer_claim_number,
        "updated_at": r.updated_at.isoformat(),
    }


@router.get("/claims")
async def list_claims(
    tenant: TenantDep,
    request: Request,
    state: str | None = None,
    after_id: int = 0,
    limit: int = 100_000,
) -> list[dict]:
    async with request.app.state.service.db.sessions() as session:
        query = select(ClaimRecord).where(
            ClaimRecord.tenant_id == tenant, ClaimRecord.id > after_id
        )
        if state:
            query = query.where(ClaimRecord.state == state)
        rows = await session.exec(query.order_by(ClaimRecord.id).limit(min(limit, 100_000)))
    return [_row(r) for r in rows.scalars().all()]


@router.get("/claims/{claim_id}")
async def get_claim(claim_id: str, tenant: TenantDep, request: Request) -> dict:
    async with request.app.state.service.db.sessions() as session:
        record = (
            (
                await session.exec(
                    select(ClaimRecord).where(
                        ClaimRecord.claim_id == claim_id, ClaimRecord.tenant_id == tenant
                    )
                )
            )
            .scalars()
            .first()
        )
        if record is None:
            raise HTTPException(status_code=404, detail="claim not found")
        audit = (
            (
                await session.exec(
                    select(ClaimAudit)
                    .where(ClaimAudit.claim_id == claim_id)
                    .order_by(ClaimAudit.id)
                )
            )
            .scalars()
            .all()
        )
    return {
        **_row(record),
        "audit": [
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
    }


@router.get("/summary")
async def summary(tenant: TenantDep, request: Request) -> dict:
    """Claims of the tenant per state, and how many reached the clearinghouse."""
    async with request.app.state.service.db.sessions() as session:
        rows = (
            await session.exec(
                select(ClaimRecord.state, func.count())
                .where(ClaimRecord.tenant_id == tenant)
                .group_by(ClaimRecord.state)
            )
        ).all()
    by_state = dict(rows)
    return {
        "by_state": by_state,
        "submitted": sum(n for s, n in by_state.items() if s in _SUBMITTED_OR_LATER),
    }
