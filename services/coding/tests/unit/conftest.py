"""Coding's unit of work in memory, for handler tests in milliseconds."""

from __future__ import annotations

import pytest

from claimflow_coding.adapters.repository import CodingRepository
from claimflow_coding.adapters.tables import CodingRecord
from claimflow_coding.unit_of_work import CodingUnitOfWork
from claimflow_shared.runtime.uow import FakeUnitOfWork


class FakeCodingRepository(CodingRepository):
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], CodingRecord] = {}

    async def get(self, tenant_id: str, encounter_id: str) -> CodingRecord | None:
        return self.records.get((tenant_id, encounter_id))

    def add(self, record: CodingRecord) -> None:
        self.records[(record.tenant_id, record.encounter_id)] = record


class FakeCodingUnitOfWork(FakeUnitOfWork, CodingUnitOfWork):
    def __init__(self) -> None:
        super().__init__(producer="claimflow-coding/test")
        self.codings = FakeCodingRepository()


@pytest.fixture
def uow() -> FakeCodingUnitOfWork:
    return FakeCodingUnitOfWork()
