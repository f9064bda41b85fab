"""KPIs over a seeded batch equal the values this test computes on its own from what it
generated (not from the facts), for the tenant and for each payer."""

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from claimflow_remittance.domain.era_model import Adjustment
from claimflow_remittance.domain.kpi_report import bar_chart, kpi_rows, render_table
from claimflow_remittance.domain.kpis import (
    ClaimFact,
    compute_kpis,
    cost_to_collect,
    kpis_by_payer,
    remitted_fact,
)

D = Decimal
CENT = D("0.01")
START, END, AS_OF = date(2024, 1, 1), date(2024, 3, 31), date(2024, 4, 15)
# Denial reasons the batch uses, with the category the test expects for each.
DENIALS = {
    "50": "medical-necessity",
    "197": "authorization",
    "97": "bundling",
    "29": "timely-filing",
    "18": "duplicate",
    "31": "registration-eligibility",
    "4": "coding",
}
CATEGORIES = [
    "registration-eligibility", "authorization", "coding", "medical-necessity", "bundling",
    "timely-filing", "duplicate", "other",
]  # fmt: skip


def money(value: float) -> Decimal:
    return D(str(value)).quantize(CENT)


def generate(seed: int = 20240415):
    """Facts for the KPIs, and beside them the truth per claim kept by the generator."""
    rng = random.Random(seed)
    facts: list[ClaimFact] = []
    truth: dict[str, dict] = {}
    for n in range(600):
        tenant = "t1" if n % 8 else "t2"
        payer = rng.choice(["P1", "P2", "P3"])
        claim_id = f"C{n:04d}"
        submitted = START - timedelta(days=30) + timedelta(days=rng.randrange(0, 140))
        charge = money(rng.randrange(5000, 90000) / 100)
        claim = {
            "tenant": tenant, "payer": payer, "submitted": submitted, "charge": charge,
            "rejected": False, "resubmitted": False, "remits": [], "patient_paid": D(0),
            "written_off": D(0),
        }  # fmt: skip
        truth[claim_id] = claim
        base = {"tenant_id": tenant, "claim_id": claim_id, "payer_id": payer}
        facts.append(ClaimFact("submitted", on=submitted, amount=charge, **base))
        day = submitted
        if rng.random() < 0.08:
            day += timedelta(days=2)
            facts.append(ClaimFact("rejected", on=day, **base))
            claim["rejected"] = True
            day += timedelta(days=3)
            facts.append(ClaimFact("resubmitted", on=day, amount=charge, **base))
            claim["resubmitted"] = True
        if rng.random() < 0.15:
            continue  # no remittance yet
        day += timedelta(days=rng.randrange(10, 45))
        roll = rng.random()
        patient = money(float(charge) * rng.choice([0, 0, 0.1, 0.2]))
        if roll < 0.12:
            carc = rng.choice(list(DENIALS))
            status, paid, adjustments = "denied", D("0.00"), [Adjustment("CO", carc, charge)]
            patient = D("0.00")
        elif roll < 0.24:
            carc = rng.choice(list(DENIALS))
            denied_part = money(float(charge) * 0.3)
            paid = money(float(charge - denied_part) * 0.7) - patient
            adjustments = [
                Adjustment("CO", carc, denied_part),
                Adjustment("CO", "45", charge - denied_part - paid - patient),
                Adjustment("PR", "2", patient),
            ]
            status = "partially-paid"
        else:
            carc = None
            paid = money(float(charge) * 0.65) - patient
            adjustments = [
                Adjustment("CO", "45", charge - paid - patient),
                Adjustment("PR", "1", patient),
            ]
            status = "paid"
        contractual = sum((a.amount for a in adjustments if (a.group, a.reason) == ("CO", "45")),
                          D(0))  # fmt: skip
        denied = sum((a.amount for a in adjustments if a.reason in DENIALS), D(0))
        remits = [(day, status, paid, contractual, denied, DENIALS.get(carc) if carc else None)]
        facts.append(
            remitted_fact(on=day, status=status, paid=paid, adjustments=adjustments, **base)
        )
        if status == "paid" and rng.random() < 0.05:
            day += timedelta(days=7)
            negated = [Adjustment(a.group, a.reason, -a.amount) for a in adjustments]
            facts.append(
                remitted_fact(on=day, status="reversed", paid=-paid, adjustments=negated, **base)
            )
            remits.append((day, "reversed", -paid, -contractual, D(0), None))
            facts.append(
                remitted_fact(on=day, status="paid", paid=paid, adjustments=adjustments, **base)
            )
            remits.append((day, "paid", paid, contractual, D(0), None))
        claim["remits"] = remits
        if patient > 0 and rng.random() < 0.5:
            day += timedelta(days=rng.randrange(5, 30))
            part = money(float(patient) * rng.choice([0.5, 1]))
            facts.append(ClaimFact("patient-paid", on=day, amount=part, **base))
            claim["patient_paid_on"] = (day, part)
        if denied > 0 and rng.random() < 0.4:
            day += timedelta(days=rng.randrange(5, 40))
            kind = rng.choice(["written-off", "appealed"])
            facts.append(ClaimFact(kind, on=day, amount=denied, **base))
            if kind == "written-off":
                claim["written_off_on"] = (day, denied)
        if rng.random() < 0.2:
            facts.append(ClaimFact("statement-sent", on=day, **base))
    rng.shuffle(facts)  # the order events arrive in must not matter
    return facts, truth


