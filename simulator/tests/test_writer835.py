import time
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from claimflow_shared.x12 import read_segments
from payer_simulator.adjudication import PayerContext, adjudicate, reprocess
from payer_simulator.model import Adjustment, reversal_of
from payer_simulator.provider_adjustments import ProviderAdjustment
from payer_simulator.reader837 import OtherPayerPaid, read_837
from payer_simulator.writer835 import (
    ClaimAcknowledgment,
    PayerIdentity,
    PaymentMethod,
    acknowledgments_for,
    write_277ca,
    write_835,
    write_999,
    x12_amount,
)

PAYER = PayerIdentity(name="SIMULATED HEALTH PLAN", payer_id="SIMPAYER1")
CREATED = datetime(2025, 2, 3, 10, 30, tzinfo=UTC)


def remit(adjudications, method=PaymentMethod.ACH, **overrides):
    arguments = dict(
        payer=PAYER,
        payee_npi="1234567893",
        payee_name="RIVERSIDE FAMILY PRACTICE",
        payee_tax_id="371234567",
        interchange_control_number=17,
        payment_date=date(2025, 2, 3),
        trace_number="SIM000017",
        payment_method=method,
        created_at=CREATED,
    )
    return write_835(adjudications, **{**arguments, **overrides})


def segments(text):
    return [list(seg.elements) for seg in read_segments(text)]


@pytest.mark.parametrize(
    ("amount", "text"),
    [("100.00", "100"), ("40.50", "40.5"), ("0.00", "0"), ("-5.10", "-5.1"), ("0.07", "0.07")],
)
def test_amounts_are_written_without_trailing_zeros(amount, text):
    assert x12_amount(Decimal(amount)) == text


def test_835_balances_for_paid_and_denied_claims(make, balance_errors):
    adjudications = [adjudicate(c, seed=4, denial_rate=0.3) for c in make.claims(300)]
    assert any(a.denied for a in adjudications) and not all(a.denied for a in adjudications)

    text = remit(adjudications)

    assert balance_errors(text) == []
    bpr = next(s for s in segments(text) if s[0] == "BPR")
    assert Decimal(bpr[2]) == sum((a.paid for a in adjudications), Decimal(0))
    assert bpr[16] == "20250203"


def test_835_names_claims_lines_and_codes(make):
    adjudications = [adjudicate(c, seed=4, denial_rate=0.3) for c in make.claims(40)]
    found = segments(remit(adjudications))

    clps = [s for s in found if s[0] == "CLP"]
    assert [s[1] for s in clps] == [a.claim.claim_id for a in adjudications]
    # Denied claims are reported processed (1) with nothing paid; 4 only for unknown patients.
    assert "1" in {s[2] for s in clps} <= {"1", "4"}
    assert any(s[2] == "1" and s[4] == "0" for s in clps)
    assert all(s[7] for s in clps)  # payer claim control number
    assert any(s[:2] == ["SVC", "HC:99213:25"] for s in found)
    assert ["N1", "PE", "RIVERSIDE FAMILY PRACTICE", "XX", "1234567893"] in found
    assert ["PER", "BL", "PROVIDER SERVICES", "TE", "8005550199"] in found
    assert ["REF", "2U", "SIMPAYER1"] in found
    assert any(s[:2] == ["LQ", "HE"] for s in found)
    assert any(s[:2] == ["AMT", "B6"] for s in found)


def test_835_paid_by_ach_passes_pyx12(make, pyx12_check):
    adjudications = [adjudicate(c, seed=4, denial_rate=0.3) for c in make.claims(60)]

    verdict = pyx12_check(remit(adjudications))

    assert verdict.ok, verdict.explain()


def test_835_paid_by_check_passes_pyx12(make, pyx12_check):
    adjudications = [adjudicate(c, seed=8, denial_rate=0.1) for c in make.claims(10)]

    text = remit(adjudications, PaymentMethod.CHECK)
    verdict = pyx12_check(text)

    assert verdict.ok, verdict.explain()
    assert next(s for s in segments(text) if s[0] == "BPR")[4] == "CHK"


def test_835_of_only_denials_is_a_notification_that_passes_pyx12(make, pyx12_check):
    adjudications = [adjudicate(c, seed=8, denial_rate=1.0) for c in make.claims(5)]

    text = remit(adjudications)
    verdict = pyx12_check(text)

    assert verdict.ok, verdict.explain()
    assert next(s for s in segments(text) if s[0] == "BPR")[1:5] == ["H", "0", "C", "NON"]


