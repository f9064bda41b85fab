"""Coding's unit of work: what its handlers see, and its SQL implementation."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_coding.adapters.repository import CodingRepository, SqlCodingRepository
from claimflow_shared.runtime.uow import SqlUnitOfWork, UnitOfWork


class CodingUnitOfWork(UnitOfWork):
    codings: CodingRepository


class SqlCodingUnitOfWork(SqlUnitOfWork, CodingUnitOfWork):
    def attach(self, session: AsyncSession) -> None:
        self.codings = SqlCodingRepository(session, self)
