"""The claim to the next payer: when there is one, and the earlier payer's adjudication in
its COB loops (2320/2330B, 2430 per line when the 835 lines balance)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from claimflow_claims.adapters.x12.writer_837i import write_837i
from claimflow_claims.adapters.x12.writer_837p import write_837p
from claimflow_claims.domain.cob import (
    NoNextPayer,
    adjudication_of,
    match_lines,
    next_payer_claim,
    next_payer_decision,
)
from claimflow_shared.events.models import (
    CoveragePriority,
    LineAdjustment,
    PaymentInfo,
    RemittanceAdjustment,
    RemittanceReceived,
)
from claimflow_shared.x12 import read_segments
from services.claims.tests.unit.claim_factory import generate_claims

PAID_ON = date(2025, 4, 2)


def adjustment(group: str, carc: str, amount: str) -> RemittanceAdjustment:
    return RemittanceAdjustment(group=group, carc=carc, amount=Decimal(amount))


def paid_lines(claim, *, echo_line_numbers=True):
    """An 835 that pays 60% of each line, 10% contractual, the rest coinsurance."""
    lines = []
    for line in claim.lines:
        paid = (line.charge * Decimal("0.6")).quantize(Decimal("0.01"))
        contractual = (line.charge * Decimal("0.1")).quantize(Decimal("0.01"))
        lines.append(
            LineAdjustment(
                line_number=line.line_number if echo_line_numbers else None,
                code=line.code or line.revenue_code,
                charge=line.charge,
                paid=paid,
                units=line.units,
                adjustments=[
                    adjustment("CO", "45", str(contractual)),
                    adjustment("PR", "2", str(line.charge - paid - contractual)),
                ],
            )
        )
    return lines


def remittance_for(claim, *, lines=None, status="paid", code="1", patient=None):
    lines = paid_lines(claim) if lines is None else lines
    paid = sum((line.paid for line in lines), Decimal("0.00"))
    share = sum(
        (a.amount for line in lines for a in line.adjustments if a.group.value == "PR"),
        Decimal("0.00"),
    )
    return RemittanceReceived(
        claim_id=claim.claim_id,
        payer_claim_number="ICN77",
        status_code=code,
        status=status,
        total_charge=claim.total_charge,
        paid=paid,
        patient_responsibility=share if patient is None else Decimal(patient),
        lines=lines,
        payment=PaymentInfo(method="ACH", trace_number="T", payment_date=PAID_ON),
        remittance_file_id="f",
    )


def primary(make, claim_type="837P"):
    [claim] = [
        c
        for c in generate_claims(seed=3, count=30, claim_type=claim_type)
        if c.frequency_code == "1" and not c.other_payers and c.patient_is_subscriber
    ][:1]
    return claim


@pytest.fixture
def secondary_coverage(make):
    return make.coverage(payer_id="SUPP9", priority=CoveragePriority.SECONDARY)


def test_the_next_coverage_is_billed_for_the_patients_share(make, secondary_coverage):
    claim = primary(make)
    decision = next_payer_decision(claim, remittance_for(claim), [secondary_coverage])
    assert decision == secondary_coverage


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"code": "19"}, "forwarded"),
        ({"status": "denied"}, "denied"),
        ({"patient": "0.00"}, "no patient responsibility"),
    ],
)
def test_no_next_claim_when_the_payer_forwarded_denied_or_left_nothing(
    make, secondary_coverage, changes, why
):
    claim = primary(make)
    decision = next_payer_decision(claim, remittance_for(claim, **changes), [secondary_coverage])
    assert isinstance(decision, NoNextPayer) and why in decision.reason


def test_no_next_claim_without_a_later_coverage(make):
    claim = primary(make)
    decision = next_payer_decision(claim, remittance_for(claim), [])
    assert isinstance(decision, NoNextPayer)


def test_lines_match_by_the_line_number_the_payer_echoed_or_by_code_and_charge(make):
    claim = primary(make)
    echoed = paid_lines(claim)
    assert match_lines(claim.lines, list(reversed(echoed))) is not None
    plain = paid_lines(claim, echo_line_numbers=False)
    assert set(match_lines(claim.lines, plain)) == {line.line_number for line in claim.lines}


def test_line_detail_goes_to_2430_when_every_line_balances(make):
    claim = primary(make)
    other = adjudication_of(claim, remittance_for(claim), on=PAID_ON)
    assert len(other.line_payments) == len(claim.lines) and not other.claim_adjustments
    for line, payment in zip(claim.lines, other.line_payments, strict=True):
        adjusted = sum((a.amount for a in payment.adjustments), Decimal(0))
        assert payment.paid + adjusted == line.charge
    assert other.paid == remittance_for(claim).paid and other.adjudicated_on == PAID_ON


def test_unbalanced_or_bundled_lines_go_to_2320_as_claim_level_adjustments(make):
    claim = primary(make)
    lines = paid_lines(claim)
    bundled = lines[:1] if len(lines) > 1 else []
    bad = [lines[0].model_copy(update={"paid": lines[0].paid + 1}), *lines[1:]]
    for case in (bundled, bad):
        if not case:
            continue
        other = adjudication_of(claim, remittance_for(claim, lines=case), on=PAID_ON)
        assert other.line_payments == ()
        groups = {(a.group.value, a.carc) for a in other.claim_adjustments}
        assert groups <= {("CO", "45"), ("PR", "2")} and len(groups) == len(
            other.claim_adjustments
        ), "one CAS entry per group and reason"


@pytest.mark.parametrize("claim_type", ["837P", "837I"])
def test_the_secondary_claim_carries_the_primary_and_passes_pyx12(
    make, secondary_coverage, claim_type, envelope, submitter, receiver, pyx12_validate
):
    claim = primary(make, claim_type)
    following = next_payer_claim(
        claim,
        remittance_for(claim),
        coverage=secondary_coverage,
        claim_id="C9-S2",
        claim_filing_indicator="CI",
        today=PAID_ON,
    )
    assert following.coverage == secondary_coverage
    [earlier] = following.other_payers
    assert earlier.coverage == claim.coverage and earlier.payer_claim_number == "ICN77"
    writer = write_837p if claim_type == "837P" else write_837i
    guide = "005010X222A1" if claim_type == "837P" else "005010X223A2"
    text = writer(
        [following],
        envelope=replace(envelope, version=guide),
        submitter=submitter,
        receiver=receiver,
    )
    verdict = pyx12_validate(text)
    assert verdict.ok, verdict.report()
    segments = list(read_segments(text))
    assert [s.el(1) for s in segments if s.id == "SBR"] == ["S", "P"]
    assert sum(1 for s in segments if s.id == "SVD") == len(claim.lines)
