"""Coding's repositories: each encounter's coding, the worklist, per-tenant settings. Lookups
the consumer needs per event are made a batch at a time (`load`) and answered from memory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_coding.adapters.tables import (
    CodingAction,
    EncounterCoding,
    TenantCodingSettings,
    WorklistClaim,
    WorklistItem,
)
from claimflow_shared.runtime.db import rows_by_encounter
from claimflow_shared.runtime.uow import UnitOfWork

EncounterKey = tuple[str, str]
"""(tenant id, encounter id)"""


@dataclass(frozen=True)
class WorklistFilter:
    """Which items a worklist view shows; `tenant_id` None means every tenant (operators)."""

    tenant_id: str | None
    statuses: tuple[str, ...]
    rule: str | None = None
    payer_id: str | None = None
    raised_before: datetime | None = None  # waiting at least this long
    raised_after: datetime | None = None  # waiting at most this long
    claimed_by: str | None = None
    hcc: str | None = None  # a category, or "any"
    after_id: int = 0
    limit: int = 100


def _has_hcc(column, hcc: str):
    return column != "," if hcc == "any" else column.like(f"%,{hcc},%")


class CodingRepository:
    async def load(self, keys: Iterable[EncounterKey]) -> None:
        """Look up the codings of many encounters at once."""

    async def get(self, tenant_id: str, encounter_id: str) -> EncounterCoding | None:
        raise NotImplementedError

    def add(self, record: EncounterCoding) -> None:
        raise NotImplementedError

    async def counts(self, tenant_id: str) -> dict[str, int]:
        raise NotImplementedError

    async def list(
        self,
        tenant_id: str,
        *,
        status: str | None = None,
        hcc: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[EncounterCoding]:
        """The tenant's encounter codings in id order (a risk-adjustment review reads those
        with HCC categories)."""
        raise NotImplementedError


class WorklistRepository:
    async def load(self, keys: Iterable[EncounterKey]) -> None:
        """Look up the worklist items of many encounters at once."""

    async def for_encounter(self, tenant_id: str, encounter_id: str) -> WorklistItem | None:
        raise NotImplementedError

    async def get(
        self, item_id: int, *, tenant_id: str | None, for_update: bool = False
    ) -> WorklistItem | None:
        """The item, if it belongs to `tenant_id` (any tenant when None); `for_update` reads
        it as committed now and holds its row until the transaction ends."""
        raise NotImplementedError

    def add(self, item: WorklistItem) -> None:
        raise NotImplementedError

    async def list(self, view: WorklistFilter) -> list[WorklistItem]:
        raise NotImplementedError

    async def open_claim(self, item_id: int) -> WorklistClaim | None:
        raise NotImplementedError

    def add_claim(self, claim: WorklistClaim) -> None:
        raise NotImplementedError

    def record(self, action: CodingAction) -> None:
        """Append to the audit trail."""
        raise NotImplementedError

    async def actions(self, tenant_id: str, encounter_id: str) -> list[CodingAction]:
        """The encounter's audit trail, oldest first."""
        raise NotImplementedError

    async def counts(self, tenant_id: str) -> dict[str, int]:
        raise NotImplementedError


class SettingsRepository:
    async def load(self, tenant_ids: Iterable[str]) -> None:
        """Look up many tenants' settings at once."""

    async def threshold(self, tenant_id: str) -> float | None:
        """The tenant's own auto-coding threshold, None when it uses the default."""
        raise NotImplementedError

    async def get(self, tenant_id: str) -> TenantCodingSettings | None:
        raise NotImplementedError

    def add(self, settings: TenantCodingSettings) -> None:
        raise NotImplementedError


