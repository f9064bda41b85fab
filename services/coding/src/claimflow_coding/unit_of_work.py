"""Coding's unit of work: what its handlers and commands see, and its SQL implementation."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_coding.adapters.repository import (
    CodingRepository,
    SettingsRepository,
    SqlCodingRepository,
    SqlSettingsRepository,
    SqlWorklistRepository,
    WorklistRepository,
)
from claimflow_shared.runtime.uow import SqlUnitOfWork, UnitOfWork


class CodingUnitOfWork(UnitOfWork):
    codings: CodingRepository
    worklist: WorklistRepository
    settings: SettingsRepository


class SqlCodingUnitOfWork(SqlUnitOfWork, CodingUnitOfWork):
    def attach(self, session: AsyncSession) -> None:
        self.codings = SqlCodingRepository(session, self)
        self.worklist = SqlWorklistRepository(session, self)
        self.settings = SqlSettingsRepository(session)
