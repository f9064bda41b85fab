"""Intake's unit of work in memory, for command tests in milliseconds; the domain tests'
builders live in `builders.py`."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from claimflow_intake.adapters.repository import DocumentKey, EncounterRepository
from claimflow_intake.adapters.tables import AcceptedEncounter
from claimflow_intake.unit_of_work import IntakeUnitOfWork
from claimflow_shared.runtime.uow import FakeUnitOfWork
from services.intake.tests.unit.builders import (  # noqa: F401
    ehr_bundle,
    registry,
    synthea_registry,
)


class FakeEncounterRepository(EncounterRepository):
    def __init__(self) -> None:
        self.rows: list[AcceptedEncounter] = []

    async def by_documents(
        self, tenant_id: str, keys: Iterable[DocumentKey]
    ) -> dict[DocumentKey, AcceptedEncounter]:
        wanted = set(keys)
        return {
            (r.source_system, r.document_id): r
            for r in self.rows
            if r.tenant_id == tenant_id and (r.source_system, r.document_id) in wanted
        }

    def add(self, encounter: AcceptedEncounter) -> None:
        self.rows.append(encounter)


class FakeIntakeUnitOfWork(FakeUnitOfWork, IntakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__(producer="claimflow-intake/test")
        self.encounters = FakeEncounterRepository()


@pytest.fixture
def uow() -> FakeIntakeUnitOfWork:
    return FakeIntakeUnitOfWork()