def test_835_for_every_public_837p_sample_passes_pyx12(samples: Path, pyx12_check, balance_errors):
    claims = [
        c for p in sorted((samples / "837P").iterdir()) for c in read_837(p.read_text()).claims
    ]
    for seed in (1, 2, 3):
        text = remit([adjudicate(c, seed=seed, denial_rate=0.3) for c in claims])
        verdict = pyx12_check(text)
        assert verdict.ok, verdict.explain()
        assert balance_errors(text) == []


def test_pyx12_oracle_notices_a_broken_835(make, pyx12_check):
    text = remit([adjudicate(c, seed=4, denial_rate=0.0) for c in make.claims(3)])
    broken = "\n".join(line for line in text.splitlines() if not line.startswith("PER*BL"))

    assert not pyx12_check(broken).ok


def test_999_accepting_an_837_passes_pyx12(make, pyx12_check):
    interchange = read_837(make.x837([make.spec("C-1")], interchange_control_number=55))

    text = write_999(acknowledgments_for(interchange), interchange_control_number=9)
    verdict = pyx12_check(text)

    assert verdict.ok, verdict.explain()
    found = segments(text)
    assert ["AK1", "HC", "55", "005010X222A1"] in found
    assert ["AK2", "837", "0001", "005010X222A1"] in found
    assert ["IK5", "A"] in found and ["AK9", "A", "1", "1", "1"] in found


def test_999_rejecting_a_broken_837_names_segments_and_passes_pyx12(make, pyx12_check):
    text = make.x837([make.spec("C-1", charges=("12.x0",), total="12.x0")])

    ack = write_999(acknowledgments_for(read_837(text)), interchange_control_number=9)
    verdict = pyx12_check(ack)

    assert verdict.ok, verdict.explain()
    found = segments(ack)
    assert any(s[:2] == ["IK3", "CLM"] for s in found)
    assert ["CTX", "CLM01:C-1"] in found
    assert ["IK4", "2", "", "6", "12.x0"] in found
    assert ["IK5", "R", "5"] in found and ["AK9", "R", "1", "1", "0"] in found


def test_999_for_a_truncated_837_rejects_the_group(make, pyx12_check):
    text = make.x837([make.spec("C-1")])

    ack = write_999(
        acknowledgments_for(read_837(text[: text.index("SE*")])), interchange_control_number=9
    )
    verdict = pyx12_check(ack)

    assert verdict.ok, verdict.explain()
    found = segments(ack)
    assert ["IK5", "R", "2"] in found
    assert ["AK9", "R", "1", "1", "0", "3"] in found


def test_277ca_with_accepted_and_rejected_claims_passes_pyx12(make, pyx12_check):
    claims = make.claims(4)
    acks = [
        ClaimAcknowledgment(claims[0], ("A2", "20"), "00000000000001"),
        ClaimAcknowledgment(claims[1], ("A2", "20"), "00000000000002"),
        ClaimAcknowledgment(claims[2], ("A7", "562", "85"), message="NPI fails the check digit"),
        ClaimAcknowledgment(claims[3], ("A7", "400"), message="lines do not add up"),
    ]

    text = write_277ca(
        acks,
        clearinghouse_name="SIMULATED HEALTH PLAN",
        clearinghouse_id="PAYERSIM",
        submitter_name="CLAIMFLOW RCM",
        submitter_id="CLAIMFLOW",
        batch_reference="BATCH101",
        received_on=date(2025, 2, 3),
        interchange_control_number=12,
        trace_number="12",
        created_at=CREATED,
    )
    verdict = pyx12_check(text)

    assert verdict.ok, verdict.explain()
    found = segments(text)
    assert ["QTY", "90", "2"] in found and ["QTY", "AA", "2"] in found
    assert ["REF", "1K", "00000000000001"] in found
    assert sum(s[0] == "STC" and s[1].startswith("A7") and s[3] == "U" for s in found) == 2


def test_thousand_claims_adjudicate_and_write_quickly(make, balance_errors):
    claims = make.claims(1000)

    started = time.perf_counter()
    text = remit([adjudicate(c, seed=42, denial_rate=0.1) for c in claims])
    elapsed = time.perf_counter() - started

    print(f"\nadjudicate + write_835 for 1,000 claims: {elapsed * 1000:.0f} ms, {len(text)} bytes")
    assert balance_errors(text) == []


