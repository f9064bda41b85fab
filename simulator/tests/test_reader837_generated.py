"""The simulator reads every 837P and 837I the claims service writes, COB and all."""

from datetime import datetime

import pytest

from claimflow_claims.adapters.x12.claim837 import Receiver, Submitter
from claimflow_claims.adapters.x12.writer_837i import write_837i
from claimflow_claims.adapters.x12.writer_837p import write_837p
from claimflow_shared.x12 import Envelope
from payer_simulator.reader837 import read_837
from services.claims.tests.unit.claim_factory import generate_claims

WRITERS = {"837P": (write_837p, "005010X222A1"), "837I": (write_837i, "005010X223A2")}


@pytest.mark.parametrize("claim_type", ["837P", "837I"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_interchanges_read_back_without_problems(claim_type, seed):
    writer, guide = WRITERS[claim_type]
    claims = generate_claims(seed, 60, claim_type)
    text = writer(
        claims,
        envelope=Envelope(
            sender_id="CLAIMFLOW",
            receiver_id="PAYERSIM",
            interchange_control_number=seed,
            group_control_number=seed,
            functional_id="HC",
            version=guide,
            created_at=datetime(2025, 5, 1, 8, 0),
        ),
        submitter=Submitter("CLAIMFLOW", "CLAIMFLOW", "DESK", "6175550100"),
        receiver=Receiver("PAYER SIM", "PAYERSIM"),
    )
    interchange = read_837(text)
    assert interchange.problems == []
    read = {claim.claim_id: claim for claim in interchange.claims}
    assert set(read) == {claim.claim_id for claim in claims}
    for claim in claims:
        got = read[claim.claim_id]
        assert got.claim_type == claim_type
        assert got.total_charge == claim.total_charge
        assert [line.charge for line in got.service_lines] == [x.charge for x in claim.lines]
        assert got.frequency_code == claim.frequency_code
        assert got.original_claim_number == (claim.original_claim_number or "")
        assert [o.paid for o in got.other_payers] == [o.paid for o in claim.other_payers]
        assert got.diagnoses[: len(claim.diagnoses)] == claim.diagnoses
        if claim_type == "837I":
            assert [line.revenue_code for line in got.service_lines] == [
                line.revenue_code for line in claim.lines
            ]


def test_835_for_generated_institutional_claims_passes_pyx12_and_balances(
    pyx12_check, balance_errors
):
    from datetime import date

    from payer_simulator.adjudication import adjudicate
    from payer_simulator.writer835 import PayerIdentity, write_835

    claims = generate_claims(5, 80, "837I")
    text = write_837i(
        claims,
        envelope=Envelope(
            "CLAIMFLOW", "PAYERSIM", 5, 5, "HC", "005010X223A2", datetime(2025, 5, 1)
        ),
        submitter=Submitter("CLAIMFLOW", "CLAIMFLOW", "DESK", "6175550100"),
        receiver=Receiver("PAYER SIM", "PAYERSIM"),
    )
    adjudications = [adjudicate(c, seed=1, denial_rate=0.2) for c in read_837(text).claims]
    remittance = write_835(
        adjudications,
        payer=PayerIdentity(name="SIMULATED HEALTH PLAN", payer_id="SIMPAYER1"),
        payee_npi="1234567893",
        payee_name="HARBOR HOSPITAL",
        interchange_control_number=9,
        payment_date=date(2025, 5, 2),
        trace_number="T1",
    )
    verdict = pyx12_check(remittance)
    assert verdict.ok, verdict.explain()
    assert balance_errors(remittance) == []
    assert "SVC*NU:0120" in remittance


@pytest.mark.parametrize("claim_type", ["837P", "837I"])
def test_cob_detail_and_pointers_read_back_from_generated_claims(claim_type):
    writer, guide = WRITERS[claim_type]
    claims = generate_claims(11, 80, claim_type)
    text = writer(
        claims,
        envelope=Envelope("CLAIMFLOW", "PAYERSIM", 11, 11, "HC", guide, datetime(2025, 5, 1)),
        submitter=Submitter("CLAIMFLOW", "CLAIMFLOW", "DESK", "6175550100"),
        receiver=Receiver("PAYER SIM", "PAYERSIM"),
    )
    read = {claim.claim_id: claim for claim in read_837(text).claims}
    with_cob = [c for c in claims if c.other_payers]
    assert with_cob, "the factory makes COB claims"
    for claim in with_cob:
        got = read[claim.claim_id]
        for mine, theirs in zip(got.other_payers, claim.other_payers, strict=True):
            assert mine.payer_id == theirs.coverage.payer.payer_id
            assert mine.responsibility in {"P", "S", "T"}
            assert mine.paid == theirs.paid
            assert sorted((a.group, a.reason, a.amount) for a in mine.adjustments) == sorted(
                (a.group.value, a.carc, a.amount) for a in theirs.claim_adjustments
            )
            assert mine.remaining_patient_liability == theirs.remaining_patient_liability
        for got_line, line in zip(got.service_lines, claim.lines, strict=True):
            expected = [
                (p.paid, sorted((a.group.value, a.carc, a.amount) for a in p.adjustments))
                for other in claim.other_payers
                for p in other.line_payments
                if p.line_number == line.line_number
            ]
            assert [
                (p.paid, sorted((a.group, a.reason, a.amount) for a in p.adjustments))
                for p in got_line.prior_payments
            ] == expected
            if claim_type == "837P":
                assert got_line.diagnosis_pointers == tuple(line.diagnosis_pointers)
