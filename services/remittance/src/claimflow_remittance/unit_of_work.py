"""The remittance service's unit of work: what its handlers see, and its SQL implementation."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_remittance.adapters.repository import LedgerRepository, SqlLedgerRepository
from claimflow_shared.runtime.uow import SqlUnitOfWork, UnitOfWork


class RemittanceUnitOfWork(UnitOfWork):
    ledger: LedgerRepository

    async def lock_claims(self, claim_ids: Iterable[str]) -> None:
        """Serialise matching per claim id: without it, a payment parked as unmatched and the
        `claim.submitted` that would match it can commit side by side and miss each other.
        Taken in one sorted order, so two transactions never wait on each other in a circle."""
        await self.lock_all(f"claim:{claim_id}" for claim_id in claim_ids)


class SqlRemittanceUnitOfWork(SqlUnitOfWork, RemittanceUnitOfWork):
    ledger: SqlLedgerRepository

    def attach(self, session: AsyncSession) -> None:
        self.ledger = SqlLedgerRepository(session, self)
