"""Patient accounts: what insurance left to each patient (posted with the remittance), the
patient's payments applied against it, payment plans, and statements as PDFs. Patients go by
an opaque account number (`patient_key`) per tenant, never by a name or MRN in a URL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from claimflow_remittance.adapters.tables import (
    PatientChargeRow,
    PatientPaymentRow,
    PaymentPlanRow,
)
from claimflow_remittance.domain.contacts import Contact
from claimflow_remittance.domain.patient_accounts import (
    Instalment,
    PatientAccountError,
    PatientCharge,
    PatientPayment,
    PaymentPlan,
    Statement,
    apply_payments,
    build_statement,
    create_payment_plan,
    record_plan_payment,
)
from claimflow_remittance.unit_of_work import SqlRemittanceUnitOfWork

CENT = Decimal("0.01")
HOW_TO_PAY = (
    "Pay online through your provider's patient portal, or by phone at the number above.",
    "By mail: send a check payable to the practice with your account number on it.",
    "Questions or a payment plan: call us; we are glad to help.",
)


class PatientNotFound(LookupError):
    """No account with this key for the tenant (another tenant's is reported the same)."""


def _now() -> datetime:
    return datetime.now(UTC)


def claim_charges(rows: Sequence[PatientChargeRow]) -> list[PatientCharge]:
    """One statement line per claim: its postings (a reversal and its correction too) net."""
    by_claim: dict[str, list[PatientChargeRow]] = {}
    for row in rows:
        by_claim.setdefault(row.claim_id, []).append(row)
    charges = []
    for claim_id, items in by_claim.items():
        first = items[0]
        dates = [r.service_date for r in items if r.service_date]
        charges.append(
            PatientCharge(
                tenant_id=first.tenant_id,
                patient_key=first.patient_key,
                claim_id=claim_id,
                service_date=min(dates) if dates else first.due_since,
                charge=sum((Decimal(r.charge) for r in items), Decimal("0.00")),
                insurance_paid=sum((Decimal(r.insurance_paid) for r in items), Decimal("0.00")),
                adjustments=sum((Decimal(r.adjustments) for r in items), Decimal("0.00")),
                patient_owes=sum((Decimal(r.patient_owes) for r in items), Decimal("0.00")),
                due_since=max(r.due_since for r in items),
                description=first.description,
            )
        )
    return charges


def _payment(row: PatientPaymentRow) -> PatientPayment:
    return PatientPayment(
        payment_id=row.payment_id,
        tenant_id=row.tenant_id,
        patient_key=row.patient_key,
        received_on=row.received_on,
        amount=Decimal(row.amount),
        method=row.method,
        claim_id=row.claim_id,
    )


def plan_of(row: PaymentPlanRow) -> PaymentPlan:
    return PaymentPlan(
        plan_id=row.plan_id,
        tenant_id=row.tenant_id,
        patient_key=row.patient_key,
        total=Decimal(row.total),
        instalments=tuple(
            Instalment(
                number=i["number"],
                due_on=date.fromisoformat(i["due_on"]),
                amount=Decimal(i["amount"]),
                paid=Decimal(i["paid"]),
            )
            for i in row.instalments
        ),
        payments=tuple((date.fromisoformat(d), Decimal(a)) for d, a in row.payments),
    )


def _store_plan(row: PaymentPlanRow, plan: PaymentPlan) -> None:
    row.instalments = [
        {
            "number": i.number,
            "due_on": i.due_on.isoformat(),
            "amount": str(i.amount),
            "paid": str(i.paid),
        }
        for i in plan.instalments
    ]
    row.payments = [[d.isoformat(), str(a)] for d, a in plan.payments]
    row.status = "complete" if plan.remaining <= 0 else "active"


@dataclass(frozen=True)
class PatientAccount:
    patient_key: str
    patient: dict  # demographics as the last claim carried them
    statement: Statement
    plans: tuple[PaymentPlan, ...]
    plan_statuses: tuple[str, ...]


async def patient_account(
    uow: SqlRemittanceUnitOfWork, *, tenant_id: str, patient_key: str, as_of: date
) -> PatientAccount:
    charges = await uow.patients.charges(tenant_id, patient_key)
    if not charges:
        raise PatientNotFound(f"patient account {patient_key[:20]} not found")
    payments = await uow.patients.payments(tenant_id, patient_key)
    plans = await uow.patients.plans(tenant_id, patient_key)
    claims = await uow.ledger.claims_of_tenant(tenant_id, {c.claim_id for c in charges})
    latest = max(claims.values(), key=lambda c: c.created_at, default=None)
    return PatientAccount(
        patient_key=patient_key,
        patient=latest.patient if latest else {},
        statement=build_statement(
            tenant_id=tenant_id,
            patient_key=patient_key,
            charges=claim_charges(charges),
            payments=[_payment(p) for p in payments],
            as_of=as_of,
        ),
        plans=tuple(plan_of(p) for p in plans),
        plan_statuses=tuple(p.status for p in plans),
    )


async def record_patient_payment(
    uow: SqlRemittanceUnitOfWork,
    *,
    tenant_id: str,
    patient_key: str,
    amount: Decimal,
    received_on: date,
    method: str,
    by: str,
    claim_id: str | None = None,
) -> tuple[PatientPaymentRow, Decimal]:
    """Post a patient payment against the balance: to the visit named, then oldest first;
    an active payment plan records it too. Returns the payment and any credit left over."""
    if amount <= 0:
        raise PatientAccountError("amount: must be positive")
    await uow.lock(f"patient:{tenant_id}:{patient_key}")
    rows = await uow.patients.charges(tenant_id, patient_key)
    if not rows:
        raise PatientNotFound(f"patient account {patient_key[:20]} not found")
    charges = claim_charges(rows)
    if claim_id is not None and claim_id not in {c.claim_id for c in charges}:
        raise PatientAccountError("claim_id: not a visit on this account")
    earlier = [_payment(p) for p in await uow.patients.payments(tenant_id, patient_key)]
    row = PatientPaymentRow(
        payment_id=uuid.uuid4().hex,
        tenant_id=tenant_id,
        patient_key=patient_key,
        received_on=received_on,
        amount=amount.quantize(CENT),
        method=method,
        claim_id=claim_id,
        recorded_by=by,
    )
    before = apply_payments(charges, earlier)
    after = apply_payments(charges, [*earlier, _payment(row)])
    uow.patients.add_payment(row)
    for charge in charges:
        paid_now = after.paid_on(charge.claim_id) - before.paid_on(charge.claim_id)
        if paid_now != 0:
            uow.kpis.add_fact(
                dict(
                    tenant_id=tenant_id,
                    claim_id=charge.claim_id,
                    kind="patient-paid",
                    on_date=received_on,
                    amount=paid_now,
                    paid=Decimal("0.00"),
                    contractual=Decimal("0.00"),
                    denied=Decimal("0.00"),
                )
            )
    for plan_row in await uow.patients.plans(tenant_id, patient_key):
        if plan_row.status != "active":
            continue
        plan = plan_of(plan_row)
        towards = min(row.amount, plan.remaining)
        if towards > 0:
            _store_plan(plan_row, record_plan_payment(plan, amount=towards, on=received_on))
        break
    return row, after.credit - before.credit


async def create_plan(
    uow: SqlRemittanceUnitOfWork,
    *,
    tenant_id: str,
    patient_key: str,
    count: int,
    first_due: date,
    by: str,
    every_months: int = 1,
    total: Decimal | None = None,
) -> PaymentPlan:
    """A payment plan over the balance due now (or a part of it), in equal instalments."""
    await uow.lock(f"patient:{tenant_id}:{patient_key}")
    account = await patient_account(
        uow, tenant_id=tenant_id, patient_key=patient_key, as_of=_now().date()
    )
    if any(status == "active" for status in account.plan_statuses):
        raise PatientAccountError("plan: the patient already has an active payment plan")
    due = account.statement.total_due
    total = due if total is None else total
    if total > due:
        raise PatientAccountError("total: more than the balance due")
    plan = create_payment_plan(
        plan_id=uuid.uuid4().hex,
        tenant_id=tenant_id,
        patient_key=patient_key,
        total=total,
        count=count,
        first_due=first_due,
        every_months=every_months,
    )
    row = PaymentPlanRow(
        plan_id=plan.plan_id,
        tenant_id=tenant_id,
        patient_key=patient_key,
        total=plan.total,
        instalments=[],
        created_by=by,
    )
    _store_plan(row, plan)
    uow.patients.add_plan(row)
    return plan


async def render_statement(
    uow: SqlRemittanceUnitOfWork,
    *,
    tenant_id: str,
    patient_key: str,
    as_of: date,
    practice: Contact | None = None,
    how_to_pay: Sequence[str] = HOW_TO_PAY,
) -> bytes:
    """The patient's statement as a PDF, counted for cost to collect."""
    # The PDF library (and the imaging library under it) loads on the first document only.
    from claimflow_remittance.domain.documents import StatementDocument, render_patient_statement

    account = await patient_account(uow, tenant_id=tenant_id, patient_key=patient_key, as_of=as_of)
    patient = account.patient
    address = patient.get("address") or {}
    document = StatementDocument(
        statement=account.statement,
        practice=practice or Contact(name=await _practice_name(uow, tenant_id, account)),
        patient=Contact(
            name=f"{patient.get('first_name', '')} {patient.get('last_name', '')}".strip(),
            address=tuple(
                line
                for line in (
                    address.get("line1"),
                    address.get("line2"),
                    " ".join(
                        filter(
                            None,
                            (address.get("city"), address.get("state"), address.get("postal_code")),
                        )
                    ),
                )
                if line
            ),
            identifier=patient_key,
        ),
        how_to_pay=tuple(how_to_pay),
        plan=next(
            (p for p, s in zip(account.plans, account.plan_statuses, strict=True) if s == "active"),
            None,
        ),
    )
    pdf = render_patient_statement(document)
    uow.kpis.add_fact(
        dict(
            tenant_id=tenant_id,
            claim_id=patient_key,
            kind="statement-sent",
            on_date=as_of,
            amount=account.statement.total_due,
            paid=Decimal("0.00"),
            contractual=Decimal("0.00"),
            denied=Decimal("0.00"),
        )
    )
    return pdf


async def _practice_name(
    uow: SqlRemittanceUnitOfWork, tenant_id: str, account: PatientAccount
) -> str:
    claim_ids = {line.claim_id for line in account.statement.lines}
    for claim_id in sorted(claim_ids):
        postings = await uow.ledger.postings(tenant_id, claim_id=claim_id, after_id=0, limit=1)
        if postings and postings[0].payee_name:
            return postings[0].payee_name
    return "Your healthcare provider"
