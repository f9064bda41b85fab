"""Intake's unit of work: what its commands see, and its SQL implementation."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_intake.adapters.repository import (
    BulkRepository,
    EncounterRepository,
    Hl7Repository,
    IdempotencyRepository,
    RegistryRepository,
    SqlBulkRepository,
    SqlEncounterRepository,
    SqlHl7Repository,
    SqlIdempotencyRepository,
    SqlRegistryRepository,
)
from claimflow_shared.runtime.uow import SqlUnitOfWork, UnitOfWork


class IntakeUnitOfWork(UnitOfWork):
    encounters: EncounterRepository
    registry: RegistryRepository
    hl7: Hl7Repository
    idempotency: IdempotencyRepository
    bulk: BulkRepository


class SqlIntakeUnitOfWork(SqlUnitOfWork, IntakeUnitOfWork):
    def attach(self, session: AsyncSession) -> None:
        self.encounters = SqlEncounterRepository(session, self)
        self.registry = SqlRegistryRepository(session, self)
        self.hl7 = SqlHl7Repository(session, self)
        self.idempotency = SqlIdempotencyRepository(session, self)
        self.bulk = SqlBulkRepository(session, self)
