"""The payer's memory across submissions and 835s: accumulators, duplicates, voids,
replacements, reprocessings, secondary claims and provider-level adjustments."""

from datetime import timedelta
from decimal import Decimal

from claimflow_shared.x12 import read_segments
from simulator.tests.conftest import MEMBERS_HEADER, table_folder

D = Decimal


def clps(text: str) -> list[list[str]]:
    return [list(s.elements) for s in read_segments(text) if s.id == "CLP"]


def segments(text: str) -> list[list[str]]:
    return [list(s.elements) for s in read_segments(text)]


def icn_of(receipt) -> dict[str, str]:
    """Claim id -> payer claim number, from the 277CA's REF*1K after each TRN*2."""
    found, claim = {}, None
    for seg in read_segments(receipt.ack_277ca):
        if seg.id == "TRN" and seg.el(1) == "2":
            claim = seg.el(2)
        elif seg.id == "REF" and seg.el(1) == "1K" and claim:
            found[claim] = seg.el(2)
    return found


def assert_valid(files, pyx12_check, balance_errors):
    for text in files:
        assert balance_errors(text) == []
        verdict = pyx12_check(text)
        assert verdict.ok, verdict.explain()


# ---- determinism --------------------------------------------------------------------------


def test_same_seed_and_inputs_give_byte_identical_files(payer, make):
    outputs = []
    for _ in range(2):
        p = payer(denial_rate=0.2, line_denial_rate=0.3, reversal_rate=0.3, interest_rate=0.3)
        specs = [make.spec(f"DET-{i}", member_id=f"M{i}") for i in range(40)]
        receipt = p.submit(make, *specs)
        first = p.remit()
        second = p.remit()
        outputs.append((receipt.ack_999, receipt.ack_277ca, first, second))

    assert outputs[0] == outputs[1]
    assert outputs[0][3], "the reprocessings came in a second round of 835s"


# ---- accumulators and duplicates ------------------------------------------------------------


def test_the_deductible_met_on_one_claim_carries_to_the_next_submission(payer, make, tmp_path):
    folder = table_folder(
        tmp_path,
        members=MEMBERS_HEADER + "SIMPAYER1,HD7,DED-1000,,\n",
        benefit_plans="payer_id,plan,weight,deductible,coinsurance_percent,out_of_pocket_max,"
        "deductible_met_at_first_claim_percent\n*,DED-1000,1,1000.00,20,5000.00,0\n",
        plan_copays="plan,visit_type,copay\n",
    )
    p = payer(tables_dir=folder)
    p.submit(make, make.spec("ACC-1", charges=("800.00",), procedures=("99499",), member_id="HD7"))
    p.submit(make, make.spec("ACC-2", charges=("900.00",), procedures=("99499",), member_id="HD7"))
    (text,) = p.remit()

    patient = {}
    claim = None
    for seg in segments(text):
        if seg[0] == "CLP":
            claim = seg[1]
        elif seg[:2] == ["CAS", "PR"]:
            patient[claim] = [(seg[i], D(seg[i + 1])) for i in range(2, len(seg), 3) if seg[i]]
    # Allowed 70% of charge: 560.00 all to the deductible, then 440.00 of 630.00 and 20%.
    assert patient["ACC-1"] == [("1", D("560"))]
    assert patient["ACC-2"] == [("1", D("440")), ("2", D("38"))]


def test_an_exact_duplicate_under_a_new_claim_id_is_denied_co18(
    payer, make, pyx12_check, balance_errors
):
    p = payer()
    p.submit(make, make.spec("ORIG-1", member_id="D1"))
    p.remit()
    p.submit(make, make.spec("COPY-1", member_id="D1"))
    (text,) = p.remit()

    (clp,) = clps(text)
    assert clp[1] == "COPY-1" and clp[2] == "1" and D(clp[4]) == 0
    assert {s[2] for s in segments(text) if s[0] == "CAS"} == {"18"}
    assert_valid([text], pyx12_check, balance_errors)


# ---- voids and replacements -----------------------------------------------------------------


def test_a_void_reverses_the_original_payment_in_a_later_835(
    payer, make, pyx12_check, balance_errors
):
    p = payer()
    receipt = p.submit(make, make.spec("V-1", member_id="V1"))
    (paid,) = p.remit()
    icn = icn_of(receipt)["V-1"]
    p.submit(make, make.spec("V-1-8", member_id="V1", frequency="8", original_claim_number=icn))
    (voided,) = p.remit()

    (original,) = clps(paid)
    (reversal,) = clps(voided)
    assert reversal[1] == "V-1" and reversal[2] == "22" and reversal[7] == icn
    assert D(reversal[3]) == -D(original[3]) and D(reversal[4]) == -D(original[4])
    assert_valid([paid, voided], pyx12_check, balance_errors)
    again = p.submit(make, make.spec("V-1-8b", frequency="8", original_claim_number=icn))
    assert again.claims[0]["status"] == "rejected"
    assert "STC*A7:464*" in again.ack_277ca


