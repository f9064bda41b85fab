"""Patient balances: what insurance left to each patient (from `patient.balance-due`),
patient payments applied against it, statements with aging, and payment plans."""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from claimflow_remittance.domain.aging import age_in_days, aging_bucket, aging_totals

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


class PatientAccountError(ValueError):
    """A request the account rules refuse; names the field and the reason."""


@dataclass(frozen=True)
class PatientCharge:
    """One visit's claim after insurance: what it cost and what the patient owes."""

    tenant_id: str
    patient_key: str  # the tenant's patient id (MRN or token), never a name
    claim_id: str
    service_date: date
    charge: Decimal
    insurance_paid: Decimal
    adjustments: Decimal  # contractual write-offs and other payer adjustments
    patient_owes: Decimal
    due_since: date  # the remittance date that made it the patient's
    description: str = ""


@dataclass(frozen=True)
class PatientPayment:
    payment_id: str
    tenant_id: str
    patient_key: str
    received_on: date
    amount: Decimal
    method: str = "card"
    claim_id: str | None = None  # a payment the patient meant for one visit


@dataclass(frozen=True)
class Allocation:
    payment_id: str
    claim_id: str
    amount: Decimal


@dataclass(frozen=True)
class AppliedPayments:
    allocations: tuple[Allocation, ...]
    credit: Decimal  # paid beyond everything owed: refund or keep on account

    def paid_on(self, claim_id: str) -> Decimal:
        return sum((a.amount for a in self.allocations if a.claim_id == claim_id), ZERO)


def apply_payments(
    charges: Sequence[PatientCharge], payments: Sequence[PatientPayment]
) -> AppliedPayments:
    """Apply payments in the order received: first to the visit named, then oldest first."""
    _same_patient(charges, payments)
    open_balance = {c.claim_id: c.patient_owes for c in charges}
    oldest_first = [c.claim_id for c in sorted(charges, key=lambda c: (c.due_since, c.claim_id))]
    allocations: list[Allocation] = []
    credit = ZERO
    for payment in sorted(payments, key=lambda p: (p.received_on, p.payment_id)):
        if payment.amount <= 0:
            raise PatientAccountError(f"payment {payment.payment_id}: amount must be positive")
        left = payment.amount
        targets = ([payment.claim_id] if payment.claim_id in open_balance else []) + oldest_first
        for claim_id in targets:
            if left <= 0:
                break
            take = min(left, open_balance[claim_id])
            if take > 0:
                allocations.append(Allocation(payment.payment_id, claim_id, take))
                open_balance[claim_id] -= take
                left -= take
        credit += left
    return AppliedPayments(tuple(allocations), credit)


def _same_patient(charges: Sequence[PatientCharge], payments: Sequence[PatientPayment]) -> None:
    owners = {(c.tenant_id, c.patient_key) for c in charges} | {
        (p.tenant_id, p.patient_key) for p in payments
    }
    if len(owners) > 1:
        raise PatientAccountError("patient_key: charges and payments of several patients")


@dataclass(frozen=True)
class StatementLine:
    claim_id: str
    service_date: date
    description: str
    charge: Decimal
    insurance_paid: Decimal
    adjustments: Decimal
    patient_paid: Decimal
    balance: Decimal
    age_days: int
    bucket: str


@dataclass(frozen=True)
class Statement:
    """One patient's statement from one tenant (practice)."""

    tenant_id: str
    patient_key: str
    statement_date: date
    due_by: date
    lines: tuple[StatementLine, ...]
    payments: tuple[PatientPayment, ...]
    aging: dict[str, Decimal]
    total_due: Decimal
    credit: Decimal

    @property
    def insurance_paid(self) -> Decimal:
        return sum((line.insurance_paid for line in self.lines), ZERO)


