import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from payer_simulator.adjudication import (
    Adjudication,
    PayerContext,
    adjudicate,
    denial_reasons,
    reprocess,
)
from payer_simulator.model import reversal_of
from payer_simulator.reader837 import OtherPayerPaid, PriorAdjustment, PriorLinePayment

CARCS = {reason.carc for reason in denial_reasons()}
D = Decimal


def assert_balanced(a: Adjudication) -> None:
    for line in a.lines:
        adjusted = sum((x.amount for x in line.adjustments), D(0))
        assert line.charge - adjusted == line.paid, (a.claim.claim_id, line)
    assert a.charge - sum((x.amount for x in a.all_adjustments), D(0)) == a.paid
    assert a.patient_responsibility == sum(
        (x.amount for x in a.all_adjustments if x.group == "PR"), D(0)
    )
    for amount in [a.paid, *(x.amount for x in a.all_adjustments)]:
        assert amount == amount.quantize(D("0.01"))


def members_tables(make, tmp_path, rows: str):
    return make.tables(
        tmp_path / "tables",
        members="payer_id,member_id,plan,crossover_carrier_id,crossover_carrier_name\n" + rows,
    )


# ---- determinism and rates ----------------------------------------------------------------


def test_same_seed_gives_the_same_adjudication(make):
    for claim in make.claims(200):
        assert adjudicate(claim, seed=7, denial_rate=0.2) == adjudicate(
            claim, seed=7, denial_rate=0.2
        )


def test_a_different_seed_gives_different_plans_denials_and_claim_numbers(make):
    claims = make.claims(400)
    first = [adjudicate(c, seed=1, denial_rate=0.2) for c in claims]
    second = [adjudicate(c, seed=2, denial_rate=0.2) for c in claims]

    assert sum(a.paid != b.paid for a, b in zip(first, second, strict=True)) > 150
    assert sum(a.plan != b.plan for a, b in zip(first, second, strict=True)) > 100
    assert {a.payer_claim_number for a in first}.isdisjoint({b.payer_claim_number for b in second})


def test_outcome_does_not_depend_on_the_process_hash_seed(make):
    """Python's hash() changes per process; adjudication must not."""
    script = (
        "import json, sys\n"
        "from decimal import Decimal\n"
        "from datetime import date\n"
        "from payer_simulator.adjudication import adjudicate\n"
        "from payer_simulator.reader837 import *\n"
        "origin = InterchangeReference('S', 'R', '1', '1', '1')\n"
        "out = []\n"
        "for i in range(50):\n"
        "    line = ServiceLine(1, 'HC', '99213', (), Decimal('100.00'), Decimal('1'),\n"
        "                       date(2025, 1, 5))\n"
        "    claim = SubmittedClaim(f'C{i}', Decimal('100.00'), '1', '11', '1234567893', 'X',\n"
        "        '', 'P1', 'P', 'P', 'CI', f'M{i}', 'L', 'F', 'L', 'F', True, (line,), origin,\n"
        "        diagnoses=('J069',))\n"
        "    a = adjudicate(claim, seed=42, denial_rate=0.3)\n"
        "    out.append([a.status, str(a.paid), a.payer_claim_number, a.plan])\n"
        "print(json.dumps(out))\n"
    )
    runs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        runs.append(json.loads(done.stdout))
    assert runs[0] == runs[1]
    assert {row[0] for row in runs[0]} == {"1", "4"}


@pytest.mark.parametrize("rate", [0.10, 0.25])
def test_denial_rate_is_honoured_over_2000_claims(make, rate):
    results = [adjudicate(c, seed=42, denial_rate=rate) for c in make.claims(2000)]

    denied = sum(a.denied for a in results) / len(results)
    assert abs(denied - rate) < 0.03, denied


def test_no_claim_is_denied_at_rate_zero_and_all_at_rate_one(make):
    claims = make.claims(300)

    assert not any(adjudicate(c, seed=3, denial_rate=0.0).denied for c in claims)
    assert all(adjudicate(c, seed=3, denial_rate=1.0).denied for c in claims)


