"""The coder worklist over an in-memory unit of work: who may do what, what a decision
emits, and the audit trail it leaves."""

from __future__ import annotations

import pytest

from claimflow_coding.commands import (
    Caller,
    answer_query,
    claim_item,
    decide_item,
    query_provider,
    release_item,
    set_threshold,
)
from claimflow_coding.domain.worklist import (
    TRANSITIONS,
    Decision,
    ItemAction,
    ItemStatus,
    LineInput,
    WorklistError,
    next_status,
)
from claimflow_coding.handlers import on_encounter_documented
from claimflow_shared.events import CodeDecision
from claimflow_shared.topics import ENCOUNTER_CODED
from services.coding.tests.unit.builders import (
    PROBLEM_VISIT,
    envelope,
    snomed_dx,
    synthea,
    synthetic,
)

ANNA = Caller("tenant:anna", "acme")
BORIS = Caller("tenant:boris", "acme")


async def raise_item(uow, body):
    event = envelope(body)
    uow.cause = event
    await on_encounter_documented(uow=uow, event=event)
    uow.cause = None
    (item,) = uow.worklist.items.values()
    return item


def low_confidence():
    """A statement the coder is not sure enough about at the default threshold."""
    return synthetic(diagnoses=[{"sequence": 1, "text": "CHF exacerbation"}])


async def test_a_coder_claims_and_accepts_and_the_encounter_flows_on_as_coded(uow):
    item = await raise_item(uow, low_confidence())
    raised = uow.emitted[-1]
    await claim_item(uow=uow, item_id=item.id, caller=ANNA)
    await decide_item(uow=uow, item_id=item.id, caller=ANNA, decision=Decision())
    coded = uow.emitted[-1]
    assert coded.event_type == ENCOUNTER_CODED.event_type
    assert coded.causation_id == raised.event_id
    (diagnosis,) = coded.payload.final_diagnoses
    assert (diagnosis.code, diagnosis.decision, diagnosis.decided_by, diagnosis.method) == (
        "I509",
        CodeDecision.SUGGESTED_ACCEPTED,
        "tenant:anna",
        "cac",
    )
    assert diagnosis.confidence is not None and diagnosis.confidence < 0.8
    assert coded.payload.coded_by == "tenant:anna"
    assert (item.status, item.resolved_by) == ("resolved", "tenant:anna")
    assert uow.codings.records[("acme", item.encounter_id)].status == "coded"
    trail = [(a.action, a.principal) for a in uow.worklist.trail]
    assert trail == [
        ("raise", "claimflow-coding/auto"),
        ("claim", "tenant:anna"),
        ("accept", "tenant:anna"),
    ]
    accept = uow.worklist.trail[-1]
    assert accept.before["status"] == "claimed" and accept.after["status"] == "resolved"
    assert accept.after["final_diagnoses"] == ["I509"]
    assert uow.worklist.claims[0].outcome == "resolved"


async def test_nobody_decides_an_item_without_holding_it(uow):
    item = await raise_item(uow, low_confidence())
    with pytest.raises(WorklistError, match="claim the item first"):
        await decide_item(uow=uow, item_id=item.id, caller=ANNA, decision=Decision())
    await claim_item(uow=uow, item_id=item.id, caller=ANNA)
    with pytest.raises(WorklistError, match="already claimed by tenant:anna"):
        await claim_item(uow=uow, item_id=item.id, caller=BORIS)
    with pytest.raises(WorklistError, match="claimed by tenant:anna"):
        await decide_item(uow=uow, item_id=item.id, caller=BORIS, decision=Decision())
    assert [e.event_type for e in uow.emitted] == ["coding.query-raised"]


async def test_a_coder_may_take_over_an_item_and_the_trail_says_so(uow):
    item = await raise_item(uow, low_confidence())
    await claim_item(uow=uow, item_id=item.id, caller=ANNA)
    await claim_item(uow=uow, item_id=item.id, caller=BORIS, take_over=True)
    assert item.claimed_by == "tenant:boris"
    assert uow.worklist.claims[0].outcome == "taken over by tenant:boris"
    assert uow.worklist.trail[-1].note == "taken over"
    await release_item(uow=uow, item_id=item.id, caller=BORIS)
    assert (item.status, item.claimed_by) == ("open", None)


async def test_another_tenants_item_is_not_found(uow):
    item = await raise_item(uow, low_confidence())
    with pytest.raises(WorklistError) as error:
        await claim_item(uow=uow, item_id=item.id, caller=Caller("tenant:eve", "other"))
    assert error.value.kind == "not-found"


async def test_a_correction_is_the_coders_and_keeps_what_it_confirms(uow):
    item = await raise_item(
        uow,
        synthetic(
            diagnoses=[
                {"sequence": 1, "text": "CHF exacerbation"},
                {"sequence": 2, "code": "I10"},
            ]
        ),
    )
    await claim_item(uow=uow, item_id=item.id, caller=ANNA)
    await decide_item(
        uow=uow,
        item_id=item.id,
        caller=ANNA,
        decision=Decision(diagnoses=["I50.23", "I10"], note="acute on chronic systolic"),
    )
    coded = uow.emitted[-1].payload
    assert [(d.code, d.decision, d.method) for d in coded.final_diagnoses] == [
        ("I5023", CodeDecision.CODER, "coder"),
        ("I10", CodeDecision.GIVEN, "given"),
    ]
    # The suggested lines keep following the codes they pointed at.
    assert {tuple(x.diagnosis_pointers) for x in coded.service_lines} <= {
        (1, 2),
        (2, 1),
        (1,),
        (2,),
    }
    assert uow.worklist.trail[-1].action == "correct"


