"""Coding's repository: one coding outcome per encounter, looked up a batch at a time."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_coding.adapters.tables import CodingRecord
from claimflow_shared.runtime.uow import UnitOfWork

EncounterKey = tuple[str, str]
"""(tenant id, encounter id)"""


class CodingRepository:
    async def load(self, keys: Iterable[EncounterKey]) -> None:
        """Look up the outcomes of many encounters at once, for `get` to answer from."""

    async def get(self, tenant_id: str, encounter_id: str) -> CodingRecord | None:
        raise NotImplementedError

    def add(self, record: CodingRecord) -> None:
        raise NotImplementedError

    async def worklist(self, tenant_id: str, *, limit: int) -> list[CodingRecord]:
        raise NotImplementedError

    async def counts(self, tenant_id: str) -> dict[str, int]:
        raise NotImplementedError


class SqlCodingRepository(CodingRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self.session = session
        self.uow = uow
        self._known: dict[EncounterKey, CodingRecord | None] = {}

    async def load(self, keys: Iterable[EncounterKey]) -> None:
        wanted = set(keys) - set(self._known)
        if not wanted:
            return
        rows = await self.session.execute(
            select(CodingRecord).where(
                CodingRecord.encounter_id.in_({encounter for _, encounter in wanted})
            )
        )
        found = {(r.tenant_id, r.encounter_id): r for r in rows.scalars()}
        self._known |= {key: found.get(key) for key in wanted}

    async def get(self, tenant_id: str, encounter_id: str) -> CodingRecord | None:
        await self.load([(tenant_id, encounter_id)])
        return self._known[(tenant_id, encounter_id)]

    def add(self, record: CodingRecord) -> None:
        self._known[(record.tenant_id, record.encounter_id)] = record
        self.uow.add(record)

    async def worklist(self, tenant_id: str, *, limit: int) -> list[CodingRecord]:
        rows = await self.session.execute(
            select(CodingRecord)
            .where(CodingRecord.tenant_id == tenant_id, CodingRecord.status == "query")
            .order_by(CodingRecord.decided_at)
            .limit(limit)
        )
        return list(rows.scalars())

    async def counts(self, tenant_id: str) -> dict[str, int]:
        rows = await self.session.execute(
            select(CodingRecord.status, func.count())
            .where(CodingRecord.tenant_id == tenant_id)
            .group_by(CodingRecord.status)
        )
        return {status: n for status, n in rows.all()}
