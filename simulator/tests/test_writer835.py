import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from claimflow_shared.x12 import read_segments
from payer_simulator.adjudication import adjudicate
from payer_simulator.reader837 import read_837
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
    assert {s[2] for s in clps} == {"1", "4"}
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
