"""The claims service's HTTP API: claims, their audit trail, and the stage summary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from claimflow_claims.adapters.tables import ClaimRecord
from claimflow_claims.domain.states import ClaimState
from claimflow_claims.unit_of_work import SqlClaimsUnitOfWork
from claimflow_shared.runtime.http import AfterId
from claimflow_shared.runtime.tenancy import TenantDep

_SUBMITTED_OR_LATER = {
    ClaimState.SUBMITTED,
    ClaimState.ACCEPTED,
    ClaimState.ACKNOWLEDGED,
    ClaimState.PAID,
    ClaimState.PARTIALLY_PAID,
    ClaimState.DENIED,
    ClaimState.APPEALED,
}


class ClaimPublic(BaseModel):
    claim_id: str
    encounter_id: str
    state: str
    frequency_code: str
    payer_id: str
    total_charge: str
    findings: list
    submission_file: str | None
    payer_claim_number: str | None
    updated_at: datetime

    @classmethod
    def of(cls, r: ClaimRecord) -> ClaimPublic:
        return cls(
            **r.model_dump(include=set(cls.model_fields) - {"total_charge"}),
            total_charge=f"{r.total_charge:.2f}",
        )


class ClaimDetail(ClaimPublic):
    audit: list[dict]


class ClaimsSummary(BaseModel):
    by_state: dict[str, int]
    submitted: int


def router(uows: Callable[[], SqlClaimsUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["claims"])

    @api.get("/claims", response_model=list[ClaimPublic])
    async def list_claims(
        tenant: TenantDep,
        state: str | None = None,
        after_id: AfterId = 0,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 100_000,
    ) -> list[ClaimPublic]:
        async with uows() as uow:
            rows = await uow.claims.search(
                tenant, state=state, after_id=after_id, limit=max(1, min(limit, 100_000))
            )
        return [ClaimPublic.of(r) for r in rows]

    @api.get("/claims/{claim_id}", response_model=ClaimDetail)
    async def get_claim(claim_id: str, tenant: TenantDep) -> ClaimDetail:
        async with uows() as uow:
            record = await uow.claims.get(tenant, claim_id)
            if record is None:
                raise HTTPException(status_code=404, detail="claim not found")
            audit = await uow.claims.audit_trail(tenant, claim_id)
        return ClaimDetail(
            **ClaimPublic.of(record).model_dump(),
            audit=[
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
        )

    @api.get("/summary", response_model=ClaimsSummary)
    async def summary(tenant: TenantDep) -> ClaimsSummary:
        """Claims of the tenant per state, and how many reached the clearinghouse."""
        async with uows() as uow:
            by_state = await uow.claims.count_by_state(tenant)
        submitted = sum(n for s, n in by_state.items() if s in _SUBMITTED_OR_LATER)
        return ClaimsSummary(by_state=by_state, submitted=submitted)

    return api
