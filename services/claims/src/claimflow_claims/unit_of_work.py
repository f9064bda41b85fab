"""The claims service's unit of work: what its handlers see, and its SQL implementation."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_claims.adapters.repository import ClaimRepository, SqlClaimRepository
from claimflow_shared.runtime.uow import SqlUnitOfWork, UnitOfWork


class ClaimsUnitOfWork(UnitOfWork):
    claims: ClaimRepository


class SqlClaimsUnitOfWork(SqlUnitOfWork, ClaimsUnitOfWork):
    claims: SqlClaimRepository

    def attach(self, session: AsyncSession) -> None:
        self.claims = SqlClaimRepository(session, self)
