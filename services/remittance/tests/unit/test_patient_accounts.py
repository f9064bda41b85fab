from datetime import date
from decimal import Decimal

import pytest

from claimflow_remittance.domain.patient_accounts import (
    PatientAccountError,
    PatientCharge,
    PatientPayment,
    apply_payments,
    build_statement,
    create_payment_plan,
    plan_status,
    record_plan_payment,
)

D = Decimal


def charge(claim_id, owes, due, service=None, tenant="t1", patient="MRN1"):
    return PatientCharge(
        tenant_id=tenant,
        patient_key=patient,
        claim_id=claim_id,
        service_date=service or due,
        charge=D("200.00"),
        insurance_paid=D("120.00"),
        adjustments=D("200.00") - D("120.00") - D(owes),
        patient_owes=D(owes),
        due_since=due,
    )


def payment(pid, amount, on, claim_id=None, tenant="t1", patient="MRN1"):
    return PatientPayment(pid, tenant, patient, on, D(amount), "card", claim_id)


def test_payments_apply_oldest_visit_first():
    charges = [charge("new", "50.00", date(2024, 3, 1)), charge("old", "30.00", date(2024, 1, 5))]

    applied = apply_payments(charges, [payment("p1", "40.00", date(2024, 3, 5))])

    assert [(a.claim_id, a.amount) for a in applied.allocations] == [
        ("old", D("30.00")),
        ("new", D("10.00")),
    ]
    assert applied.credit == D("0.00")


def test_payment_meant_for_one_visit_goes_there_first():
    charges = [charge("new", "50.00", date(2024, 3, 1)), charge("old", "30.00", date(2024, 1, 5))]

    applied = apply_payments(charges, [payment("p1", "60.00", date(2024, 3, 5), claim_id="new")])

    assert [(a.claim_id, a.amount) for a in applied.allocations] == [
        ("new", D("50.00")),
        ("old", D("10.00")),
    ]


def test_overpayment_becomes_a_credit():
    applied = apply_payments(
        [charge("a", "30.00", date(2024, 1, 5))], [payment("p1", "45.00", date(2024, 2, 1))]
    )

    assert applied.credit == D("15.00")


def test_payments_of_another_patient_are_refused():
    with pytest.raises(PatientAccountError, match="patient_key"):
        apply_payments(
            [charge("a", "30.00", date(2024, 1, 5))],
            [payment("p1", "5.00", date(2024, 2, 1), patient="MRN2")],
        )


def test_statement_lists_visits_insurance_paid_what_is_owed_and_aging():
    charges = [
        charge("c-jan", "80.00", date(2024, 1, 10)),
        charge("c-mar", "40.00", date(2024, 3, 20)),
        charge("other-tenant", "99.00", date(2024, 3, 1), tenant="t2"),
    ]
    payments = [
        payment("p1", "30.00", date(2024, 3, 25)),
        payment("later", "10.00", date(2024, 5, 1)),
    ]

    statement = build_statement(
        tenant_id="t1",
        patient_key="MRN1",
        charges=charges,
        payments=payments,
        as_of=date(2024, 4, 1),
    )

    assert [line.claim_id for line in statement.lines] == ["c-jan", "c-mar"]
    jan, mar = statement.lines
    assert (jan.patient_paid, jan.balance, jan.bucket) == (D("30.00"), D("50.00"), "61-90")
    assert (mar.balance, mar.bucket) == (D("40.00"), "0-30")
    assert statement.total_due == D("90.00")
    assert statement.insurance_paid == D("240.00")
    assert statement.aging == {
        "0-30": D("40.00"),
        "31-60": D("0.00"),
        "61-90": D("50.00"),
        "91-120": D("0.00"),
        "120+": D("0.00"),
    }
    assert statement.due_by == date(2024, 5, 1)
    assert [p.payment_id for p in statement.payments] == ["p1"]


def test_visit_settled_in_an_earlier_month_leaves_the_statement():
    charges = [charge("paid", "20.00", date(2024, 1, 10)), charge("open", "5.00", date(2024, 3, 2))]
    payments = [payment("p1", "20.00", date(2024, 1, 20))]

    statement = build_statement(
        tenant_id="t1", patient_key="MRN1", charges=charges, payments=payments,
        as_of=date(2024, 3, 15),
    )  # fmt: skip

    assert [line.claim_id for line in statement.lines] == ["open"]


def test_payment_plan_splits_the_balance_to_the_cent_and_monthly():
    plan = create_payment_plan(
        plan_id="pl1", tenant_id="t1", patient_key="MRN1", total=D("100.00"), count=3,
        first_due=date(2024, 1, 31),
    )  # fmt: skip

    assert [i.amount for i in plan.instalments] == [D("33.34"), D("33.33"), D("33.33")]
    assert sum(i.amount for i in plan.instalments) == D("100.00")
    assert [i.due_on for i in plan.instalments] == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
    ]


def test_plan_payments_fill_the_earliest_instalments_and_show_what_is_overdue():
    plan = create_payment_plan(
        plan_id="pl1", tenant_id="t1", patient_key="MRN1", total=D("90.00"), count=3,
        first_due=date(2024, 1, 15),
    )  # fmt: skip
    plan = record_plan_payment(plan, amount=D("40.00"), on=date(2024, 1, 14))

    status = plan_status(plan, today=date(2024, 2, 20))

    assert [i.paid for i in plan.instalments] == [D("30.00"), D("10.00"), D("0.00")]
    assert status.paid == D("40.00") and status.remaining == D("50.00")
    assert [i.number for i in status.overdue] == [2]
    assert status.next_due is not None and status.next_due.number == 3
    assert not status.complete

    plan = record_plan_payment(plan, amount=D("50.00"), on=date(2024, 3, 1))
    assert plan_status(plan, today=date(2024, 3, 1)).complete


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [("total", {"total": D("0")}), ("count", {"count": 0})],
)
def test_plan_that_cannot_exist_is_refused_naming_the_field(field, kwargs):
    args = {"plan_id": "p", "tenant_id": "t1", "patient_key": "MRN1", "total": D("10"),
            "count": 2, "first_due": date(2024, 1, 1)} | kwargs  # fmt: skip
    with pytest.raises(PatientAccountError, match=field):
        create_payment_plan(**args)


def test_payment_beyond_the_plan_is_refused():
    plan = create_payment_plan(
        plan_id="p", tenant_id="t1", patient_key="MRN1", total=D("10"), count=2,
        first_due=date(2024, 1, 1),
    )  # fmt: skip

    with pytest.raises(PatientAccountError, match="remaining"):
        record_plan_payment(plan, amount=D("10.01"), on=date(2024, 1, 1))
