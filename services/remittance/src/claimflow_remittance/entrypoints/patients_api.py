"""Patient accounts over HTTP: balances, one account, patient payments, payment plans and
statements (PDF). Patients go by their opaque account number (`patient_key`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field

from claimflow_remittance.domain.aging import BUCKETS
from claimflow_remittance.domain.contacts import Contact
from claimflow_remittance.domain.patient_accounts import (
    PatientAccountError,
    PaymentPlan,
    plan_status,
)
from claimflow_remittance.entrypoints.params import Day, DayQuery
from claimflow_remittance.patient_billing import (
    HOW_TO_PAY,
    PatientNotFound,
    create_plan,
    patient_account,
    record_patient_payment,
    render_statement,
)
from claimflow_remittance.unit_of_work import SqlRemittanceUnitOfWork
from claimflow_shared.runtime.tenancy import PrincipalDep, TenantDep
from claimflow_shared.runtime.uow import UnitsOfWork


def _money(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def _today() -> date:
    return datetime.now(UTC).date()


class BalancePublic(BaseModel):
    patient_key: str
    owed: str
    paid: str
    balance: str
    oldest_since: date | None


class VisitPublic(BaseModel):
    claim_id: str
    service_date: date
    description: str
    charge: str
    insurance_paid: str
    adjustments: str
    patient_paid: str
    balance: str
    age_days: int
    bucket: str


class InstalmentPublic(BaseModel):
    number: int
    due_on: date
    amount: str
    paid: str


class PlanPublic(BaseModel):
    plan_id: str
    status: str
    total: str
    paid: str
    remaining: str
    next_due: date | None
    overdue: int
    instalments: list[InstalmentPublic]

    @classmethod
    def of(cls, plan: PaymentPlan, status: str, today: date) -> PlanPublic:
        state = plan_status(plan, today)
        return cls(
            plan_id=plan.plan_id,
            status=status,
            total=_money(plan.total),
            paid=_money(state.paid),
            remaining=_money(state.remaining),
            next_due=state.next_due.due_on if state.next_due else None,
            overdue=len(state.overdue),
            instalments=[
                InstalmentPublic(
                    number=i.number, due_on=i.due_on, amount=_money(i.amount), paid=_money(i.paid)
                )
                for i in plan.instalments
            ],
        )


class AccountPublic(BaseModel):
    patient_key: str
    first_name: str | None
    last_name: str | None
    as_of: date
    total_due: str
    credit: str
    insurance_paid: str
    aging: dict[str, str]
    visits: list[VisitPublic]
    plans: list[PlanPublic]


class PaymentIn(BaseModel):
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    received_on: Day | None = None
    method: str = Field(default="card", pattern=r"^[a-z-]{2,20}$")
    claim_id: str | None = Field(default=None, max_length=38)


class PaymentOut(BaseModel):
    payment_id: str
    amount: str
    credit: str
    balance: str


class PlanIn(BaseModel):
    count: int = Field(ge=1, le=120)
    first_due: Day
    every_months: int = Field(default=1, ge=1, le=12)
    total: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=2)


class StatementIn(BaseModel):
    as_of: Day | None = None
    practice_name: str | None = Field(default=None, max_length=120)
    practice_address: list[Annotated[str, Field(max_length=120)]] = Field(
        default_factory=list, max_length=4
    )
    practice_phone: str = Field(default="", max_length=30)
    how_to_pay: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=6
    )


def _refused(exc: Exception) -> HTTPException:
    if isinstance(exc, PatientNotFound):
        return HTTPException(status_code=404, detail="patient account not found")
    return HTTPException(status_code=422, detail=str(exc))


def router(uows: UnitsOfWork[SqlRemittanceUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/patients", tags=["patients"])

    @api.get("", response_model=list[BalancePublic])
    async def balances(
        tenant: TenantDep,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[BalancePublic]:
        """Patients with a balance from insurance, the largest balance first."""
        async with uows() as uow:
            rows = await uow.patients.balances(tenant, offset=offset, limit=limit)
        return [
            BalancePublic(
                patient_key=key,
                owed=_money(owed),
                paid=_money(paid),
                balance=_money(Decimal(owed) - Decimal(paid)),
                oldest_since=since,
            )
            for key, owed, paid, since in rows
        ]

    @api.get("/{patient_key}", response_model=AccountPublic)
    async def account(patient_key: str, tenant: TenantDep, as_of: DayQuery = None) -> AccountPublic:
        when = as_of or _today()
        try:
            async with uows() as uow:
                found = await patient_account(
                    uow, tenant_id=tenant, patient_key=patient_key, as_of=when
                )
        except PatientNotFound as exc:
            raise _refused(exc) from exc
        s = found.statement
        return AccountPublic(
            patient_key=patient_key,
            first_name=found.patient.get("first_name"),
            last_name=found.patient.get("last_name"),
            as_of=when,
            total_due=_money(s.total_due),
            credit=_money(s.credit),
            insurance_paid=_money(s.insurance_paid),
            aging={b: _money(s.aging[b]) for b in BUCKETS},
            visits=[
                VisitPublic(
                    claim_id=line.claim_id,
                    service_date=line.service_date,
                    description=line.description,
                    charge=_money(line.charge),
                    insurance_paid=_money(line.insurance_paid),
                    adjustments=_money(line.adjustments),
                    patient_paid=_money(line.patient_paid),
                    balance=_money(line.balance),
                    age_days=line.age_days,
                    bucket=line.bucket,
                )
                for line in s.lines
            ],
            plans=[
                PlanPublic.of(plan, status, when)
                for plan, status in zip(found.plans, found.plan_statuses, strict=True)
            ],
        )

    @api.post("/{patient_key}/payments", response_model=PaymentOut, status_code=201)
    async def pay(
        patient_key: str, body: PaymentIn, tenant: TenantDep, principal: PrincipalDep
    ) -> PaymentOut:
        """Post a patient payment against the balance (the visit named first, then oldest)."""
        try:
            async with uows(principal=str(principal)) as uow:
                row, credit = await record_patient_payment(
                    uow,
                    tenant_id=tenant,
                    patient_key=patient_key,
                    amount=body.amount,
                    received_on=body.received_on or _today(),
                    method=body.method,
                    claim_id=body.claim_id,
                    by=str(principal),
                )
            async with uows() as uow:
                after = await patient_account(
                    uow, tenant_id=tenant, patient_key=patient_key, as_of=_today()
                )
        except (PatientNotFound, PatientAccountError) as exc:
            raise _refused(exc) from exc
        return PaymentOut(
            payment_id=row.payment_id,
            amount=_money(row.amount),
            credit=_money(credit),
            balance=_money(after.statement.total_due),
        )

    @api.post("/{patient_key}/plans", response_model=PlanPublic, status_code=201)
    async def plan(
        patient_key: str, body: PlanIn, tenant: TenantDep, principal: PrincipalDep
    ) -> PlanPublic:
        """A payment plan over the balance due: instalments a month (or more) apart."""
        try:
            async with uows(principal=str(principal)) as uow:
                created = await create_plan(
                    uow,
                    tenant_id=tenant,
                    patient_key=patient_key,
                    count=body.count,
                    first_due=body.first_due,
                    every_months=body.every_months,
                    total=body.total,
                    by=str(principal),
                )
        except (PatientNotFound, PatientAccountError) as exc:
            raise _refused(exc) from exc
        return PlanPublic.of(created, "active", _today())

    @api.post(
        "/{patient_key}/statement",
        response_class=Response,
        responses={200: {"content": {"application/pdf": {}}}},
    )
    async def statement(
        patient_key: str, body: StatementIn, tenant: TenantDep, principal: PrincipalDep
    ) -> Response:
        """The patient's statement as a PDF: visits, what insurance paid, what is owed,
        aging, the payment plan, how to pay. Counted as a statement sent."""
        practice = (
            Contact(body.practice_name, tuple(body.practice_address), "", body.practice_phone)
            if body.practice_name
            else None
        )
        try:
            async with uows(principal=str(principal)) as uow:
                pdf = await render_statement(
                    uow,
                    tenant_id=tenant,
                    patient_key=patient_key,
                    as_of=body.as_of or _today(),
                    practice=practice,
                    how_to_pay=tuple(body.how_to_pay) or HOW_TO_PAY,
                )
        except (PatientNotFound, PatientAccountError) as exc:
            raise _refused(exc) from exc
        return Response(
            content=pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="statement-{patient_key}.pdf"'},
        )

    return api