class SqlCodingRepository(CodingRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self.session = session
        self.uow = uow
        self._known: dict[EncounterKey, EncounterCoding | None] = {}

    async def load(self, keys: Iterable[EncounterKey]) -> None:
        wanted = set(keys) - set(self._known)
        self._known |= await rows_by_encounter(self.session, EncounterCoding, wanted)

    async def get(self, tenant_id: str, encounter_id: str) -> EncounterCoding | None:
        await self.load([(tenant_id, encounter_id)])
        return self._known[(tenant_id, encounter_id)]

    def add(self, record: EncounterCoding) -> None:
        # Through the session, not staged: an amendment in the same batch updates it.
        self._known[(record.tenant_id, record.encounter_id)] = record
        self.session.add(record)

    async def list(
        self,
        tenant_id: str,
        *,
        status: str | None = None,
        hcc: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[EncounterCoding]:
        query = select(EncounterCoding).where(
            EncounterCoding.tenant_id == tenant_id, EncounterCoding.id > after_id
        )
        if status:
            query = query.where(EncounterCoding.status == status)
        if hcc:
            query = query.where(_has_hcc(EncounterCoding.hccs, hcc))
        rows = await self.session.execute(query.order_by(EncounterCoding.id).limit(limit))
        return list(rows.scalars())

    async def counts(self, tenant_id: str) -> dict[str, int]:
        rows = await self.session.execute(
            select(EncounterCoding.status, func.count())
            .where(EncounterCoding.tenant_id == tenant_id)
            .group_by(EncounterCoding.status)
        )
        return {status: n for status, n in rows.all()}


class SqlWorklistRepository(WorklistRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self.session = session
        self.uow = uow
        self._by_encounter: dict[EncounterKey, WorklistItem | None] = {}

    async def load(self, keys: Iterable[EncounterKey]) -> None:
        wanted = set(keys) - set(self._by_encounter)
        self._by_encounter |= await rows_by_encounter(self.session, WorklistItem, wanted)

    async def for_encounter(self, tenant_id: str, encounter_id: str) -> WorklistItem | None:
        await self.load([(tenant_id, encounter_id)])
        return self._by_encounter[(tenant_id, encounter_id)]

    async def get(
        self, item_id: int, *, tenant_id: str | None, for_update: bool = False
    ) -> WorklistItem | None:
        query = select(WorklistItem).where(WorklistItem.id == item_id)
        if tenant_id is not None:
            query = query.where(WorklistItem.tenant_id == tenant_id)
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return (await self.session.execute(query)).scalars().first()

    def add(self, item: WorklistItem) -> None:
        self._by_encounter[(item.tenant_id, item.encounter_id)] = item
        self.session.add(item)

    async def list(self, view: WorklistFilter) -> list[WorklistItem]:
        query = select(WorklistItem).where(
            WorklistItem.status.in_(view.statuses), WorklistItem.id > view.after_id
        )
        if view.tenant_id is not None:
            query = query.where(WorklistItem.tenant_id == view.tenant_id)
        if view.rule:
            query = query.where(WorklistItem.rules.like(f"%,{view.rule},%"))
        if view.payer_id:
            query = query.where(WorklistItem.payer_id == view.payer_id)
        if view.raised_before is not None:
            query = query.where(WorklistItem.raised_at <= view.raised_before)
        if view.raised_after is not None:
            query = query.where(WorklistItem.raised_at >= view.raised_after)
        if view.claimed_by:
            query = query.where(WorklistItem.claimed_by == view.claimed_by)
        if view.hcc:
            query = query.where(_has_hcc(WorklistItem.hccs, view.hcc))
        rows = await self.session.execute(query.order_by(WorklistItem.id).limit(view.limit))
        return list(rows.scalars())

    async def open_claim(self, item_id: int) -> WorklistClaim | None:
        rows = await self.session.execute(
            select(WorklistClaim)
            .where(WorklistClaim.item_id == item_id, WorklistClaim.ended_at.is_(None))  # type: ignore[union-attr]
            .order_by(WorklistClaim.id.desc())  # type: ignore[union-attr]
        )
        return rows.scalars().first()

    def add_claim(self, claim: WorklistClaim) -> None:
        self.session.add(claim)

    def record(self, action: CodingAction) -> None:
        self.uow.add(action)

    async def actions(self, tenant_id: str, encounter_id: str) -> list[CodingAction]:
        rows = await self.session.execute(
            select(CodingAction)
            .where(CodingAction.tenant_id == tenant_id, CodingAction.encounter_id == encounter_id)
            .order_by(CodingAction.id)
        )
        return list(rows.scalars())

    async def counts(self, tenant_id: str) -> dict[str, int]:
        rows = await self.session.execute(
            select(WorklistItem.status, func.count())
            .where(WorklistItem.tenant_id == tenant_id)
            .group_by(WorklistItem.status)
        )
        return {status: n for status, n in rows.all()}


class SqlSettingsRepository(SettingsRepository):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._known: dict[str, TenantCodingSettings | None] = {}

    async def load(self, tenant_ids: Iterable[str]) -> None:
        wanted = set(tenant_ids) - set(self._known)
        if not wanted:
            return
        rows = await self.session.execute(
            select(TenantCodingSettings).where(TenantCodingSettings.tenant_id.in_(wanted))  # type: ignore[attr-defined]
        )
        found = {r.tenant_id: r for r in rows.scalars()}
        self._known |= {tenant: found.get(tenant) for tenant in wanted}

    async def get(self, tenant_id: str) -> TenantCodingSettings | None:
        await self.load([tenant_id])
        return self._known[tenant_id]

    async def threshold(self, tenant_id: str) -> float | None:
        settings = await self.get(tenant_id)
        return settings.auto_code_threshold if settings else None

    def add(self, settings: TenantCodingSettings) -> None:
        self._known[settings.tenant_id] = settings
        self.session.add(settings)