def test_every_adjudication_balances(make):
    for claim in make.claims(2000):
        assert_balanced(adjudicate(claim, seed=11, denial_rate=0.15))


def test_random_denials_are_full_contractual_denials_with_real_codes(make):
    denials = [a for c in make.claims(2000) if (a := adjudicate(c, seed=5, denial_rate=0.3)).denied]

    reasons = Counter(a.denial_reason for a in denials)
    assert set(reasons) <= CARCS and len(reasons) >= 6, reasons
    for a in denials:
        # CLP02 4 only when the payer does not know the patient (CARC 31); else processed, 0 paid.
        assert a.status == ("4" if a.denial_reason == "31" else "1")
        assert a.paid == 0 and a.patient_responsibility == 0
        assert {x.group for x in a.all_adjustments} == {"CO"}
        assert {x.reason for x in a.all_adjustments} == {a.denial_reason}
        if a.denial_reason == "16":
            assert a.lines[0].remarks in {("M51",), ("N290",)}
            assert a.claim_remarks == ("MA130",)


def test_line_denial_rate_partially_pays_multi_line_claims(make):
    claims = [make.claim(f"L{i}", member_id=f"M{i}") for i in range(1000)]
    context = PayerContext(line_denial_rate=0.2)

    results = [adjudicate(c, seed=4, denial_rate=0.0, context=context) for c in claims]

    partial = [a for a in results if a.partially_denied]
    assert 0.16 < len(partial) / len(results) < 0.24
    for a in partial:
        assert a.status == "1"
        denied = [line for line in a.lines if line.denied]
        assert len(denied) == 1 and denied[0].paid == 0 and denied[0].remarks
        assert a.paid == sum((line.paid for line in a.lines if not line.denied), D(0))
        assert_balanced(a)


# ---- the contract ---------------------------------------------------------------------------


def test_listed_codes_are_allowed_their_fee_schedule_amount_and_the_rest_is_co45(make):
    claim = make.claim("FEE-1", ("150.00", "20.00"), codes=("99214", "36415"))

    a = adjudicate(claim, seed=1, denial_rate=0.0)

    assert a.contract == "COMMERCIAL-FS"
    assert [line.allowed for line in a.lines] == [D("124.00"), D("8.00")]
    assert next(x for x in a.lines[0].adjustments if x.group == "CO").amount == D("26.00")
    assert_balanced(a)


def test_a_charge_below_the_fee_is_allowed_in_full_without_co45(make):
    a = adjudicate(make.claim("LOW-1", ("50.00",), codes=("99214",)), seed=1, denial_rate=0.0)

    assert a.lines[0].allowed == D("50.00")
    assert not [x for x in a.lines[0].adjustments if x.group == "CO"]


def test_units_and_pricing_modifiers_scale_the_fee(make):
    lines = (
        make.line(1, "97110", "200.00", units=D("3")),
        make.line(2, "71046", "100.00", "26"),
    )
    claim = make.claim("MOD-1", service_lines=lines, diagnoses=("M545", "R05"))

    a = adjudicate(claim, seed=1, denial_rate=0.0)

    assert [line.allowed for line in a.lines] == [D("108.00"), D("22.00")]


def test_unlisted_codes_and_institutional_lines_are_allowed_a_percent_of_charge(make):
    unlisted = make.claim("PCT-1", ("200.00",), codes=("99499",))
    institutional = replace(
        make.claim("PCT-2", ("1000.00",), codes=("99213",)),
        claim_type="837I",
        place_of_service="13",
    )

    assert adjudicate(unlisted, seed=1, denial_rate=0.0).lines[0].allowed == D("140.00")
    assert adjudicate(institutional, seed=1, denial_rate=0.0).lines[0].allowed == D("600.00")


def test_a_payer_without_a_named_contract_gets_a_seeded_one_for_all_its_claims(make):
    contracts = {
        adjudicate(make.claim(f"U{i}", payer_id="UNKNOWNPAYER9"), seed=3, denial_rate=0.0).contract
        for i in range(20)
    }
    by_payer = {
        adjudicate(make.claim("U", payer_id=f"P{i}"), seed=3, denial_rate=0.0).contract
        for i in range(40)
    }

    assert len(contracts) == 1
    assert by_payer == {"PERCENT-65", "PERCENT-80"}


