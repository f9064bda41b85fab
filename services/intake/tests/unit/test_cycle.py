"""Where an encounter stands across the cycle, learned from the other stages' events, which
intake may read out of order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from claimflow_cli.synthetic import encounter
from claimflow_intake.domain.cycle import CycleState, CycleStatus, advance_cycle
from claimflow_intake.handlers import (
    accept_encounters,
    on_claim_rejected,
    on_claim_submitted,
    on_coding_query_raised,
    on_encounter_coded,
    on_remittance_received,
)
from claimflow_shared.events import (
    ClaimRejected,
    ClaimSubmitted,
    CodingQueryRaised,
    EncounterDocumented,
    EventEnvelope,
    QueryReason,
    RemittanceReceived,
)

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_the_later_fact_wins_whatever_order_it_is_learnt_in():
    start = CycleState(CycleStatus.ACCEPTED, _at(0))
    paid = advance_cycle(start, CycleStatus.PAID, _at(30), claim_id="C1-1")
    late_coded = advance_cycle(paid, CycleStatus.CODED, _at(5))
    assert late_coded == CycleState(CycleStatus.PAID, _at(30), "C1-1")
    assert late_coded.stopped


def test_an_amendment_after_payment_reopens_the_cycle():
    paid = CycleState(CycleStatus.PAID, _at(30), "C1-1")
    amended = advance_cycle(paid, CycleStatus.AMENDED, _at(60))
    assert amended.status is CycleStatus.AMENDED and not amended.stopped
    assert amended.claim_id == "C1-1"


def test_the_same_instant_goes_to_the_later_stage():
    coded = advance_cycle(CycleState(CycleStatus.ACCEPTED, _at(0)), CycleStatus.CODED, _at(0))
    assert coded.status is CycleStatus.CODED


def test_a_database_instant_without_its_zone_is_read_as_utc():
    stored = CycleState(CycleStatus.CODED, _at(10).replace(tzinfo=None))
    assert advance_cycle(stored, CycleStatus.SUBMITTED, _at(11)).status is CycleStatus.SUBMITTED


def _event(payload, encounter_id: str, at: datetime, event_type: str) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version="1.0",
        tenant_id="acme",
        encounter_id=encounter_id,
        occurred_at=at,
        producer="test/1",
        payload=payload,
    )


async def _accepted(uow) -> str:
    body = EncounterDocumented.model_validate(encounter("acme", 1))
    (done,) = await accept_encounters(uow=uow, tenant_id="acme", encounters=[body], channel="json")
    return done.encounter_id


async def test_the_stages_events_move_the_encounters_status(uow):
    encounter_id = await _accepted(uow)
    (row,) = uow.encounters.rows
    later = datetime.now(UTC) + timedelta(minutes=1)
    query = CodingQueryRaised(
        source=EncounterDocumented.model_validate(encounter("acme", 1)).source,
        reasons=[QueryReason(field="/diagnoses/0", problem="not billable")],
    )
    await on_coding_query_raised(
        uow=uow, event=_event(query, encounter_id, later, "coding.query-raised")
    )
    assert row.status == "coding-query"
    held = ClaimRejected(claim_id="C1-1", stage="scrubber", reasons=["timely-filing"])
    await on_claim_rejected(
        uow=uow,
        event=_event(held, encounter_id, later + timedelta(minutes=1), "claim.rejected"),
    )
    assert (row.status, row.claim_id) == ("claim-held", "C1-1")


async def test_events_of_encounters_intake_never_accepted_change_nothing(uow):
    held = ClaimRejected(claim_id="C1-1", stage="999", reasons=["syntax"])
    await on_claim_rejected(uow=uow, event=_event(held, "EUNKNOWN", T0, "claim.rejected"))
    assert uow.encounters.rows == []


async def test_submission_then_the_payers_denial_settle_the_encounter(uow):
    encounter_id = await _accepted(uow)
    (row,) = uow.encounters.rows
    later = datetime.now(UTC) + timedelta(minutes=1)
    coded = EncounterDocumented.model_validate(encounter("acme", 1))
    await on_encounter_coded(uow=uow, event=_event(coded, encounter_id, later, "encounter.coded"))
    assert row.status == "coded"
    submitted = ClaimSubmitted.model_construct(claim_id="C1-1")
    denied = RemittanceReceived.model_construct(claim_id="C1-1", status="denied")
    # The remittance is read before the submission: the later fact still wins.
    await on_remittance_received(
        uow=uow,
        event=_event(denied, encounter_id, later + timedelta(hours=2), "remittance.received"),
    )
    await on_claim_submitted(
        uow=uow,
        event=_event(submitted, encounter_id, later + timedelta(hours=1), "claim.submitted"),
    )
    assert (row.status, row.claim_id) == ("denied", "C1-1")
