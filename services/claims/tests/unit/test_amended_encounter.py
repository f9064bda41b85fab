"""An amended encounter reaching claims (encounter.coded carrying `amendment`): a claim not
yet submitted is rebuilt and scrubbed again; a submitted one is left as the payer has it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from claimflow_claims.adapters.repository import ClaimRepository, EncounterKey
from claimflow_claims.adapters.tables import ClaimAudit, ClaimRecord
from claimflow_claims.handlers import load_claims_for_encounters, on_encounter_coded
from claimflow_claims.unit_of_work import ClaimsUnitOfWork
from claimflow_shared.events import Amendment, EncounterCoded, EventEnvelope
from claimflow_shared.runtime.uow import FakeUnitOfWork
from claimflow_shared.topics import CLAIM_REJECTED


class FakeClaimRepository(ClaimRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        super().__init__(uow)
        self.records: dict[EncounterKey, ClaimRecord] = {}

    async def load_for_encounters(self, keys: Iterable[EncounterKey]) -> None:
        pass

    async def for_encounter(self, tenant_id: str, encounter_id: str) -> ClaimRecord | None:
        return self.records.get((tenant_id, encounter_id))

    def add(self, record: ClaimRecord, *, actor: str, reason: str) -> None:
        self.records[(record.tenant_id, record.encounter_id)] = record
        self._audit(record, None, "created", actor=actor, reason=reason)

    def _changed(self, record: ClaimRecord) -> None:
        pass


class FakeClaimsUnitOfWork(FakeUnitOfWork, ClaimsUnitOfWork):
    def __init__(self) -> None:
        super().__init__(producer="claimflow-claims/test")
        self.claims = FakeClaimRepository(self)


def _event(coded: EncounterCoded, revision: int | None = None) -> EventEnvelope[EncounterCoded]:
    if revision is not None:
        amendment = Amendment(revision=revision, supersedes_revision=revision - 1)
        coded = coded.model_copy(update={"amendment": amendment})
    return EventEnvelope[EncounterCoded](
        event_id=uuid.uuid4(),
        event_type="encounter.coded",
        schema_version="1.1",
        tenant_id="acme",
        encounter_id="E0001",
        occurred_at=datetime.now(UTC),
        producer="test/1",
        payload=coded,
    )


def _on(make, service_date: date) -> EncounterCoded:
    return make.coded(lines=[make.line("99213", service_date=service_date)])


async def _handle(uow: FakeClaimsUnitOfWork, event: EventEnvelope[EncounterCoded]) -> None:
    uow.cause = event
    await load_claims_for_encounters(uow=uow, events=[event])
    await on_encounter_coded(uow=uow, event=event)


async def test_a_held_claim_is_rebuilt_from_the_amended_encounter_and_released(make):
    uow = FakeClaimsUnitOfWork()
    stale = date.today() - timedelta(days=500)  # past every timely-filing limit: held
    await _handle(uow, _event(_on(make, stale)))
    (record,) = uow.claims.records.values()
    assert record.state == "held"
    fixed = _event(_on(make, date.today() - timedelta(days=3)), revision=2)
    await _handle(uow, fixed)
    assert (record.state, record.coded_event_id) == ("ready", fixed.event_id)
    assert all(f["severity"] != "error" for f in record.findings)
    audit = uow.staged(ClaimAudit)
    assert [(a["from_state"], a["to_state"]) for a in audit] == [(None, "held"), ("held", "ready")]
    assert "revision 2" in audit[-1]["reason"]
    assert "claims-submitter" in uow.locks


async def test_a_submitted_claim_is_not_rebuilt(make):
    uow = FakeClaimsUnitOfWork()
    await _handle(uow, _event(_on(make, date.today() - timedelta(days=3))))
    (record,) = uow.claims.records.values()
    record.state, record.submission_file = "submitted", "837P-000000001.x12"
    before = record.claim
    await _handle(uow, _event(_on(make, date.today() - timedelta(days=4)), revision=2))
    assert (record.state, record.claim) == ("submitted", before)


async def test_a_repeat_without_an_amendment_changes_nothing(make):
    uow = FakeClaimsUnitOfWork()
    coded = _on(make, date.today() - timedelta(days=3))
    await _handle(uow, _event(coded))
    await _handle(uow, _event(coded))
    assert len(uow.staged(ClaimAudit)) == 1 and uow.locks == []


async def test_an_amendment_that_breaks_a_ready_claim_holds_it_with_the_reason(make):
    uow = FakeClaimsUnitOfWork()
    await _handle(uow, _event(_on(make, date.today() - timedelta(days=3))))
    await _handle(uow, _event(_on(make, date.today() - timedelta(days=500)), revision=2))
    (record,) = uow.claims.records.values()
    assert record.state == "held"
    assert [e.event_type for e in uow.emitted] == [CLAIM_REJECTED.event_type]


async def test_a_ready_claim_amended_clean_is_rebuilt_in_place_and_audited(make):
    uow = FakeClaimsUnitOfWork()
    await _handle(uow, _event(_on(make, date.today() - timedelta(days=3))))
    (record,) = uow.claims.records.values()
    before = record.claim
    line = make.line("99213", service_date=date.today() - timedelta(days=3))
    await _handle(uow, _event(make.coded(lines=[line], diagnoses=("J069",)), revision=2))
    assert record.state == "ready" and record.claim != before
    assert "R051" in before and "R051" not in record.claim
    assert uow.staged(ClaimAudit)[-1]["event"] == "rebuilt"