async def test_a_correction_that_fails_an_edit_is_refused_unless_overridden_with_a_note(uow):
    item = await raise_item(uow, low_confidence())
    await claim_item(uow=uow, item_id=item.id, caller=ANNA)
    conflicting = ["E10.9", "E11.9"]
    with pytest.raises(WorklistError) as error:
        await decide_item(
            uow=uow, item_id=item.id, caller=ANNA, decision=Decision(diagnoses=conflicting)
        )
    assert error.value.kind == "invalid" and "ICD-EXCLUDES1" in error.value.reason
    with pytest.raises(WorklistError, match="needs a note"):
        await decide_item(
            uow=uow,
            item_id=item.id,
            caller=ANNA,
            decision=Decision(diagnoses=conflicting, overrides=["ICD-EXCLUDES1"]),
        )
    await decide_item(
        uow=uow,
        item_id=item.id,
        caller=ANNA,
        decision=Decision(
            diagnoses=conflicting, overrides=["ICD-EXCLUDES1"], note="payer policy allows"
        ),
    )
    notes = uow.emitted[-1].payload.notes
    assert any(n.rule == "ICD-EXCLUDES1" for n in notes)
    assert any((n.rule or "").startswith("OVERRIDE:") for n in notes)


async def test_lines_a_coder_enters_are_checked_and_replace_the_suggestion(uow):
    item = await raise_item(
        uow, synthea([snomed_dx(1, "59621000", "Essential hypertension")], [PROBLEM_VISIT])
    )
    await claim_item(uow=uow, item_id=item.id, caller=ANNA)
    with pytest.raises(WorklistError, match="nothing was suggested"):
        await decide_item(uow=uow, item_id=item.id, caller=ANNA, decision=Decision())
    with pytest.raises(WorklistError, match="diagnosis_pointers"):
        await decide_item(
            uow=uow,
            item_id=item.id,
            caller=ANNA,
            decision=Decision(diagnoses=["I10"], lines=[LineInput("CPT", "99213", [2])]),
        )
    await decide_item(
        uow=uow,
        item_id=item.id,
        caller=ANNA,
        decision=Decision(diagnoses=["I10"], lines=[LineInput("CPT", "99213", [1])]),
    )
    (line,) = uow.emitted[-1].payload.service_lines
    assert (line.code, line.decision, line.decided_by) == (
        "99213",
        CodeDecision.CODER,
        "tenant:anna",
    )


async def test_a_provider_query_waits_for_the_answer_which_can_resolve_the_item(uow):
    item = await raise_item(uow, low_confidence())
    await claim_item(uow=uow, item_id=item.id, caller=ANNA)
    await query_provider(
        uow=uow, item_id=item.id, caller=ANNA, question="Acuity and type of the heart failure?"
    )
    assert item.status == "queried"
    with pytest.raises(WorklistError, match="cannot accept an item that is queried"):
        await decide_item(uow=uow, item_id=item.id, caller=ANNA, decision=Decision())
    await answer_query(
        uow=uow,
        item_id=item.id,
        caller=ANNA,
        answer="Acute on chronic diastolic heart failure",
        decision=Decision(diagnoses=["I50.33"], method="provider-answer"),
    )
    assert item.status == "resolved" and item.provider_answer.startswith("Acute")
    (diagnosis,) = uow.emitted[-1].payload.final_diagnoses
    assert (diagnosis.code, diagnosis.method) == ("I5033", "provider-answer")
    assert [a.action for a in uow.worklist.trail][-3:] == ["query-provider", "answer", "correct"]


async def test_an_answer_without_codes_returns_the_item_to_its_coder(uow):
    item = await raise_item(uow, low_confidence())
    await claim_item(uow=uow, item_id=item.id, caller=ANNA)
    await query_provider(uow=uow, item_id=item.id, caller=ANNA, question="Type?")
    await answer_query(uow=uow, item_id=item.id, caller=ANNA, answer="Unspecified")
    assert (item.status, item.claimed_by) == ("answered", "tenant:anna")
    await decide_item(uow=uow, item_id=item.id, caller=ANNA, decision=Decision())
    assert item.status == "resolved"


async def test_a_decision_on_a_stale_revision_is_refused(uow):
    item = await raise_item(uow, low_confidence())
    await claim_item(uow=uow, item_id=item.id, caller=ANNA)
    with pytest.raises(WorklistError) as error:
        await decide_item(uow=uow, item_id=item.id, caller=ANNA, decision=Decision(), revision=2)
    assert error.value.kind == "conflict" and error.value.field == "revision"


async def test_a_threshold_change_is_audited_with_before_and_after(uow):
    await set_threshold(uow=uow, tenant_id="acme", threshold=0.9, principal="operator:ops")
    await set_threshold(uow=uow, tenant_id="acme", threshold=0.95, principal="operator:ops")
    assert await uow.settings.threshold("acme") == 0.95
    last = uow.worklist.trail[-1]
    assert (last.action, last.before, last.after) == (
        "set-threshold",
        {"auto_code_threshold": 0.9},
        {"auto_code_threshold": 0.95},
    )


def test_every_waiting_item_can_be_superseded_and_any_item_reopened():
    for status in ItemStatus:
        assert TRANSITIONS[(status, ItemAction.REOPEN)] is ItemStatus.OPEN
    assert (ItemStatus.RESOLVED, ItemAction.SUPERSEDE) not in TRANSITIONS
    with pytest.raises(WorklistError):
        next_status("resolved", ItemAction.ACCEPT, holder="x", principal="x")
