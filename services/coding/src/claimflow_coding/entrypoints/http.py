"""The coding service's HTTP API: the coder worklist, one encounter's outcome, the summary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from claimflow_coding.unit_of_work import SqlCodingUnitOfWork
from claimflow_shared.runtime.tenancy import TenantDep


class WorklistItem(BaseModel):
    encounter_id: str
    reasons: list
    raised_at: datetime


class CodingOutcome(BaseModel):
    encounter_id: str
    status: str
    diagnoses: list
    reasons: list
    coded_by: str


class CodingSummary(BaseModel):
    coded: int
    query: int


def router(uows: Callable[[], SqlCodingUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["coding"])

    @api.get("/worklist", response_model=list[WorklistItem])
    async def worklist(
        tenant: TenantDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200
    ) -> list[WorklistItem]:
        """Encounters waiting on a coder query, oldest first."""
        async with uows() as uow:
            rows = await uow.codings.worklist(tenant, limit=max(1, min(limit, 1000)))
        return [
            WorklistItem(
                encounter_id=r.encounter_id, reasons=r.query_reasons, raised_at=r.decided_at
            )
            for r in rows
        ]

    @api.get("/encounters/{encounter_id}", response_model=CodingOutcome)
    async def coding_outcome(encounter_id: str, tenant: TenantDep) -> CodingOutcome:
        async with uows() as uow:
            row = await uow.codings.get(tenant, encounter_id)
        if row is None:
            raise HTTPException(status_code=404, detail="encounter not found")
        return CodingOutcome(
            encounter_id=row.encounter_id,
            status=row.status,
            diagnoses=row.diagnoses,
            reasons=row.query_reasons,
            coded_by=row.coded_by,
        )

    @api.get("/summary", response_model=CodingSummary)
    async def summary(tenant: TenantDep) -> CodingSummary:
        """How many of the tenant's encounters were coded, and how many wait on a query."""
        async with uows() as uow:
            counts = await uow.codings.counts(tenant)
        return CodingSummary(coded=counts.get("coded", 0), query=counts.get("query", 0))

    return api
