"""Intake's HTTP API: JSON encounters in, one at a time or as an all-or-nothing batch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field

from claimflow_intake.domain.encounters import DocumentConflict
from claimflow_intake.handlers import Accepted, accept_encounters
from claimflow_intake.unit_of_work import SqlIntakeUnitOfWork
from claimflow_shared.events import EncounterDocumented
from claimflow_shared.runtime.http import AfterId
from claimflow_shared.runtime.tenancy import TenantDep


class AcceptedOut(BaseModel):
    encounter_id: str
    status: str

    @classmethod
    def of(cls, accepted: Accepted) -> AcceptedOut:
        status = "accepted" if accepted.created else "duplicate"
        return cls(encounter_id=accepted.encounter_id, status=status)


class BatchIn(BaseModel):
    encounters: list[EncounterDocumented] = Field(min_length=1, max_length=1000)


class BatchOut(BaseModel):
    results: list[AcceptedOut]


class EncounterRow(BaseModel):
    encounter_id: str
    source_system: str
    document_id: str
    accepted_at: datetime


def router(uows: Callable[[], SqlIntakeUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["encounters"])

    async def accept(tenant: str, encounters: list[EncounterDocumented]) -> list[Accepted]:
        try:
            async with uows() as uow:
                return await accept_encounters(uow=uow, tenant_id=tenant, encounters=encounters)
        except DocumentConflict as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc

    @api.post("/encounters", status_code=201, response_model=AcceptedOut)
    async def post_encounter(
        encounter: EncounterDocumented, tenant: TenantDep, response: Response
    ) -> AcceptedOut:
        (accepted,) = await accept(tenant, [encounter])
        if not accepted.created:
            response.status_code = 200
        return AcceptedOut.of(accepted)

    @api.post("/encounters/batch", status_code=201, response_model=BatchOut)
    async def post_encounter_batch(batch: BatchIn, tenant: TenantDep) -> BatchOut:
        """All or nothing: one transaction, so a failure leaves nothing half-written."""
        results = await accept(tenant, batch.encounters)
        return BatchOut(results=[AcceptedOut.of(r) for r in results])

    @api.get("/encounters", response_model=list[EncounterRow])
    async def list_encounters(
        tenant: TenantDep,
        after_id: AfterId = 0,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 100_000,
    ) -> list[EncounterRow]:
        """Accepted encounters of the calling tenant, for reconciliation."""
        async with uows() as uow:
            rows = await uow.encounters.list(tenant, after_id=after_id, limit=min(limit, 100_000))
        return [EncounterRow.model_validate(r, from_attributes=True) for r in rows]

    return api
