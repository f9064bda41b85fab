"""Intake's unit of work in memory, for command and handler tests in milliseconds; the domain
tests' builders live in `builders.py`."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Sequence

import pytest

from claimflow_intake.adapters.repository import (
    BulkRepository,
    DocumentKey,
    EncounterKey,
    EncounterRepository,
    Hl7Repository,
    IdempotencyRepository,
    RegistryRepository,
    entry_body,
    normalise_facility,
    provider_key,
)
from claimflow_intake.adapters.tables import (
    AcceptedEncounter,
    BulkJob,
    BulkResult,
    IdempotencyRecord,
    RegistryAudit,
)
from claimflow_intake.domain.hl7 import Registration
from claimflow_intake.domain.registry import TenantRegistry
from claimflow_intake.unit_of_work import IntakeUnitOfWork
from claimflow_shared.runtime.tables import TimelineEntry
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

    def add(self, values: dict) -> None:
        self.rows.append(AcceptedEncounter(**values))

    async def get(self, tenant_id: str, encounter_id: str) -> AcceptedEncounter | None:
        return next(
            (r for r in self.rows if (r.tenant_id, r.encounter_id) == (tenant_id, encounter_id)),
            None,
        )

    async def load(self, keys: Iterable[EncounterKey], *, for_update: bool = False) -> None:
        pass

    async def list(self, tenant_id: str, *, after_id: int, limit: int) -> list[AcceptedEncounter]:
        return [r for r in self.rows if r.tenant_id == tenant_id][:limit]

    async def timeline(self, tenant_id: str, encounter_id: str) -> list[TimelineEntry]:
        return []


class FakeRegistryRepository(RegistryRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow
        self.registries: dict[str, TenantRegistry] = {}
        self.versions: dict[str, int] = {}
        self.routes: dict[str, str] = {}
        self.facilities: dict[str, list[str]] = {}
        self.audit_rows: list[RegistryAudit] = []
        self._refs = itertools.count(1)

    def seed(self, master_data: TenantRegistry) -> None:
        self.registries[master_data.tenant_id] = self._numbered(master_data)

    def _numbered(self, master_data: TenantRegistry) -> TenantRegistry:
        return dataclasses.replace(
            master_data,
            providers=tuple(
                p if p.ref else dataclasses.replace(p, ref=next(self._refs))
                for p in master_data.providers
            ),
            facilities=tuple(
                f if f.ref else dataclasses.replace(f, ref=next(self._refs))
                for f in master_data.facilities
            ),
        )

    async def load(self, tenant_id: str) -> TenantRegistry:
        return self.registries.get(tenant_id, TenantRegistry(tenant_id))

    async def version(self, tenant_id: str) -> int:
        return self.versions.get(tenant_id, 0)

    async def save(self, before, after, *, principal, reason=None) -> TenantRegistry:
        saved = self._numbered(after)
        old = {entry_body(p)["payer_id"]: p for p in before.payers}
        new = {p.payer_id: p for p in after.payers}
        for key in old.keys() | new.keys():
            if old.get(key) != new.get(key):
                self._audit(after.tenant_id, principal, "payer", key, old.get(key), new.get(key))
        before_providers = {p.ref: p for p in before.providers}
        after_providers = {p.ref: p for p in saved.providers}
        for ref in before_providers.keys() | after_providers.keys():
            was, now = before_providers.get(ref), after_providers.get(ref)
            if was != now:
                key = provider_key(now or was)  # type: ignore[arg-type]
                self._audit(after.tenant_id, principal, "provider", key, was, now)
        if before.defaults != after.defaults:
            self._audit(
                after.tenant_id, principal, "tenant", "defaults", before.defaults, after.defaults
            )
        self.registries[after.tenant_id] = saved
        self.versions[after.tenant_id] = self.versions.get(after.tenant_id, 0) + 1
        return saved

    def _audit(self, tenant_id, principal, entity, key, before, after) -> None:
        action = "created" if before is None else "deleted" if after is None else "updated"
        self.audit_rows.append(
            RegistryAudit(
                tenant_id=tenant_id,
                principal=principal,
                action=action,
                entity=entity,
                key=key,
                before=entry_body(before) if before else None,
                after=entry_body(after) if after else None,
            )
        )

    async def hl7_facilities(self, tenant_id: str) -> list[str]:
        return self.facilities.get(tenant_id, [])

    async def route_hl7(
        self, tenant_id: str, facilities: Sequence[str], *, principal: str
    ) -> list[str]:
        taken = [
            f for f in facilities if self.routes.get(normalise_facility(f), tenant_id) != tenant_id
        ]
        if taken:
            return taken
        self.routes = {k: v for k, v in self.routes.items() if v != tenant_id}
        self.routes |= {normalise_facility(f): tenant_id for f in facilities}
        self.facilities[tenant_id] = sorted(facilities)
        return []

    async def tenant_of_facility(self, facility: str) -> str | None:
        return self.routes.get(normalise_facility(facility))

    async def audit(self, tenant_id: str, *, after_id: int, limit: int) -> list[RegistryAudit]:
        return [a for a in self.audit_rows if a.tenant_id == tenant_id][:limit]


class FakeHl7Repository(Hl7Repository):
    def __init__(self) -> None:
        self.registrations: dict[tuple[str, str], Registration] = {}

    async def registration(self, tenant_id: str, key: str) -> Registration | None:
        return self.registrations.get((tenant_id, key))

    async def save_registration(self, tenant_id: str, registration: Registration) -> None:
        self.registrations[(tenant_id, registration.key)] = registration


class FakeIdempotencyRepository(IdempotencyRepository):
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], IdempotencyRecord] = {}

    async def get(self, tenant_id: str, key: str) -> IdempotencyRecord | None:
        return self.records.get((tenant_id, key))

    def add(self, record: IdempotencyRecord) -> None:
        self.records[(record.tenant_id, record.key)] = record


class FakeBulkRepository(BulkRepository):
    def __init__(self) -> None:
        self.job_rows: dict[str, BulkJob] = {}
        self.result_rows: list[BulkResult] = []

    def add_job(self, job: BulkJob) -> None:
        self.job_rows[job.job_id] = job

    async def job(self, job_id: str, *, tenant_id: str | None = None) -> BulkJob | None:
        job = self.job_rows.get(job_id)
        return job if job and tenant_id in (None, job.tenant_id) else None

    async def jobs(self, tenant_id: str, *, limit: int) -> list[BulkJob]:
        return [j for j in self.job_rows.values() if j.tenant_id == tenant_id][:limit]

    async def unfinished(self) -> list[BulkJob]:
        return [j for j in self.job_rows.values() if j.status in ("queued", "running")]

    def add_results(self, results: Iterable[dict]) -> None:
        self.result_rows.extend(BulkResult(**r) for r in results)

    async def seen_documents(self, job_id: str, document_ids: Iterable[str]) -> set[str]:
        wanted = set(document_ids)
        rows = [r for r in self.result_rows if r.job_id == job_id]
        return {r.document_id for r in rows if r.document_id in wanted}  # type: ignore[misc]

    async def results(
        self, job_id: str, *, status: str | None, after: int, limit: int
    ) -> list[BulkResult]:
        rows = [
            r
            for r in self.result_rows
            if r.job_id == job_id and r.ordinal > after and status in (None, r.status)
        ]
        return rows[:limit]


class FakeIntakeUnitOfWork(FakeUnitOfWork, IntakeUnitOfWork):
    def __init__(self, principal: str | None = "tenant:tester") -> None:
        super().__init__(producer="claimflow-intake/test", principal=principal)
        self.encounters = FakeEncounterRepository()
        self.registry = FakeRegistryRepository(self)
        self.hl7 = FakeHl7Repository()
        self.idempotency = FakeIdempotencyRepository()
        self.bulk = FakeBulkRepository()


@pytest.fixture
def uow() -> FakeIntakeUnitOfWork:
    return FakeIntakeUnitOfWork()