# ---- benefits -------------------------------------------------------------------------------


def test_copay_plan_charges_one_office_copay_as_pr3(make, tmp_path):
    tables = members_tables(make, tmp_path, "SIMPAYER1,HMO1,HMO-COPAY,,\n")
    claim = make.claim(
        "COPAY-1",
        ("150.00", "150.00", "20.00"),
        codes=("99214", "99213", "36415"),
        member_id="HMO1",
    )

    a = adjudicate(claim, seed=1, denial_rate=0.0, context=PayerContext(tables=tables))

    patient = [
        [(x.reason, x.amount) for x in line.adjustments if x.group == "PR"] for line in a.lines
    ]
    assert patient == [[("3", D("20.00"))], [], []]
    assert a.plan == "HMO-COPAY" and a.patient_responsibility == D("20.00")


def test_deductible_comes_first_then_coinsurance_and_is_met_across_claims(make, tmp_path):
    tables = members_tables(make, tmp_path, "SIMPAYER1,HD1,HDHP-2000,,\n")
    context = PayerContext(tables=tables, benefit_states={make.recent.year: _state("0", "0")})
    first = make.claim("DED-1", ("1000.00",), codes=("99499",), member_id="HD1")

    a = adjudicate(first, seed=1, denial_rate=0.0, context=context)

    assert [(x.reason, x.amount) for x in a.lines[0].adjustments if x.group == "PR"] == [
        ("1", D("700.00"))
    ]
    (use,) = a.benefit_use
    assert use.deductible == D("700.00") and use.out_of_pocket == D("700.00")
    later = replace(context, benefit_states={make.recent.year: _state("1900.00", "1900.00")})
    b = adjudicate(replace(first, claim_id="DED-2"), seed=1, denial_rate=0.0, context=later)
    assert [(x.reason, x.amount) for x in b.lines[0].adjustments if x.group == "PR"] == [
        ("1", D("100.00")),
        ("2", D("120.00")),
    ]


def test_out_of_pocket_maximum_caps_the_members_share(make, tmp_path):
    tables = members_tables(make, tmp_path, "SIMPAYER1,HD1,HDHP-2000,,\n")
    states = {make.recent.year: _state("2000.00", "5990.00")}
    claim = make.claim("OOP-1", ("1000.00",), codes=("99499",), member_id="HD1")

    a = adjudicate(
        claim, seed=1, denial_rate=0.0, context=PayerContext(tables, benefit_states=states)
    )

    assert a.patient_responsibility == D("10.00")
    assert a.paid == D("690.00")


def test_preventive_care_costs_the_member_nothing(make, tmp_path):
    tables = members_tables(make, tmp_path, "SIMPAYER1,HD1,HDHP-2000,,\n")
    claim = make.claim(
        "PREV-1", ("200.00", "30.00", "25.00"), codes=("99396", "90471", "90686"), member_id="HD1"
    )
    claim = replace(claim, diagnoses=("Z0000", "Z23"))

    a = adjudicate(claim, seed=1, denial_rate=0.0, context=PayerContext(tables=tables))

    assert a.patient_responsibility == 0
    assert a.paid == sum((line.allowed for line in a.lines), D(0)) > 0


def test_members_start_the_year_with_a_seeded_share_of_the_deductible_met(make):
    plans_seen = Counter()
    shares = Counter()
    for i in range(400):
        a = adjudicate(
            make.claim(f"S{i}", ("1000.00",), codes=("99499",), member_id=f"N{i}"),
            seed=9,
            denial_rate=0.0,
        )
        plans_seen[a.plan] += 1
        if a.plan == "PPO-500":
            deductible = sum((x.amount for x in a.all_adjustments if x.reason == "1"), D(0))
            shares[deductible] += 1
    assert set(plans_seen) == {"PPO-500", "HMO-COPAY", "HDHP-2000", "PPO-250"}
    assert set(shares) == {D("500.00"), D("250.00"), D("0")}


# ---- content-driven denials -----------------------------------------------------------------