def test_a_void_sent_before_the_original_is_remitted_waits_for_it(payer, make):
    p = payer()
    icn = icn_of(p.submit(make, make.spec("W-1", member_id="W1")))["W-1"]
    p.submit(make, make.spec("W-1-8", member_id="W1", frequency="8", original_claim_number=icn))

    first = p.remit()
    second = p.remit()

    assert [c[2] for f in first for c in clps(f)] == ["1"]
    assert [c[2] for f in second for c in clps(f)] == ["22"]


def test_a_replacement_reverses_the_original_and_is_paid_in_its_place(
    payer, make, pyx12_check, balance_errors
):
    p = payer()
    icn = icn_of(p.submit(make, make.spec("R-1", member_id="R1")))["R-1"]
    p.remit()
    corrected = make.spec(
        "R-1-7",
        charges=("150.00", "45.50"),
        member_id="R1",
        frequency="7",
        original_claim_number=icn,
    )
    receipt = p.submit(make, corrected)
    (text,) = p.remit()

    reversal, replacement = clps(text)
    assert (reversal[1], reversal[2], reversal[7]) == ("R-1", "22", icn)
    assert (replacement[1], replacement[2]) == ("R-1-7", "1")
    assert replacement[7] == icn_of(receipt)["R-1-7"]
    assert ["REF", "F8", icn] in segments(text)
    assert_valid([text], pyx12_check, balance_errors)


def test_a_replacement_naming_no_claim_on_file_is_rejected_on_the_277ca(payer, make, pyx12_check):
    p = payer()

    receipt = p.submit(
        make, make.spec("R-9", frequency="7", original_claim_number="99999999999999")
    )

    assert receipt.claims[0]["status"] == "rejected"
    assert "STC*A7:464*" in receipt.ack_277ca
    verdict = pyx12_check(receipt.ack_277ca)
    assert verdict.ok, verdict.explain()


# ---- reprocessing ---------------------------------------------------------------------------


def test_reprocessed_claims_are_reversed_and_repaid_only_in_a_later_835(
    payer, make, pyx12_check, balance_errors
):
    p = payer(reversal_rate=1.0)
    p.submit(make, *[make.spec(f"RP-{i}", member_id=f"P{i}") for i in range(5)])

    first = p.remit()
    second = p.remit()
    third = p.remit()

    assert {c[2] for f in first for c in clps(f)} == {"1"}
    pairs = [c for f in second for c in clps(f)]
    assert [c[2] for c in pairs] == ["22", "1"] * 5
    for reversal, correction in zip(pairs[::2], pairs[1::2], strict=True):
        assert reversal[1] == correction[1]
        assert reversal[7] != correction[7]
    assert third == []
    assert_valid(first + second, pyx12_check, balance_errors)
    assert p.stats()["claims_reprocessed"] == 5


def test_an_overpayment_that_outweighs_the_file_is_carried_as_forward_balance(
    payer, make, tmp_path, pyx12_check, balance_errors
):
    folder = table_folder(
        tmp_path,
        members=MEMBERS_HEADER + "SIMPAYER1,F1,HMO-COPAY,,\nSIMPAYER1,F2,HMO-COPAY,,\n",
        reprocessing_reasons="reason,weight,allowed_percent,meaning\nrecoup,1,10,too high\n",
    )
    p = payer(reversal_rate=1.0, tables_dir=folder)
    p.submit(make, make.spec("FB-1", charges=("300.00",), procedures=("99499",), member_id="F1"))
    p.remit()
    p.settings = p.settings.model_copy(update={"reversal_rate": 0.0})
    (carried,) = p.remit()
    p.submit(make, make.spec("FB-2", charges=("900.00",), procedures=("99499",), member_id="F2"))
    (recovered,) = p.remit()

    plb = [s for s in segments(carried) if s[0] == "PLB"]
    assert plb and plb[0][3].startswith("FB:") and D(plb[0][4]) < 0
    assert next(s for s in segments(carried) if s[0] == "BPR")[1:3] == ["H", "0"]
    plb = [s for s in segments(recovered) if s[0] == "PLB"]
    assert plb[0][3].startswith("FB:") and D(plb[0][4]) > 0
    assert_valid([carried, recovered], pyx12_check, balance_errors)


