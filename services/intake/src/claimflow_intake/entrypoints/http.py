"""Intake's HTTP API: JSON encounters in, one at a time or as an all-or-nothing batch."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from claimflow_intake.adapters.tables import AcceptedEncounter
from claimflow_intake.domain.encounters import DocumentConflict
from claimflow_intake.handlers import accept_encounter
from claimflow_shared.events import EncounterDocumented
from claimflow_shared.runtime.context import HandlerContext
from claimflow_shared.runtime.service import Service
from claimflow_shared.runtime.tenancy import TenantDep

router = APIRouter(prefix="/v1", tags=["encounters"])


class AcceptedOut(BaseModel):
    encounter_id: str
    status: str


class BatchIn(BaseModel):
    encounters: list[EncounterDocumented] = Field(min_length=1, max_length=1000)


class BatchOut(BaseModel):
    results: list[AcceptedOut]


def _service(request: Request) -> Service:
    return request.app.state.service


@router.post("/encounters", status_code=201, response_model=AcceptedOut)
async def post_encounter(
    encounter: EncounterDocumented, tenant: TenantDep, request: Request, response: Response
) -> AcceptedOut:
    service = _service(request)
    try:
        async with service.db.transaction() as session:
            ctx = HandlerContext(session=session, producer=service.producer_name)
            accepted = await accept_encounter(ctx, tenant_id=tenant, encounter=encounter)
    except DocumentConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    service.notify_outbox()
    if not accepted.created:
        response.status_code = 200
    return AcceptedOut(
        encounter_id=accepted.encounter_id, status="accepted" if accepted.created else "duplicate"
    )


@router.post("/encounters/batch", status_code=201, response_model=BatchOut)
async def post_encounter_batch(batch: BatchIn, tenant: TenantDep, request: Request) -> BatchOut:
    """All or nothing: one transaction, so a failure leaves nothing half-written."""
    service = _service(request)
    try:
        async with service.db.transaction() as session:
            ctx = HandlerContext(session=session, producer=service.producer_name)
            results = [
                await accept_encounter(ctx, tenant_id=tenant, encounter=encounter)
                for encounter in batch.encounters
            ]
    except DocumentConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    service.notify_outbox()
    return BatchOut(
        results=[
            AcceptedOut(
                encounter_id=r.encounter_id, status="accepted" if r.created else "duplicate"
            )
            for r in results
        ]
    )


class EncounterRow(BaseModel):
    encounter_id: str
    source_system: str
    document_id: str
    accepted_at: datetime


@router.get("/encounters", response_model=list[EncounterRow])
async def list_encounters(
    tenant: TenantDep, request: Request, after_id: int = 0, limit: int = 100_000
) -> list[EncounterRow]:
    """Accepted encounters of the calling tenant, for reconciliation."""
    async with _service(request).db.sessions() as session:
        rows = (
            (
                await session.exec(
                    select(AcceptedEncounter)
                    .where(AcceptedEncounter.tenant_id == tenant, AcceptedEncounter.id > after_id)
                    .order_by(AcceptedEncounter.id)
                    .limit(min(limit, 100_000))
                )
            )
            .scalars()
            .all()
        )
    return [
        EncounterRow(
            encounter_id=r.encounter_id,
            source_system=r.source_system,
            document_id=r.document_id,
            accepted_at=r.accepted_at,
        )
        for r in rows
    ]