def rate(numerator, denominator):
    if not denominator:
        return None
    return (D(numerator) / D(denominator)).quantize(D("0.0001"), ROUND_HALF_UP)


def expected(truth, *, tenant, payer=None):
    claims = {
        cid: c for cid, c in truth.items()
        if c["tenant"] == tenant and (payer is None or c["payer"] == payer)
        and c["submitted"] <= AS_OF
    }  # fmt: skip
    for claim in claims.values():
        claim["seen"] = [r for r in claim["remits"] if r[0] <= AS_OF]
        paid_on = claim.get("patient_paid_on")
        claim["pp"] = paid_on[1] if paid_on and paid_on[0] <= AS_OF else D(0)
        off = claim.get("written_off_on")
        claim["wo"] = off[1] if off and off[0] <= AS_OF else D(0)
    cohort = [c for c in claims.values() if START <= c["submitted"] <= END]
    adjudicated = [c for c in cohort if c["seen"]]
    first = [c["seen"][0] for c in adjudicated]
    denied_first = [r for r in first if r[1] == "denied" or r[4] > 0]
    first_pass = [
        c for c in adjudicated
        if c["seen"][0][1] == "paid" and not c["rejected"] and not c["resubmitted"]
    ]  # fmt: skip
    collected = sum((sum((r[2] for r in c["seen"]), D(0)) + c["pp"] for c in cohort), D(0))
    base = sum((c["charge"] - sum((r[3] for r in c["seen"]), D(0)) for c in cohort), D(0))
    aging = dict.fromkeys(["0-30", "31-60", "61-90", "91-120", "120+"], D("0.00"))
    for c in claims.values():
        left = c["charge"] - sum((r[2] + r[3] for r in c["seen"]), D(0)) - c["pp"] - c["wo"]
        if left > 0:
            age = (AS_OF - c["submitted"]).days
            bucket = ("0-30" if age <= 30 else "31-60" if age <= 60 else "61-90" if age <= 90
                      else "91-120" if age <= 120 else "120+")  # fmt: skip
            aging[bucket] += left
    window = sum((c["charge"] for c in claims.values() if (AS_OF - c["submitted"]).days < 90), D(0))
    total_ar = sum(aging.values(), D(0))
    return {
        "claims_submitted": len(cohort),
        "clean_claim_rate": rate(sum(1 for c in cohort if not c["rejected"]), len(cohort)),
        "claims_adjudicated": len(adjudicated),
        "first_pass_resolution_rate": rate(len(first_pass), len(adjudicated)),
        "initial_denial_rate": rate(len(denied_first), len(adjudicated)),
        "denial_rate_by_category": {
            cat: rate(sum(1 for r in denied_first if r[5] == cat), len(adjudicated))
            for cat in CATEGORIES
        },
        "net_collection_rate": rate(collected, base),
        "ar_total": total_ar,
        "ar_aging": aging,
        "days_in_ar": (total_ar / (window / 90)).quantize(D("0.1"), ROUND_HALF_UP),
    }


def actual(kpis):
    return {name: getattr(kpis, name) for name in expected_names()}


