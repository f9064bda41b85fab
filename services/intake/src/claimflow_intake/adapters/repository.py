"""Intake's repository: accepted source documents, looked up a whole batch at a time."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_intake.adapters.tables import AcceptedEncounter
from claimflow_shared.runtime.uow import UnitOfWork

DocumentKey = tuple[str, str]
"""(source system, document id)"""


class EncounterRepository:
    """Accepted encounters of one tenant, by source document."""

    async def by_documents(
        self, tenant_id: str, keys: Iterable[DocumentKey]
    ) -> dict[DocumentKey, AcceptedEncounter]:
        raise NotImplementedError

    def add(self, encounter: AcceptedEncounter) -> None:
        raise NotImplementedError

    async def list(self, tenant_id: str, *, after_id: int, limit: int) -> list[AcceptedEncounter]:
        raise NotImplementedError


class SqlEncounterRepository(EncounterRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self.session = session
        self.uow = uow

    async def by_documents(
        self, tenant_id: str, keys: Iterable[DocumentKey]
    ) -> dict[DocumentKey, AcceptedEncounter]:
        wanted = set(keys)
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(AcceptedEncounter).where(
                AcceptedEncounter.tenant_id == tenant_id,
                AcceptedEncounter.document_id.in_({doc for _, doc in wanted}),
            )
        )
        found = {(r.source_system, r.document_id): r for r in rows.scalars()}
        return {key: row for key, row in found.items() if key in wanted}

    def add(self, encounter: AcceptedEncounter) -> None:
        self.uow.add(encounter)

    async def list(self, tenant_id: str, *, after_id: int, limit: int) -> list[AcceptedEncounter]:
        rows = await self.session.execute(
            select(AcceptedEncounter)
            .where(AcceptedEncounter.tenant_id == tenant_id, AcceptedEncounter.id > after_id)
            .order_by(AcceptedEncounter.id)
            .limit(limit)
        )
        return list(rows.scalars())
