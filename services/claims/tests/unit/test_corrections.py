"""Claim ids, a biller's line corrections, replacements (7) and voids (8); charge capture;
what the payer's and the biller's words do to a claim."""

from __future__ import annotations

from decimal import Decimal

import pytest

from claimflow_claims.domain.charges import charge_encounter
from claimflow_claims.domain.corrections import (
    InvalidCorrection,
    apply_corrections,
    claim_id_for,
    replacement_claim,
    reprice,
    void_claim,
)
from claimflow_claims.domain.fee_schedule import FeeRow, FeeSchedule
from claimflow_claims.domain.lifecycle import (
    Refusal,
    Step,
    denial_work_step,
    remittance_step,
)
from claimflow_claims.domain.scrub_tables import PayerRules
from claimflow_claims.domain.scrubber import ScrubEdit, scrub_claim
from claimflow_claims.domain.states import ClaimEvent, ClaimState
from claimflow_shared.events.models import (
    CoveragePriority,
    DenialAction,
    DenialWorked,
    LineCorrection,
    PaymentInfo,
    RemittanceReceived,
)
from services.claims.tests.integration.lifecycle_support import coded_visit, days_ago


def test_the_original_keeps_its_id_and_later_claims_say_what_they_are():
    assert claim_id_for("E12AB") == "C12AB-1"
    assert [claim_id_for("E12AB", n, kind) for n, kind in ((2, "R"), (3, "V"), (4, "S"))] == [
        "C12AB-R2",
        "C12AB-V3",
        "C12AB-S4",
    ]


def test_a_corrected_line_is_priced_again_and_the_total_follows(make):
    claim = make.claim(lines=[make.line("97110", units=2), make.line("99213")])
    corrected = apply_corrections(
        claim, [LineCorrection(line_number=1, units=3)], fee_schedule=make.fee_schedule
    )
    assert corrected.lines[0].charge == Decimal("123.00")
    assert corrected.lines[1] == claim.lines[1]
    assert corrected.total_charge == Decimal("221.00")


@pytest.mark.parametrize(
    ("correction", "field"),
    [
        (LineCorrection(line_number=9, units=1), "corrections[0].line_number"),
        (LineCorrection(line_number=1, code="9921"), "corrections[0].code"),
    ],
)
def test_a_correction_that_cannot_apply_names_its_field(make, correction, field):
    with pytest.raises(InvalidCorrection) as refused:
        apply_corrections(make.claim(), [correction], fee_schedule=make.fee_schedule)
    assert str(refused.value).startswith(field)


def test_a_replacement_names_the_payers_claim_number_and_a_void_repeats_the_claim(make):
    claim = make.claim()
    replacement = replacement_claim(
        claim,
        claim_id="C1-R2",
        payer_claim_number="ICN9",
        corrections=[LineCorrection(line_number=1, modifiers=["25"])],
        fee_schedule=make.fee_schedule,
    )
    assert (replacement.frequency_code, replacement.original_claim_number) == ("7", "ICN9")
    assert replacement.lines[0].modifiers == ["25"]
    voiding = void_claim(claim, claim_id="C1-V3", payer_claim_number="ICN9")
    assert (voiding.frequency_code, voiding.lines) == ("8", claim.lines)


def test_repricing_follows_a_schedule_imported_since(make):
    claim = make.claim()
    dear = FeeSchedule.from_rows([FeeRow(("CPT", "99213", ""), Decimal("120.00"))])
    assert reprice(claim, fee_schedule=dear).total_charge == Decimal("120.00")


def test_an_unpriced_code_is_charged_nothing_and_held_by_the_scrubber():
    charged = charge_encounter(
        coded_visit(lines=[("99499", 1, [], [1])]),
        claim_id="C1-1",
        tenant_id="acme",
        encounter_id="E1",
        fee_schedule=FeeSchedule.load(),
        payer_rules=PayerRules(),
    )
    assert charged.claim.total_charge == 0
    findings = scrub_claim(charged.claim, today=days_ago(0))
    [finding] = [f for f in findings if f.edit is ScrubEdit.CHARGES and "99499" in f.message]
    assert "fee schedule" in finding.hint


def _two_coverages():
    return [
        {"payer": {"payer_id": "MCARE", "name": "P"}, "member_id": "M1", "priority": "primary"},
        {"payer": {"payer_id": "SUPP", "name": "S"}, "member_id": "M2", "priority": "secondary"},
    ]


@pytest.mark.parametrize(("crossover", "named"), [(True, 1), (False, 0)])
def test_later_payers_are_named_only_for_a_payer_that_crosses_claims_over(crossover, named):
    charged = charge_encounter(
        coded_visit(coverages=_two_coverages()),
        claim_id="C1-1",
        tenant_id="acme",
        encounter_id="E1",
        fee_schedule=FeeSchedule.load(),
        payer_rules=PayerRules(crossover=crossover, claim_filing_indicator="MB"),
    )
    assert len(charged.claim.other_payers) == named
    assert charged.claim.claim_filing_indicator == "MB"
    [later] = charged.later_coverages
    assert later.priority is CoveragePriority.SECONDARY


def _remittance(status: str) -> RemittanceReceived:
    return RemittanceReceived(
        claim_id="C1-1",
        payer_claim_number="ICN",
        status_code="22" if status == "reversed" else "1",
        status=status,
        total_charge=Decimal("10.00"),
        paid=Decimal("0.00"),
        patient_responsibility=Decimal("0.00"),
        payment=PaymentInfo(method="NON", trace_number="T", payment_date=None),
        remittance_file_id="f",
    )


def test_the_domain_decides_a_partially_paid_claim_paid_and_follows_reversals():
    paid = remittance_step(ClaimState.PARTIALLY_PAID, _remittance("paid"))
    assert isinstance(paid, Step) and paid.event is ClaimEvent.REMITTANCE_PAID
    reversal = remittance_step(ClaimState.PAID, _remittance("reversed"))
    assert isinstance(reversal, Step) and reversal.event is ClaimEvent.REMITTANCE_REVERSED
    assert "CLP02 22" in reversal.reason


def test_a_remittance_the_claim_cannot_take_is_refused_with_the_reason():
    refusal = remittance_step(ClaimState.HELD, _remittance("paid"))
    assert isinstance(refusal, Refusal) and "held" in refusal.reason


@pytest.mark.parametrize(
    ("action", "event"),
    [
        (DenialAction.APPEAL, ClaimEvent.APPEAL_FILED),
        (DenialAction.WRITE_OFF, ClaimEvent.WRITTEN_OFF),
        (DenialAction.BILL_PATIENT, ClaimEvent.BILLED_TO_PATIENT),
        (DenialAction.CORRECT_AND_RESUBMIT, ClaimEvent.REPLACEMENT_SENT),
    ],
)
def test_a_worked_denial_becomes_the_biller_step(action, event):
    worked = DenialWorked(
        claim_id="C1-1", action=action, reason="per payer call", worked_by="tenant:ann"
    )
    step = denial_work_step(ClaimState.DENIED, worked)
    assert isinstance(step, Step) and (step.event, step.actor) == (event, "tenant:ann")
