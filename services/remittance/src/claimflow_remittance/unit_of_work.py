"""The remittance service's unit of work: what its handlers and commands see, and its SQL
implementation."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_remittance.adapters.repository import (
    DenialRepository,
    KpiRepository,
    LedgerRepository,
    PatientRepository,
    SqlDenialRepository,
    SqlKpiRepository,
    SqlLedgerRepository,
    SqlPatientRepository,
)
from claimflow_shared.runtime.uow import SqlUnitOfWork, UnitOfWork


class RemittanceUnitOfWork(UnitOfWork):
    ledger: LedgerRepository
    denials: DenialRepository
    patients: PatientRepository
    kpis: KpiRepository

    async def lock_claims(self, claim_keys: Iterable[str]) -> None:
        """Serialise matching per (normalised) claim id: without it, a payment parked as
        unmatched and the `claim.submitted` that would match it can commit side by side and
        miss each other. Taken in one sorted order, so two transactions never wait on each
        other in a circle."""
        await self.lock_all(f"claim:{key}" for key in claim_keys if key)


class SqlRemittanceUnitOfWork(SqlUnitOfWork, RemittanceUnitOfWork):
    ledger: SqlLedgerRepository
    denials: SqlDenialRepository
    patients: SqlPatientRepository
    kpis: SqlKpiRepository

    def attach(self, session: AsyncSession) -> None:
        self.ledger = SqlLedgerRepository(session, self)
        self.denials = SqlDenialRepository(session, self)
        self.patients = SqlPatientRepository(session, self)
        self.kpis = SqlKpiRepository(session, self)