def test_plb_adjustments_reduce_the_payment_and_come_after_the_claims(
    make, pyx12_check, balance_errors
):
    adjudications = [adjudicate(c, seed=4, denial_rate=0.0) for c in make.claims(8)]
    paid = sum((a.paid for a in adjudications), Decimal(0))
    plb = [ProviderAdjustment("L6", "ICN1", Decimal("-2.50"))]
    plb += [ProviderAdjustment("WO", f"ICN{i}", Decimal("1.00")) for i in range(2, 7)]

    text = remit(adjudications, provider_adjustments=plb, fiscal_period_end=date(2025, 12, 31))

    found = segments(text)
    (plb_segment,) = [s for s in found if s[0] == "PLB"]
    assert plb_segment[:5] == ["PLB", "1234567893", "20251231", "L6:ICN1", "-2.5"]
    assert len(plb_segment) == 3 + 2 * 6
    assert found.index(plb_segment) > max(i for i, s in enumerate(found) if s[0] == "CLP")
    assert Decimal(next(s for s in found if s[0] == "BPR")[2]) == paid + Decimal("2.50") - 5
    assert balance_errors(text) == []
    verdict = pyx12_check(text)
    assert verdict.ok, verdict.explain()


def test_more_than_six_adjustments_take_more_plb_segments(make):
    adjudications = [adjudicate(c, seed=4, denial_rate=0.0) for c in make.claims(8)]
    plb = [ProviderAdjustment("WO", f"ICN{i}", Decimal("1.00")) for i in range(8)]

    found = segments(remit(adjudications, provider_adjustments=plb))

    assert [len(s) for s in found if s[0] == "PLB"] == [3 + 12, 3 + 4]


def test_a_negative_payment_total_is_refused(make):
    original = adjudicate(make.claim("NEG-1"), seed=4, denial_rate=0.0)
    assert original.paid > 0

    with pytest.raises(ValueError, match="forward"):
        remit([reversal_of(original)])


def test_reversal_and_correction_are_written_negated_then_anew_with_ref_f8(make, pyx12_check):
    context = PayerContext(received_on=date(2025, 2, 1))
    original = adjudicate(make.claim("RC-1"), seed=4, denial_rate=0.0, context=context)
    reversal, correction = reprocess(original, seed=4, denial_rate=0.0, context=context)
    filler = adjudicate(make.claim("RC-2", ("900.00",), member_id="OTHER"), seed=4, denial_rate=0.0)

    text = remit([reversal, correction, filler])

    found = segments(text)
    first, second, _ = [s for s in found if s[0] == "CLP"]
    assert first[2] == "22" and first[3].startswith("-") and first[7] == original.payer_claim_number
    assert second[2] == "1" and second[7] == correction.payer_claim_number
    assert ["REF", "F8", original.payer_claim_number] in found
    assert ["DTM", "050", "20250201"] in found
    assert any(s[0] == "SVC" and s[2].startswith("-") for s in found)
    assert any(s[:2] == ["AMT", "B6"] and s[2].startswith("-") for s in found)
    verdict = pyx12_check(text)
    assert verdict.ok, verdict.explain()


def test_crossover_names_the_carrier_in_nm1_tt_with_moa_ma18(make, pyx12_check):
    gap = OtherPayerPaid("GAP77", None, responsibility="S", payer_name="GAP PLAN")
    a = adjudicate(make.claim("XO-1", other_payers=(gap,)), seed=4, denial_rate=0.0)

    found = segments(remit([a]))

    assert ["NM1", "TT", "2", "GAP PLAN", "", "", "", "", "PI", "GAP77"] in found
    assert ["MOA", "", "", "MA18"] in found
    assert next(s for s in found if s[0] == "CLP")[2] == "19"


def test_inpatient_claims_carry_mia_with_covered_days_and_remarks(make, pyx12_check):
    claim = make.claim("INP-1", ("4000.00",), diagnoses=())
    claim = replace(
        claim,
        claim_type="837I",
        place_of_service="11",
        statement_from=date(2025, 1, 2),
        statement_to=date(2025, 1, 6),
    )

    text = remit([adjudicate(claim, seed=4, denial_rate=0.0)])

    mia = next(s for s in segments(text) if s[0] == "MIA")
    assert mia[1] == "4" and mia[5] == "MA130"
    verdict = pyx12_check(text)
    assert verdict.ok, verdict.explain()


def test_a_reason_repeated_in_a_group_is_reported_once_with_the_sum(make):
    a = adjudicate(make.claim("CAS-1", ("100.00",)), seed=4, denial_rate=0.0)
    line = a.lines[0]
    doubled = replace(
        line,
        adjustments=(*line.adjustments, Adjustment("CO", "45", Decimal("1.00"))),
        paid=line.paid - 1,
    )

    found = segments(remit([replace(a, lines=(doubled,))]))

    contractual = [s for s in found if s[:2] == ["CAS", "CO"]]
    assert len(contractual) == 1 and contractual[0].count("45") == 1
