"""The coding service's HTTP API: the coder worklist."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import func, select

from claimflow_coding.adapters.tables import CodingRecord
from claimflow_shared.runtime.tenancy import TenantDep

router = APIRouter(prefix="/v1", tags=["coding"])


@router.get("/worklist")
async def worklist(tenant: TenantDep, request: Request, limit: int = 200) -> list[dict]:
    """Encounters waiting on a coder query, oldest first."""
    async with request.app.state.service.db.sessions() as session:
        rows = (
            (
                await session.exec(
                    select(CodingRecord)
                    .where(CodingRecord.tenant_id == tenant, CodingRecord.status == "query")
                    .order_by(CodingRecord.decided_at)
                    .limit(min(limit, 1000))
                )
            )
            .scalars()
            .all()
        )
    return [
        {
            "encounter_id": r.encounter_id,
            "reasons": r.query_reasons,
            "raised_at": r.decided_at.isoformat(),
        }
        for r in rows
    ]


@router.get("/encounters/{encounter_id}")
async def coding_outcome(encounter_id: str, tenant: TenantDep, request: Request) -> dict:
    async with request.app.state.service.db.sessions() as session:
        row = (
            (
                await session.exec(
                    select(CodingRecord).where(
                        CodingRecord.tenant_id == tenant, CodingRecord.encounter_id == encounter_id
                    )
                )
            )
            .scalars()
            .first()
        )
    if row is None:
        raise HTTPException(status_code=404, detail="encounter not found")
    return {
        "encounter_id": row.encounter_id,
        "status": row.status,
        "diagnoses": row.diagnoses,
        "reasons": row.query_reasons,
        "coded_by": row.coded_by,
    }


@router.get("/summary")
async def summary(tenant: TenantDep, request: Request) -> dict[str, int]:
    """How many of the tenant's encounters were coded, and how many wait on a query."""
    async with request.app.state.service.db.sessions() as session:
        rows = (
            await session.exec(
                select(CodingRecord.status, func.count())
                .where(CodingRecord.tenant_id == tenant)
                .group_by(CodingRecord.status)
            )
        ).all()
    counts = dict(rows)
    return {"coded": counts.get("coded", 0), "query": counts.get("query", 0)}
