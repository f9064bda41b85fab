"""The claims service's unit of work: what its handlers and commands see, and its SQL
implementation."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_claims.adapters.repository import (
    ClaimRepository,
    FeeScheduleRepository,
    SqlClaimRepository,
    SqlFeeScheduleRepository,
)
from claimflow_shared.runtime.uow import SqlUnitOfWork, UnitOfWork


class ClaimsUnitOfWork(UnitOfWork):
    claims: ClaimRepository
    fees: FeeScheduleRepository


class SqlClaimsUnitOfWork(SqlUnitOfWork, ClaimsUnitOfWork):
    claims: SqlClaimRepository
    fees: SqlFeeScheduleRepository

    def attach(self, session: AsyncSession) -> None:
        self.claims = SqlClaimRepository(session, self)
        self.fees = SqlFeeScheduleRepository(session, self)