def build_statement(
    *,
    tenant_id: str,
    patient_key: str,
    charges: Sequence[PatientCharge],
    payments: Sequence[PatientPayment],
    as_of: date,
    days_to_pay: int = 30,
) -> Statement:
    """The statement as of a day: visits with a balance, what insurance paid, aging, total."""
    mine = [c for c in charges if (c.tenant_id, c.patient_key) == (tenant_id, patient_key)]
    paid = [p for p in payments if (p.tenant_id, p.patient_key) == (tenant_id, patient_key)]
    applied = apply_payments(mine, [p for p in paid if p.received_on <= as_of])
    lines = []
    for charge in sorted(mine, key=lambda c: (c.service_date, c.claim_id)):
        patient_paid = applied.paid_on(charge.claim_id)
        balance = charge.patient_owes - patient_paid
        if balance <= 0 and charge.due_since < as_of.replace(day=1):
            continue  # settled before this statement's month: no longer news to the patient
        age = age_in_days(charge.due_since, as_of)
        lines.append(
            StatementLine(
                claim_id=charge.claim_id,
                service_date=charge.service_date,
                description=charge.description or "Office visit",
                charge=charge.charge,
                insurance_paid=charge.insurance_paid,
                adjustments=charge.adjustments,
                patient_paid=patient_paid,
                balance=balance,
                age_days=age,
                bucket=aging_bucket(age),
            )
        )
    total = sum((line.balance for line in lines), ZERO)
    return Statement(
        tenant_id=tenant_id,
        patient_key=patient_key,
        statement_date=as_of,
        due_by=as_of + timedelta(days=days_to_pay),
        lines=tuple(lines),
        payments=tuple(p for p in paid if p.received_on <= as_of),
        aging=aging_totals(
            ((c.due_since, c.patient_owes - applied.paid_on(c.claim_id)) for c in mine), as_of
        ),
        total_due=total,
        credit=applied.credit,
    )


@dataclass(frozen=True)
class Instalment:
    number: int
    due_on: date
    amount: Decimal
    paid: Decimal = ZERO

    @property
    def open(self) -> Decimal:
        return self.amount - self.paid


@dataclass(frozen=True)
class PaymentPlan:
    plan_id: str
    tenant_id: str
    patient_key: str
    total: Decimal
    instalments: tuple[Instalment, ...]
    payments: tuple[tuple[date, Decimal], ...] = ()

    @property
    def paid(self) -> Decimal:
        return sum((amount for _, amount in self.payments), ZERO)

    @property
    def remaining(self) -> Decimal:
        return self.total - min(self.paid, self.total)


def create_payment_plan(
    *,
    plan_id: str,
    tenant_id: str,
    patient_key: str,
    total: Decimal,
    count: int,
    first_due: date,
    every_months: int = 1,
) -> PaymentPlan:
    """Split a balance into `count` instalments a month (or more) apart, to the cent.

    The cents that do not divide evenly go to the first instalments, one each, so the
    schedule always adds up to the balance.
    """
    if total <= 0:
        raise PatientAccountError("total: must be positive")
    if not 1 <= count <= 120:
        raise PatientAccountError("count: must be 1 to 120 instalments")
    if every_months < 1:
        raise PatientAccountError("every_months: must be at least 1")
    total = total.quantize(CENT)
    base = (total / count).quantize(CENT, rounding=ROUND_DOWN)
    extra_cents = int((total - base * count) / CENT)
    instalments = tuple(
        Instalment(
            number=n + 1,
            due_on=_add_months(first_due, n * every_months),
            amount=base + (CENT if n < extra_cents else ZERO),
        )
        for n in range(count)
    )
    return PaymentPlan(plan_id, tenant_id, patient_key, total, instalments)


def record_plan_payment(plan: PaymentPlan, *, amount: Decimal, on: date) -> PaymentPlan:
    """A payment fills the earliest open instalments first; beyond the plan it is refused."""
    if amount <= 0:
        raise PatientAccountError("amount: must be positive")
    if amount > plan.remaining:
        raise PatientAccountError("amount: more than the plan's remaining balance")
    left = amount
    updated = []
    for instalment in plan.instalments:
        take = min(left, instalment.open)
        updated.append(replace(instalment, paid=instalment.paid + take))
        left -= take
    return replace(plan, instalments=tuple(updated), payments=(*plan.payments, (on, amount)))


@dataclass(frozen=True)
class PlanStatus:
    paid: Decimal
    remaining: Decimal
    next_due: Instalment | None
    overdue: tuple[Instalment, ...]
    complete: bool


def plan_status(plan: PaymentPlan, today: date) -> PlanStatus:
    open_ones = [i for i in plan.instalments if i.open > 0]
    return PlanStatus(
        paid=plan.paid,
        remaining=plan.remaining,
        next_due=next((i for i in open_ones if i.due_on >= today), None),
        overdue=tuple(i for i in open_ones if i.due_on < today),
        complete=not open_ones,
    )


def _add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    # A plan started on the 31st falls due on the last day of shorter months.
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def patient_key_for(tenant_id: str, mrn: str) -> str:
    """The opaque account number a patient goes by in URLs, logs and statements: stable per
    tenant and MRN, without being the MRN (which would put an identifier in access logs)."""
    digest = hashlib.sha256(f"{tenant_id}\x1f{mrn}".encode()).hexdigest()
    return f"P{digest[:15].upper()}"