def test_claim_without_diagnoses_is_unprocessable_co16_with_m76_and_ma130(make):
    a = adjudicate(make.claim("NODX", diagnoses=()), seed=1, denial_rate=0.0)

    assert a.denied and a.denial_reason == "16"
    assert a.lines[0].remarks == ("M76",) and a.claim_remarks == ("MA130",)
    assert_balanced(a)


def test_claim_whose_lines_do_not_add_up_is_denied_co16_and_still_balances(make):
    claim = make.claim("ODD-1")
    claim = replace(claim, total_charge=claim.total_charge + D("10.00"))

    a = adjudicate(claim, seed=1, denial_rate=0.0)

    assert a.denied and a.denial_reason == "16" and a.claim_remarks == ("MA130",)
    assert a.claim_adjustments[0].amount == D("10.00")
    assert_balanced(a)


def test_exact_duplicate_is_denied_co18(make):
    a = adjudicate(
        make.claim("DUP"), seed=1, denial_rate=0.0, context=PayerContext(is_duplicate=True)
    )

    assert a.denied and a.denial_reason == "18"
    assert {x.reason for x in a.all_adjustments} == {"18"}


@pytest.mark.parametrize(
    ("payer", "days", "late"), [("SIMPAYER1", 180, True), ("SIMPAYER2", 180, False)]
)
def test_lines_served_longer_ago_than_the_payers_limit_are_denied_co29(make, payer, days, late):
    served = make.recent - timedelta(days=days + 1)
    lines = (make.line(1, "99213", "100.00", service_date=served), make.line(2, "36415", "20.00"))
    claim = make.claim("TF-1", service_lines=lines, payer_id=payer)
    context = PayerContext(received_on=make.recent)

    a = adjudicate(claim, seed=1, denial_rate=0.0, context=context)

    assert (a.lines[0].denial == "29") is late
    assert not a.lines[1].denied and not a.denied
    assert_balanced(a)


def test_codes_on_the_prior_auth_list_need_an_authorization_number(make):
    lines = (make.line(1, "72148", "900.00"), make.line(2, "99213", "100.00"))
    claim = make.claim("PA-1", service_lines=lines, diagnoses=("M5450",))

    without = adjudicate(claim, seed=1, denial_rate=0.0)
    on_claim = adjudicate(replace(claim, prior_authorization="AUTH123"), seed=1, denial_rate=0.0)
    on_line = replace(claim, service_lines=(replace(lines[0], prior_authorization="A9"), lines[1]))

    assert without.lines[0].denial == "197" and without.lines[0].remarks == ("M62",)
    assert without.status == "1" and without.paid > 0
    assert not on_claim.lines[0].denied
    assert not adjudicate(on_line, seed=1, denial_rate=0.0).lines[0].denied


def test_procedure_the_policy_does_not_cover_for_the_pointed_diagnosis_is_denied_co50(make):
    lines = (
        make.line(1, "99213", "100.00", diagnosis_pointers=(1,)),
        make.line(2, "93000", "40.00", diagnosis_pointers=(1,)),
        make.line(3, "71046", "90.00", diagnosis_pointers=(2,)),
    )
    claim = make.claim("MN-1", service_lines=lines, diagnoses=("J069", "R079"))

    a = adjudicate(claim, seed=1, denial_rate=0.0)

    assert [line.denial for line in a.lines] == ["", "50", ""]
    assert a.lines[1].remarks == ("N115",)
    repointed = replace(
        claim, service_lines=(lines[0], replace(lines[1], diagnosis_pointers=(2,)), lines[2])
    )
    assert not adjudicate(repointed, seed=1, denial_rate=0.0).partially_denied


def test_column_2_code_billed_with_its_column_1_partner_is_bundled_co97(make):
    lines = (make.line(1, "80053", "40.00"), make.line(2, "80048", "30.00"))
    claim = make.claim("NCCI-1", service_lines=lines, diagnoses=("E119",))

    a = adjudicate(claim, seed=1, denial_rate=0.0)

    assert [line.denial for line in a.lines] == ["", "97"]
    assert a.lines[1].remarks == ("M15",)
    other_day = replace(lines[1], service_date=make.recent - timedelta(days=1))
    assert not adjudicate(
        replace(claim, service_lines=(lines[0], other_day)), seed=1, denial_rate=0.0
    ).partially_denied


