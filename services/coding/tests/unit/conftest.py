"""Coding's unit of work in memory, for handler and command tests in milliseconds."""

from __future__ import annotations

import pytest

from claimflow_coding.adapters.repository import (
    CodingRepository,
    SettingsRepository,
    WorklistFilter,
    WorklistRepository,
)
from claimflow_coding.adapters.tables import (
    CodingAction,
    EncounterCoding,
    TenantCodingSettings,
    WorklistClaim,
    WorklistItem,
)
from claimflow_coding.unit_of_work import CodingUnitOfWork
from claimflow_shared.runtime.uow import FakeUnitOfWork


class FakeCodingRepository(CodingRepository):
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], EncounterCoding] = {}

    async def get(self, tenant_id: str, encounter_id: str) -> EncounterCoding | None:
        return self.records.get((tenant_id, encounter_id))

    def add(self, record: EncounterCoding) -> None:
        self.records[(record.tenant_id, record.encounter_id)] = record

    async def list(self, tenant_id: str, **_) -> list[EncounterCoding]:
        return [r for (tenant, _), r in self.records.items() if tenant == tenant_id]

    async def counts(self, tenant_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (tenant, _), record in self.records.items():
            if tenant == tenant_id:
                counts[record.status] = counts.get(record.status, 0) + 1
        return counts


class FakeWorklistRepository(WorklistRepository):
    def __init__(self) -> None:
        self.items: dict[int, WorklistItem] = {}
        self.claims: list[WorklistClaim] = []
        self.trail: list[CodingAction] = []

    async def for_encounter(self, tenant_id: str, encounter_id: str) -> WorklistItem | None:
        return next(
            (
                i
                for i in self.items.values()
                if (i.tenant_id, i.encounter_id) == (tenant_id, encounter_id)
            ),
            None,
        )

    async def get(
        self, item_id: int, *, tenant_id: str | None, for_update: bool = False
    ) -> WorklistItem | None:
        item = self.items.get(item_id)
        if item is None or (tenant_id is not None and item.tenant_id != tenant_id):
            return None
        return item

    def add(self, item: WorklistItem) -> None:
        item.id = len(self.items) + 1
        self.items[item.id] = item

    async def list(self, view: WorklistFilter) -> list[WorklistItem]:
        return [
            i
            for i in sorted(self.items.values(), key=lambda i: i.id or 0)
            if i.status in view.statuses
            and (view.tenant_id is None or i.tenant_id == view.tenant_id)
            and (view.rule is None or f",{view.rule}," in i.rules)
            and (view.payer_id is None or i.payer_id == view.payer_id)
            and (i.id or 0) > view.after_id
        ][: view.limit]

    async def open_claim(self, item_id: int) -> WorklistClaim | None:
        return next(
            (c for c in reversed(self.claims) if c.item_id == item_id and c.ended_at is None),
            None,
        )

    def add_claim(self, claim: WorklistClaim) -> None:
        self.claims.append(claim)

    def record(self, action: CodingAction) -> None:
        self.trail.append(action)

    async def actions(self, tenant_id: str, encounter_id: str) -> list[CodingAction]:
        return [a for a in self.trail if (a.tenant_id, a.encounter_id) == (tenant_id, encounter_id)]


class FakeSettingsRepository(SettingsRepository):
    def __init__(self) -> None:
        self.rows: dict[str, TenantCodingSettings] = {}

    async def get(self, tenant_id: str) -> TenantCodingSettings | None:
        return self.rows.get(tenant_id)

    async def threshold(self, tenant_id: str) -> float | None:
        row = self.rows.get(tenant_id)
        return row.auto_code_threshold if row else None

    def add(self, settings: TenantCodingSettings) -> None:
        self.rows[settings.tenant_id] = settings


class FakeCodingUnitOfWork(FakeUnitOfWork, CodingUnitOfWork):
    def __init__(self) -> None:
        super().__init__(producer="claimflow-coding/test")
        self.codings = FakeCodingRepository()
        self.worklist = FakeWorklistRepository()
        self.settings = FakeSettingsRepository()


@pytest.fixture
def uow() -> FakeCodingUnitOfWork:
    return FakeCodingUnitOfWork()
