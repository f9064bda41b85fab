"""The claims handlers over an in-memory unit of work: what they record and what they emit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from claimflow_claims import handlers
from claimflow_claims.adapters.tables import ClaimAudit, ClaimPaymentRecord
from claimflow_shared.events import EventEnvelope
from claimflow_shared.events.models import (
    ClaimDenied,
    DenialAction,
    DenialWorked,
    PaymentInfo,
    RemittanceAdjustment,
    RemittanceReceived,
)
from claimflow_shared.topics import TOPICS
from services.claims.tests.integration.lifecycle_support import coded_visit, days_ago


def event(payload, encounter_id: str = "E0001") -> EventEnvelope:
    topic = next(t for t in TOPICS.values() if t.payload is type(payload))
    return EventEnvelope[type(payload)](
        event_id=uuid.uuid4(),
        event_type=topic.event_type,
        schema_version=topic.version,
        tenant_id="acme",
        encounter_id=encounter_id,
        occurred_at=datetime.now(UTC),
        producer="test/1",
        payload=payload,
    )


async def handle(uow, handler, envelope) -> None:
    uow.cause = envelope
    await handler(uow=uow, event=envelope)


async def coded(uow, **visit):
    await handle(uow, handlers.on_encounter_coded, event(coded_visit(**visit)))
    return (await uow.claims.of_encounter("acme", "E0001"))[0]


def remittance(record, *, status="paid", code="1", paid="50.00", patient="20.00"):
    return RemittanceReceived(
        claim_id=record.claim_id,
        payer_claim_number="PCN1",
        status_code=code,
        status=status,
        total_charge=record.total_charge,
        paid=Decimal(paid),
        patient_responsibility=Decimal(patient),
        payment=PaymentInfo(method="ACH", trace_number="T1", payment_date=days_ago(0)),
        remittance_file_id="f1",
    )


async def accepted(uow, **visit):
    record = await coded(uow, **visit)
    record.state, record.payer_claim_number = "accepted", "PCN1"
    return record


async def test_a_clean_claim_is_recorded_scrubbed_and_its_steps_audited(uow):
    record = await coded(uow)
    assert (record.claim_id, record.state, record.claim_type) == ("C0001-1", "scrubbed", "837P")
    steps = [(r["from_state"], r["to_state"], r["actor"]) for r in uow.staged(ClaimAudit)]
    assert steps == [
        (None, "created", "claimflow-claims"),
        ("created", "scrubbed", "claimflow-claims/scrubber"),
    ]
    # Its claim.submitted will announce it; nothing is published twice.
    assert not uow.emitted_of("claim.state-changed") and not uow.emitted_of("claim.held")


async def test_a_claim_failing_an_edit_is_held_with_its_findings(uow):
    record = await coded(uow, lines=[("99213", 2, [], [1])])
    assert record.state == "held"
    [held] = uow.emitted_of("claim.held")
    assert [f.edit for f in held.payload.findings] == ["mue"]
    assert held.causation_id == uow.cause.event_id
    [rejected] = uow.emitted_of("claim.rejected")
    assert (rejected.payload.stage, rejected.payload.codes) == ("scrubber", ["mue"])


async def test_an_encounter_coded_again_is_left_alone(uow):
    await coded(uow)
    await handle(uow, handlers.on_encounter_coded, event(coded_visit()))
    assert len(uow.claims.records) == 1


async def test_a_facility_billing_for_itself_gets_an_837i(uow):
    record = await coded(
        uow,
        facility=True,
        encounter_class="emergency",
        place_of_service="23",
        lines=[("99284", 1, [], [1])],
        diagnoses=["R07.9"],
    )
    assert (record.claim_type, record.state) == ("837I", "scrubbed")


async def test_a_partial_payment_followed_by_a_full_one_ends_paid(uow):
    record = await accepted(uow)
    await handle(
        uow, handlers.on_remittance_received, event(remittance(record, status="partially-paid"))
    )
    await handle(uow, handlers.on_remittance_received, event(remittance(record)))
    assert record.state == "paid"


async def test_a_reversal_is_followed_and_the_readjudication_too(uow):
    record = await accepted(uow)
    for status, code in (("paid", "1"), ("reversed", "22"), ("denied", "1")):
        await handle(
            uow,
            handlers.on_remittance_received,
            event(remittance(record, status=status, code=code)),
        )
    states = [(r["from_state"], r["to_state"]) for r in uow.staged(ClaimAudit)][-3:]
    assert states == [("accepted", "paid"), ("paid", "reversed"), ("reversed", "denied")]


async def test_a_remittance_for_a_claim_never_sent_is_noted_not_applied(uow):
    record = await coded(uow, lines=[("99213", 2, [], [1])])
    await handle(uow, handlers.on_remittance_received, event(remittance(record)))
    assert record.state == "held"
    last = uow.staged(ClaimAudit)[-1]
    assert last["event"] == "remittance_ignored" and "held" in last["reason"]
    assert uow.staged(ClaimPaymentRecord), "the payment is kept on the claim"


async def test_the_patients_share_goes_to_the_next_coverage_once(uow):
    coverages = [
        {"payer": {"payer_id": "SIMPAYER2", "name": "P"}, "member_id": "M1", "priority": "primary"},
        {"payer": {"payer_id": "SUPP1", "name": "S"}, "member_id": "M2", "priority": "secondary"},
    ]
    record = await accepted(uow, coverages=coverages)
    await handle(uow, handlers.on_remittance_received, event(remittance(record)))
    await handle(uow, handlers.on_remittance_received, event(remittance(record)))
    claims = await uow.claims.of_encounter("acme", "E0001")
    assert [(c.claim_id, c.payer_id, c.payer_responsibility) for c in claims] == [
        ("C0001-1", "SIMPAYER2", "primary"),
        ("C0001-S2", "SUPP1", "secondary"),
    ]
    [changed] = uow.emitted_of("claim.state-changed")
    assert [t.event for t in changed.payload.transitions] == ["next_payer_billed"]


async def test_no_next_claim_without_a_patient_share_or_after_a_crossover(uow):
    coverages = [
        {"payer": {"payer_id": "SIMPAYER2", "name": "P"}, "member_id": "M1", "priority": "primary"},
        {"payer": {"payer_id": "SUPP1", "name": "S"}, "member_id": "M2", "priority": "secondary"},
    ]
    record = await accepted(uow, coverages=coverages)
    await handle(uow, handlers.on_remittance_received, event(remittance(record, patient="0.00")))
    await handle(uow, handlers.on_remittance_received, event(remittance(record, code="19")))
    assert len(await uow.claims.of_encounter("acme", "E0001")) == 1


async def test_a_denial_overtaking_its_835_denies_the_claim_and_keeps_its_category(uow):
    record = await accepted(uow)
    denial = ClaimDenied(
        claim_id=record.claim_id,
        adjustments=[RemittanceAdjustment(group="CO", carc="50", amount=record.total_charge)],
        denied_amount=record.total_charge,
        category="medical-necessity",
        recommended_action="appeal with records",
    )
    await handle(uow, handlers.on_claim_denied, event(denial))
    await handle(
        uow, handlers.on_remittance_received, event(remittance(record, status="denied", paid="0"))
    )
    assert record.state == "denied"
    assert record.denial["category"] == "medical-necessity"


async def test_a_denial_worked_without_a_payer_claim_number_is_noted(uow):
    record = await accepted(uow)
    record.state, record.payer_claim_number = "denied", None
    worked = DenialWorked(
        claim_id=record.claim_id,
        action=DenialAction.CORRECT_AND_RESUBMIT,
        reason="fix",
        worked_by="tenant:b",
    )
    await handle(uow, handlers.on_denial_worked, event(worked))
    assert record.state == "denied"
    assert uow.staged(ClaimAudit)[-1]["event"] == "denial_worked_ignored"