def test_a_bypass_modifier_unbundles_a_pair_that_allows_one(make):
    visit = make.line(1, "99213", "100.00")
    injection = make.line(2, "20610", "120.00")
    claim = make.claim("NCCI-2", service_lines=(visit, injection), diagnoses=("M25561",))

    bundled = adjudicate(claim, seed=1, denial_rate=0.0)
    with_25 = replace(claim, service_lines=(replace(visit, modifiers=("25",)), injection))

    assert bundled.lines[0].denial == "97"
    assert not adjudicate(with_25, seed=1, denial_rate=0.0).partially_denied


def test_invalid_procedure_code_shape_denies_the_line_co16_m51(make):
    lines = (make.line(1, "9921", "100.00"), make.line(2, "36415", "20.00"))

    a = adjudicate(make.claim("BADCPT", service_lines=lines), seed=1, denial_rate=0.0)

    assert a.lines[0].denial == "16" and a.lines[0].remarks == ("M51",)
    assert not a.lines[1].denied


def test_a_claim_with_every_line_denied_by_policy_is_denied(make):
    lines = (make.line(1, "72148", "900.00"), make.line(2, "70551", "800.00"))

    a = adjudicate(
        make.claim("PA-ALL", service_lines=lines, diagnoses=("G4489",)), seed=1, denial_rate=0.0
    )

    assert a.denied and a.denial_reason == "197" and a.paid == 0
    assert_balanced(a)


# ---- crossovers and secondary claims ----------------------------------------------------------


def test_primary_claim_naming_a_secondary_payer_is_crossed_over_as_19(make):
    secondary = OtherPayerPaid("MEDIGAP7", None, responsibility="S", payer_name="GAP PLAN")
    claim = make.claim("XO-1", other_payers=(secondary,))

    a = adjudicate(claim, seed=1, denial_rate=0.0)

    assert a.status == "19"
    assert (a.crossover_carrier.payer_id, a.crossover_carrier.name) == ("MEDIGAP7", "GAP PLAN")
    assert "MA18" in a.claim_remarks
    denied = adjudicate(claim, seed=1, denial_rate=1.0)
    assert denied.status == "1" and denied.crossover_carrier is None


def test_configured_members_and_a_seeded_share_are_crossed_over(make):
    configured = adjudicate(
        make.claim("XO-2", member_id="XOVER00001", payer_id="SIMPAYER2"), seed=1, denial_rate=0.0
    )
    seeded = [
        adjudicate(
            make.claim(f"XO-{i}", member_id=f"R{i}"),
            seed=1,
            denial_rate=0.0,
            context=PayerContext(crossover_rate=0.3),
        )
        for i in range(500)
    ]

    assert configured.status == "19" and configured.crossover_carrier.payer_id == "SIMMEDIGAP"
    assert configured.plan == "MA-PPO"
    crossed = [a for a in seeded if a.status == "19"]
    assert 0.24 < len(crossed) / len(seeded) < 0.36
    assert {a.crossover_carrier.payer_id for a in crossed} == {"SIMSUPP1"}


def _secondary_claim(make, *, primary_paid, primary_patient, eaf=None, by_line=True):
    lines = (make.line(1, "99214", "150.00"),)
    primary = OtherPayerPaid(
        "PRIMARY1",
        primary_paid,
        responsibility="P",
        payer_name="FIRST PLAN",
        adjustments=()
        if by_line
        else (
            PriorAdjustment("CO", "45", D("150.00") - primary_paid - primary_patient),
            PriorAdjustment("PR", "2", primary_patient),
        ),
        remaining_patient_liability=eaf,
    )
    if by_line:
        payment = PriorLinePayment(
            "PRIMARY1",
            primary_paid,
            (
                PriorAdjustment("CO", "45", D("150.00") - primary_paid - primary_patient),
                PriorAdjustment("PR", "1", primary_patient),
            ),
        )
        lines = (replace(lines[0], prior_payments=(payment,)),)
    return make.claim(
        "SEC-1", service_lines=lines, payer_responsibility="S", other_payers=(primary,)
    )