def expected_names():
    return [
        "claims_submitted", "clean_claim_rate", "claims_adjudicated",
        "first_pass_resolution_rate", "initial_denial_rate", "denial_rate_by_category",
        "net_collection_rate", "ar_total", "ar_aging", "days_in_ar",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def batch():
    return generate()


def test_tenant_kpis_equal_the_independently_computed_values(batch):
    facts, truth = batch

    kpis = compute_kpis(facts, tenant_id="t1", period_start=START, period_end=END, as_of=AS_OF)

    assert actual(kpis) == expected(truth, tenant="t1")
    # The batch really exercises every figure: nothing trivially zero or one.
    assert 0 < kpis.initial_denial_rate < 1
    assert 0 < kpis.clean_claim_rate < 1
    assert all(kpis.ar_aging[b] > 0 for b in ("0-30", "31-60", "61-90"))
    assert sum(1 for v in kpis.denial_rate_by_category.values() if v > 0) >= 5


@pytest.mark.parametrize("payer", ["P1", "P2", "P3"])
def test_kpis_per_payer_equal_the_independently_computed_values(batch, payer):
    facts, truth = batch

    by_payer = kpis_by_payer(facts, tenant_id="t1", period_start=START, period_end=END,
                             as_of=AS_OF)  # fmt: skip

    assert actual(by_payer[payer]) == expected(truth, tenant="t1", payer=payer)
    assert set(by_payer) == {None, "P1", "P2", "P3"}


def test_another_tenants_claims_never_count(batch):
    facts, truth = batch
    t2 = compute_kpis(facts, tenant_id="t2", period_start=START, period_end=END, as_of=AS_OF)

    assert actual(t2) == expected(truth, tenant="t2")
    assert t2.claims_submitted < 100


def test_cost_to_collect_inputs_count_the_work_of_the_period(batch):
    facts, _ = batch
    kpis = compute_kpis(facts, tenant_id="t1", period_start=START, period_end=END, as_of=AS_OF)
    in_period = [f for f in facts if f.tenant_id == "t1" and START <= f.on <= END]

    inputs = kpis.cost_to_collect

    assert inputs.resubmissions == sum(1 for f in in_period if f.kind == "resubmitted")
    assert inputs.appeals == sum(1 for f in in_period if f.kind == "appealed")
    assert inputs.statements_sent == sum(1 for f in in_period if f.kind == "statement-sent")
    assert inputs.collected == sum((f.paid for f in in_period if f.kind == "remitted"), D(0)) + sum(
        (f.amount for f in in_period if f.kind == "patient-paid"), D(0)
    )
    assert cost_to_collect(inputs.collected * D("0.03"), inputs) == D("0.0300")


def test_no_claims_gives_no_rates_rather_than_a_division_by_zero():
    kpis = compute_kpis([], tenant_id="t1", period_start=START, period_end=END)

    assert kpis.clean_claim_rate is None
    assert kpis.days_in_ar is None
    assert kpis.ar_total == D("0.00")


def test_report_table_and_chart_show_the_figures(batch):
    facts, _ = batch
    kpis = compute_kpis(facts, tenant_id="t1", period_start=START, period_end=END, as_of=AS_OF)

    table = render_table(kpi_rows(kpis))
    chart = bar_chart(kpis.ar_aging)

    assert f"{kpis.clean_claim_rate * 100:.1f}%" in table
    assert "Days in A/R" in table
    lines = chart.splitlines()
    assert [line.split()[0] for line in lines] == ["0-30", "31-60", "61-90", "91-120", "120+"]
    largest = max(kpis.ar_aging, key=kpis.ar_aging.get)
    assert "#" * 40 in next(line for line in lines if line.startswith(largest))


def test_spine_events_become_kpi_facts(era):
    from types import SimpleNamespace

    from claimflow_remittance.domain.era_reader import read_835
    from claimflow_remittance.domain.events import remittance_received_payload
    from claimflow_remittance.domain.kpis import kpi_fact
    from claimflow_remittance.domain.posting import post_claim_payment

    remittance = read_835(
        era("CLP*C1*1*100*50**12*PCN1", "SVC*HC:99213*100*50", "CAS*CO*45*20*1*50*30",
            total="50.00")
    )  # fmt: skip
    clp = remittance.claims[0]
    received = remittance_received_payload(remittance, clp, post_claim_payment(clp), file_id="f1")
    submitted = SimpleNamespace(
        claim_id="C1", frequency_code="1", payer=SimpleNamespace(payer_id="P1"),
        total_charge=D("100.00"),
    )  # fmt: skip
    day = date(2024, 2, 1)

    fact = kpi_fact("remittance.received", tenant_id="t1", occurred_on=day, payload=received)
    first = kpi_fact("claim.submitted", tenant_id="t1", occurred_on=day, payload=submitted)
    void = SimpleNamespace(**{**vars(submitted), "frequency_code": "8"})

    assert (fact.kind, fact.paid, fact.contractual, fact.denied) == (
        "remitted", D("50.00"), D("20.00"), D("30.00"),
    )  # fmt: skip
    assert (fact.status, fact.category, fact.payer_id) == (
        "partially-paid", "medical-necessity", "ACME1",
    )  # fmt: skip
    assert (first.kind, first.amount, first.payer_id) == ("submitted", D("100.00"), "P1")
    assert kpi_fact("claim.submitted", tenant_id="t1", occurred_on=day, payload=void) is None
    assert kpi_fact("encounter.coded", tenant_id="t1", occurred_on=day, payload=void) is None