def test_delayed_recovery_holds_the_overpayment_with_wo_and_recoups_it_next_time(
    payer, make, tmp_path, pyx12_check, balance_errors
):
    folder = table_folder(
        tmp_path,
        members=MEMBERS_HEADER + "SIMPAYER2,W1,MA-HMO,,\nSIMPAYER2,W2,MA-HMO,,\n",
        reprocessing_reasons="reason,weight,allowed_percent,meaning\nrecoup,1,80,too high\n",
    )
    p = payer(reversal_rate=1.0, tables_dir=folder)
    spec = make.spec(
        "WO-1", charges=("300.00",), procedures=("99499",), member_id="W1", payer_id="SIMPAYER2"
    )
    p.submit(make, spec)
    p.remit()
    p.settings = p.settings.model_copy(update={"reversal_rate": 0.0})
    (held,) = p.remit()
    p.submit(
        make,
        make.spec(
            "WO-2", charges=("500.00",), procedures=("99499",), member_id="W2", payer_id="SIMPAYER2"
        ),
    )
    (recouped,) = p.remit()

    reversal, correction = clps(held)
    overpaid = -(D(reversal[4]) + D(correction[4]))
    assert overpaid > 0
    (plb,) = [s for s in segments(held) if s[0] == "PLB"]
    assert plb[3:5] == [f"WO:{reversal[7]}", f"-{overpaid}".rstrip("0").rstrip(".")]
    (plb,) = [s for s in segments(recouped) if s[0] == "PLB"]
    assert plb[3] == f"WO:{reversal[7]}" and D(plb[4]) == overpaid
    assert_valid([held, recouped], pyx12_check, balance_errors)


def test_interest_is_paid_as_plb_l6_and_the_payment_balances(
    payer, make, pyx12_check, balance_errors
):
    p = payer(interest_rate=1.0)
    p.submit(make, *[make.spec(f"INT-{i}", member_id=f"I{i}") for i in range(6)])
    (text,) = p.remit()

    found = segments(text)
    interest = [s for s in found if s[0] == "PLB"]
    pairs = [(s[i], D(s[i + 1])) for s in interest for i in range(3, len(s), 2)]
    assert pairs and all(reason.startswith("L6:") and amount < 0 for reason, amount in pairs)
    bpr = D(next(s for s in found if s[0] == "BPR")[2])
    assert bpr > sum((D(c[4]) for c in clps(text)), D(0))
    assert_valid([text], pyx12_check, balance_errors)


# ---- crossovers and secondary claims --------------------------------------------------------


def test_a_claim_naming_a_secondary_payer_comes_back_crossed_over(
    payer, make, pyx12_check, balance_errors
):
    p = payer()
    gap = make.other_payer("GAPPLAN1", "S", name="GAP PLAN")
    p.submit(make, make.spec("XO-1", member_id="X1", other_payers=[gap]))
    (text,) = p.remit()

    (clp,) = clps(text)
    assert clp[2] == "19"
    assert ["NM1", "TT", "2", "GAP PLAN", "", "", "", "", "PI", "GAPPLAN1"] in segments(text)
    assert ["MOA", "", "", "MA18"] in segments(text)
    assert_valid([text], pyx12_check, balance_errors)
    assert p.stats()["claims_crossed_over"] == 1


def test_a_secondary_claim_is_paid_as_secondary_from_the_primarys_payment(
    payer, make, pyx12_check, balance_errors
):
    p = payer()
    primary = make.other_payer("PRIMARY9", "P", paid="80.00", patient="20.00", contractual="50.00")
    spec = make.spec(
        "SEC-1",
        charges=("150.00",),
        procedures=("99214",),
        member_id="S1",
        responsibility="S",
        other_payers=[primary],
    )
    p.submit(make, spec)
    (text,) = p.remit()

    (clp,) = clps(text)
    assert clp[2] == "2" and D(clp[4]) == D("20.00") and D(clp[5]) == 0
    assert any(s[:3] == ["CAS", "OA", "23"] for s in segments(text))
    assert_valid([text], pyx12_check, balance_errors)
    assert p.stats()["claims_as_secondary"] == 1


def test_claims_served_before_the_timely_filing_limit_are_denied_co29(payer, make):
    p = payer()
    old = (make.recent - timedelta(days=400)).strftime("%Y%m%d")
    p.submit(make, make.spec("OLD-1", member_id="O1", service_date=old))
    (text,) = p.remit()

    assert {s[2] for s in segments(text) if s[0] == "CAS"} == {"29"}
