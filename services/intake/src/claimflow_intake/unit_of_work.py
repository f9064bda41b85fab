"""Intake's unit of work: what its commands see, and its SQL implementation."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_intake.adapters.repository import EncounterRepository, SqlEncounterRepository
from claimflow_shared.runtime.uow import SqlUnitOfWork, UnitOfWork


class IntakeUnitOfWork(UnitOfWork):
    encounters: EncounterRepository


class SqlIntakeUnitOfWork(SqlUnitOfWork, IntakeUnitOfWork):
    def attach(self, session: AsyncSession) -> None:
        self.encounters = SqlEncounterRepository(session, self)
