"""Properties every adjudication holds, over claims hypothesis generates: any codes (policed,
bundled, prior-auth, priced or not), modifiers, units, diagnoses and pointers, dates around the
timely filing limits, secondary claims with any primary outcome, any member state and rates."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payer_simulator.adjudication import PayerContext, adjudicate, reprocess
from payer_simulator.benefits import BenefitState
from payer_simulator.model import FORWARDED, Adjudication, reversal_of
from payer_simulator.provider_adjustments import HeldRecovery, PayeeLedger, settle_payment
from payer_simulator.reader837 import (
    InterchangeReference,
    OtherPayerPaid,
    PriorAdjustment,
    PriorLinePayment,
    ServiceLine,
    SubmittedClaim,
)
from payer_simulator.tables import load_tables

D = Decimal
TODAY = date(2026, 6, 15)
TABLES = load_tables()
CODES = sorted(
    {code for _, code in TABLES.fee_schedule}
    | set(TABLES.medical_policy)
    | set(TABLES.bundled)
    | {pair.column_1 for pairs in TABLES.bundled.values() for pair in pairs}
    | {"72148", "70551", "99499", "0001U", "9921", "A0425"}
)
PAIRS = sorted(
    (pair for pairs in TABLES.bundled.values() for pair in pairs),
    key=lambda p: (p.column_1, p.column_2),
)
DIAGNOSES = ["J069", "E119", "I10", "M5450", "Z0000", "Z23", "R079", "S93401A", "G4489", "M25561"]
MODIFIERS = ["25", "59", "26", "TC", "50", "QW", "LT", "XS", "80"]

cents = st.integers(min_value=0, max_value=500_000).map(lambda c: D(c) / 100)
positive_cents = st.integers(min_value=1, max_value=500_000).map(lambda c: D(c) / 100)


@st.composite
def service_lines(draw, count: int, diagnoses: int):
    lines = []
    for number in range(1, count + 1):
        # Mostly one visit date (so bundled pairs meet), some around the filing limits.
        served = TODAY - timedelta(days=draw(st.sampled_from([3, 3, 3, 3, 30, 179, 181, 364, 400])))
        lines.append(
            ServiceLine(
                number=number,
                qualifier="HC",
                procedure_code=draw(st.sampled_from(CODES)),
                modifiers=tuple(draw(st.lists(st.sampled_from(MODIFIERS), max_size=2))),
                charge=draw(cents),
                units=D(draw(st.integers(1, 6))),
                service_date=served,
                diagnosis_pointers=tuple(
                    draw(st.lists(st.integers(1, max(diagnoses, 1) + 1), max_size=3))
                ),
                prior_authorization=draw(st.sampled_from(["", "", "AUTH1"])),
            )
        )
    if len(lines) >= 2 and draw(st.booleans()):
        pair = draw(st.sampled_from(PAIRS))
        lines[0] = replace(lines[0], procedure_code=pair.column_1)
        lines[1] = replace(
            lines[1], procedure_code=pair.column_2, service_date=lines[0].service_date
        )
    return lines


@st.composite
def prior_payment(draw, charge: Decimal) -> PriorLinePayment:
    paid = draw(st.integers(0, int(charge * 100))).__truediv__(100)
    paid = D(paid).quantize(D("0.01"))
    patient = D(draw(st.integers(0, int((charge - paid) * 100)))) / 100
    return PriorLinePayment(
        "PRIMARY1",
        paid,
        (
            PriorAdjustment("CO", "45", charge - paid - patient),
            PriorAdjustment("PR", draw(st.sampled_from(["1", "2", "3"])), patient),
        ),
        remaining_patient_liability=draw(st.sampled_from([None, patient, D("5.00")])),
    )


@st.composite
def claims(draw) -> SubmittedClaim:
    diagnoses = draw(st.lists(st.sampled_from(DIAGNOSES), min_size=0, max_size=4))
    lines = draw(service_lines(draw(st.integers(1, 8)), len(diagnoses)))
    responsibility = draw(st.sampled_from(["P", "P", "P", "S", "T"]))
    others: tuple[OtherPayerPaid, ...] = ()
    if responsibility != "P":
        by_line = draw(st.booleans())
        if by_line:
            lines = [replace(x, prior_payments=(draw(prior_payment(x.charge)),)) for x in lines]
        others = (
            OtherPayerPaid(
                "PRIMARY1",
                draw(st.one_of(st.none(), cents)),
                responsibility="P",
                adjustments=tuple(
                    draw(
                        st.lists(
                            st.builds(
                                PriorAdjustment,
                                st.sampled_from(["CO", "PR", "OA"]),
                                st.sampled_from(["45", "1", "2", "3"]),
                                cents,
                            ),
                            max_size=3,
                        )
                    )
                ),
                remaining_patient_liability=draw(st.one_of(st.none(), cents)),
            ),
        )
    elif draw(st.booleans()):
        others = (OtherPayerPaid("GAP1", None, responsibility="S", payer_name="GAP"),)
    total = sum((x.charge for x in lines), D("0.00"))
    if draw(st.integers(0, 20)) == 0:
        total += draw(positive_cents)
    institutional = draw(st.integers(0, 5)) == 0
    return SubmittedClaim(
        claim_id=f"H{draw(st.integers(0, 10**6))}",
        total_charge=total,
        frequency_code=draw(st.sampled_from(["1", "1", "7"])),
        place_of_service=draw(st.sampled_from(["11", "20", "23", "02"]))
        if not institutional
        else draw(st.sampled_from(["11", "13"])),
        billing_provider_npi="1234567893",
        billing_provider_name="CLINIC",
        billing_provider_tax_id="",
        payer_id=draw(st.sampled_from(["SIMPAYER1", "SIMPAYER2", "OTHERPAYER"])),
        payer_name="PLAN",
        payer_responsibility=responsibility,
        claim_filing_indicator="CI",
        member_id=draw(st.sampled_from(["M1", "M2", "XOVER00001", "PLANONLY01"])),
        subscriber_last_name="DOE",
        subscriber_first_name="JO",
        patient_last_name="DOE",
        patient_first_name="JO",
        patient_is_subscriber=True,
        service_lines=tuple(lines),
        origin=InterchangeReference("S", "R", "1", "1", "1"),
        claim_type="837I" if institutional else "837P",
        diagnoses=tuple(diagnoses),
        prior_authorization=draw(st.sampled_from(["", "", "", "AUTH9"])),
        other_payers=others,
    )


contexts = st.builds(
    PayerContext,
    tables=st.just(TABLES),
    received_on=st.sampled_from([None, TODAY]),
    benefit_states=st.dictionaries(
        st.sampled_from([2025, 2026]),
        st.builds(BenefitState, cents, cents),
        max_size=2,
    ),
    is_duplicate=st.integers(0, 15).map(lambda n: n == 0),
    line_denial_rate=st.sampled_from([0.0, 0.3, 1.0]),
    crossover_rate=st.sampled_from([0.0, 0.5]),
)


def balance_problems(a: Adjudication) -> list[str]:
    problems = []
    for line in a.lines:
        cas = sum((x.amount for x in line.adjustments), D(0))
        if line.charge - cas != line.paid:
            problems.append(f"line {line.line.number}: charge - CAS != paid")
    cas = sum((x.amount for x in a.all_adjustments), D(0))
    if a.charge - cas != a.paid:
        problems.append("claim: CLP03 - CAS != CLP04")
    if a.patient_responsibility != sum(
        (x.amount for x in a.all_adjustments if x.group == "PR"), D(0)
    ):
        problems.append("claim: CLP05 != PR")
    return problems


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    claim=claims(),
    context=contexts,
    seed=st.integers(0, 2**32),
    denial_rate=st.sampled_from([0.0, 0.1, 1.0]),
)
def test_every_adjudication_balances_and_stays_within_the_charge(claim, context, seed, denial_rate):
    a = adjudicate(claim, seed=seed, denial_rate=denial_rate, context=context)

    assert balance_problems(a) == []
    assert a == adjudicate(claim, seed=seed, denial_rate=denial_rate, context=context)
    for line in a.lines:
        assert D(0) <= line.paid <= line.allowed <= line.line.charge
        assert all(x.amount >= 0 for x in line.adjustments)
        assert line.patient_responsibility <= line.allowed or a.claim.payer_responsibility != "P"
        if line.denied:
            assert line.paid == 0 and line.allowed == 0
    for amount in [a.paid, *(x.amount for x in a.all_adjustments)]:
        assert amount == amount.quantize(D("0.01"))
    if a.denied:
        assert a.paid == 0 and a.patient_responsibility == 0 and a.crossover_carrier is None
    assert (a.status in FORWARDED.values()) == (a.crossover_carrier is not None)
    if a.status == "4":
        assert a.denial_reason == "31"
    for use in a.benefit_use:
        assert use.deductible >= 0 and use.out_of_pocket >= use.deductible


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claim=claims(), context=contexts, seed=st.integers(0, 2**32))
def test_a_reversal_and_its_correction_net_to_the_change_in_payment(claim, context, seed):
    original = adjudicate(claim, seed=seed, denial_rate=0.0, context=context)
    reversal, corrected = reprocess(original, seed=seed, denial_rate=0.0, context=context)

    assert balance_problems(reversal) == [] and balance_problems(corrected) == []
    assert reversal.paid == -original.paid and reversal.charge == -original.charge
    assert reversal_of(original) == replace(reversal, received_on=original.received_on)
    assert corrected.original_claim_number == reversal.payer_claim_number


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(
        st.tuples(claims(), st.sampled_from(["pay", "reverse", "reprocess"])),
        min_size=1,
        max_size=8,
    ),
    balance=cents,
    held=st.integers(0, 8),
    seed=st.integers(0, 2**32),
    payer_id=st.sampled_from(["SIMPAYER1", "SIMPAYER2"]),
)
def test_provider_adjustments_keep_every_payment_non_negative_and_balanced(
    batch, balance, held, seed, payer_id
):
    items = []
    for claim, what in batch:
        a = adjudicate(claim, seed=seed, denial_rate=0.1)
        if what == "pay":
            items.append(a)
        elif what == "reverse":
            items.append(reversal_of(a))
        else:
            items.extend(reprocess(a, seed=seed, denial_rate=0.1, context=PayerContext()))
    ledger = PayeeLedger(
        forward_balance=balance,
        forward_reference="T0" if balance else "",
        held_recoveries=tuple(HeldRecovery(f"OLD{i}", D(i + 1)) for i in range(held)),
    )
    terms = TABLES.terms_for(payer_id)

    adjustments, after = settle_payment(
        items, ledger=ledger, terms=terms, seed=seed, interest_rate=0.5, trace_number="T1"
    )

    paid = sum((a.paid for a in items), D(0))
    payment = paid - sum((p.amount for p in adjustments), D(0))
    assert payment >= 0
    assert after.forward_balance >= 0
    assert len(adjustments) <= 6  # one PLB segment
    assert all(p.amount for p in adjustments)
    # Money is neither made nor lost: what the payee owes afterwards is what it owed, less
    # what this payment took back, plus what it could not.
    forward = [p.amount for p in adjustments if p.reason == "FB"]
    assert after.forward_balance == balance - sum(forward, D(0))
    # Held overpayments are either recouped now (WO, positive) or still held afterwards.
    recouped = sum((p.amount for p in adjustments if p.reason == "WO" and p.amount > 0), D(0))
    withheld = sum((-p.amount for p in adjustments if p.reason == "WO" and p.amount < 0), D(0))
    before = sum((h.amount for h in ledger.held_recoveries), D(0))
    assert sum((h.amount for h in after.held_recoveries), D(0)) == before - recouped + withheld