@pytest.mark.parametrize("by_line", [True, False])
def test_secondary_pays_the_patients_remaining_share_up_to_its_allowed(make, by_line):
    claim = _secondary_claim(
        make, primary_paid=D("80.00"), primary_patient=D("20.00"), by_line=by_line
    )

    a = adjudicate(claim, seed=1, denial_rate=0.0)

    assert a.status == "2"
    assert a.paid == D("20.00") and a.patient_responsibility == 0
    assert [(x.group, x.reason, x.amount) for x in a.lines[0].adjustments] == [
        ("OA", "23", D("130.00"))
    ]
    assert_balanced(a)


def test_secondary_pays_no_more_than_its_allowed_less_the_primary_payment(make):
    claim = _secondary_claim(make, primary_paid=D("110.00"), primary_patient=D("30.00"))

    a = adjudicate(claim, seed=1, denial_rate=0.0)

    # Allowed 124.00 - 110.00 paid by the primary = 14.00; the patient keeps 16.00 (PR-1).
    assert a.paid == D("14.00")
    assert [(x.group, x.reason, x.amount) for x in a.lines[0].adjustments] == [
        ("OA", "23", D("120.00")),
        ("PR", "1", D("16.00")),
    ]
    assert_balanced(a)


def test_remaining_patient_liability_amount_wins_over_the_pr_adjustments(make):
    claim = _secondary_claim(
        make, primary_paid=D("80.00"), primary_patient=D("20.00"), eaf=D("5.00"), by_line=False
    )

    assert adjudicate(claim, seed=1, denial_rate=0.0).paid == D("5.00")


def test_secondary_claim_without_the_primary_payment_is_denied_co16_ma04(make):
    primary = OtherPayerPaid("PRIMARY1", None, responsibility="P")
    claim = make.claim("SEC-2", payer_responsibility="S", other_payers=(primary,))

    a = adjudicate(claim, seed=1, denial_rate=0.0)

    assert a.denied and a.denial_reason == "16"
    assert a.claim_remarks == ("MA130", "MA04")


# ---- reversals --------------------------------------------------------------------------------


def test_a_reversal_negates_every_amount_and_keeps_the_claim_number(make):
    original = adjudicate(make.claim("REV-1"), seed=1, denial_rate=0.0)

    reversed_ = reversal_of(original)

    assert reversed_.status == "22"
    assert reversed_.payer_claim_number == original.payer_claim_number
    assert (reversed_.charge, reversed_.paid, reversed_.patient_responsibility) == (
        -original.charge,
        -original.paid,
        -original.patient_responsibility,
    )
    assert sorted((x.group, x.reason, -x.amount) for x in reversed_.all_adjustments) == sorted(
        (x.group, x.reason, x.amount) for x in original.all_adjustments
    )
    assert_balanced(reversed_)
    with pytest.raises(ValueError):
        reversal_of(reversed_)


def test_reprocessing_reverses_and_repays_under_a_new_claim_number(make):
    context = PayerContext(received_on=make.recent)
    claims = [
        make.claim(f"RP-{i}", ("150.00", "40.00"), codes=("99214", "80053"), diagnoses=("E119",))
        for i in range(30)
    ]
    outcomes = []
    for claim in claims:
        original = adjudicate(claim, seed=2, denial_rate=0.0, context=context)
        reversal, corrected = reprocess(original, seed=2, denial_rate=0.0, context=context)
        assert reversal.status == "22" and corrected.status == "1"
        assert corrected.original_claim_number == original.payer_claim_number
        assert corrected.payer_claim_number != original.payer_claim_number
        assert_balanced(corrected)
        outcomes.append(corrected.paid - original.paid)
    assert any(d > 0 for d in outcomes) and any(d < 0 for d in outcomes)


def _state(deductible: str, out_of_pocket: str):
    from payer_simulator.benefits import BenefitState

    return BenefitState(D(deductible), D(out_of_pocket))
