"""The remittance service's own tables: claims we expect payment for and the payees they bill
as, 835 files as received and the payments they carry, postings per claim and per line,
payments waiting for a person, the provider account, the denial work queue, patient
accounts, KPI facts, and where the ERA download stopped."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Column, Index, Numeric, Text, UniqueConstraint
from sqlalchemy.orm import configure_mappers
from sqlmodel import Field, SQLModel

from claimflow_shared.runtime.tables import utcnow


def _money() -> Column:
    return Column(Numeric(12, 2), nullable=False)


def _json(*, nullable: bool = False) -> Column:
    return Column(JSON, nullable=nullable)


class ExpectedClaim(SQLModel, table=True):
    """A submitted claim, from `claim.submitted`: what an 835's CLP01 is matched against,
    within its tenant, and the lines its SVCs are matched against."""

    __tablename__ = "expected_claims"
    __table_args__ = (Index("ix_expected_claims_tenant_key", "tenant_id", "claim_key"),)

    tenant_id: str = Field(primary_key=True)
    claim_id: str = Field(primary_key=True, index=True)
    # CLP01 as payers mangle it (upper case, letters and digits): for normalised matches.
    claim_key: str
    encounter_id: str = Field(index=True)
    # The encounter's first claim: a replacement (7) or void (8) counts toward it in KPIs.
    original_claim_id: str
    frequency_code: str
    payer_id: str
    payer_name: str
    billing_npi: str = Field(index=True)
    member_id: str
    total_charge: Decimal = Field(sa_column=_money())
    patient: dict = Field(sa_column=_json())
    lines: list = Field(sa_column=_json())
    submitted_event_id: uuid.UUID
    submitted_on: date
    created_at: datetime = Field(default_factory=utcnow)


class PayeeTenant(SQLModel, table=True):
    """A billing NPI a tenant's claims go out under: how a downloaded 835 (N1*PE) finds
    the tenant it belongs to."""

    __tablename__ = "payee_tenants"

    npi: str = Field(primary_key=True)
    tenant_id: str = Field(primary_key=True)
    first_seen: datetime = Field(default_factory=utcnow)


class RemittanceFile(SQLModel, table=True):
    """One 835 file as received, with what became of it: posted, held (a problem whose
    policy is hold), quarantined (unreadable) or a duplicate of an earlier import."""

    __tablename__ = "remittance_files"
    __table_args__ = (UniqueConstraint("source", "source_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    file_id: str = Field(unique=True)
    source: str
    source_ref: str
    # The tenant the file belongs to: the uploader, or the tenant of the payee's NPI.
    tenant_id: str | None = Field(default=None, index=True)
    received_by: str
    status: str
    policy: str
    content_sha256: str = Field(index=True)
    content: str = Field(sa_column=Column(Text, nullable=False))
    size_bytes: int
    payee_npi: str | None = None
    payment_total: Decimal = Field(sa_column=_money())
    transaction_count: int
    claim_count: int
    posted_count: int = 0
    held_transactions: list = Field(default_factory=list, sa_column=_json())
    problems: list = Field(default_factory=list, sa_column=_json())
    error: str | None = None
    duplicate_of: str | None = None
    received_at: datetime = Field(default_factory=utcnow)
    released_by: str | None = None


class RemittancePayment(SQLModel, table=True):
    """A payer's payment (one ST*835: BPR + TRN), once: the second import of the same payer
    and trace number is a duplicate, whatever file it comes in."""

    __tablename__ = "remittance_payments"
    __table_args__ = (UniqueConstraint("payer", "trace_number"),)

    id: int | None = Field(default=None, primary_key=True)
    payer: str
    trace_number: str
    file_id: str = Field(index=True)
    transaction: int
    tenant_id: str | None = None
    amount: Decimal = Field(sa_column=_money())
    payment_date: date | None = None
    method: str


class Posting(SQLModel, table=True):
    """One CLP posted to one claim. A reversal is a posting of its own, linked to the posting
    it undoes (`reverses`), which is marked `reversed_by` it."""

    __tablename__ = "postings"
    __table_args__ = (
        UniqueConstraint("file_id", "transaction", "position"),
        Index("ix_postings_tenant_claim", "tenant_id", "claim_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    posting_key: str = Field(unique=True)
    file_id: str = Field(index=True)
    transaction: int
    position: int
    claim_id: str = Field(index=True)
    tenant_id: str = Field(index=True)
    encounter_id: str
    payer_id: str | None = None
    payer_name: str = ""
    payee_name: str = ""
    payee_npi: str | None = None
    payer_claim_number: str
    original_payer_claim_number: str | None = None
    status_code: str
    status: str
    charge: Decimal = Field(sa_column=_money())
    paid: Decimal = Field(sa_column=_money())
    allowed: Decimal = Field(sa_column=_money())
    patient_responsibility: Decimal = Field(sa_column=_money())
    contractual: Decimal = Field(sa_column=_money())
    denied_amount: Decimal = Field(sa_column=_money())
    denial_category: str | None = None
    claim_adjustments: list = Field(default_factory=list, sa_column=_json())
    rarcs: list = Field(default_factory=list, sa_column=_json())
    crossover: str | None = None
    trace_number: str = ""
    payment_date: date | None = None
    reverses: str | None = None
    reversed_by: str | None = None
    posted_by: str
    posted_at: datetime = Field(default_factory=utcnow)


class PostingLine(SQLModel, table=True):
    """One SVC of a posted CLP: paid, allowed, every CAS adjustment, the write-off, the
    patient's share, what was denied, the RARCs, and the submitted line(s) it pays."""

    __tablename__ = "posting_lines"

    id: int | None = Field(default=None, primary_key=True)
    posting_key: str = Field(index=True)
    tenant_id: str
    claim_id: str
    position: int
    line_numbers: list = Field(default_factory=list, sa_column=_json())
    match: str | None = None
    split: bool = False
    code: str
    modifiers: list = Field(default_factory=list, sa_column=_json())
    units: Decimal = Field(sa_column=Column(Numeric(12, 3), nullable=False))
    service_date: date | None = None
    charge: Decimal = Field(sa_column=_money())
    paid: Decimal = Field(sa_column=_money())
    allowed: Decimal = Field(sa_column=_money())
    contractual: Decimal = Field(sa_column=_money())
    patient_responsibility: Decimal = Field(sa_column=_money())
    denied: Decimal = Field(sa_column=_money())
    other: Decimal = Field(sa_column=_money())
    adjustments: list = Field(default_factory=list, sa_column=_json())
    rarcs: list = Field(default_factory=list, sa_column=_json())
    control_number: str | None = None


class UnmatchedPayment(SQLModel, table=True):
    """A payment (or part of one) that needs a person or its claim: a CLP whose claim is not
    known (yet), an SVC that pays no submitted line, a reversal without its original, a CLP
    the contract cannot carry. A CLP waiting for its claim keeps the posting it will be
    (`prepared`, a `ClaimPosting` as JSON) and is posted when its `claim.submitted` arrives."""

    __tablename__ = "unmatched_payments"
    __table_args__ = (
        UniqueConstraint("file_id", "transaction", "position", "kind"),
        Index("ix_unmatched_open_key", "status", "claim_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Whose queue it is in: the uploader, the payee NPI's tenant, or None (operators only).
    tenant_id: str | None = Field(default=None, index=True)
    # Uploaded: only the uploader's claims may take it; downloaded: only claims billed under
    # the payee NPI (or, without one, the claim id alone).
    uploaded: bool = False
    payee_npi: str | None = None
    file_id: str
    transaction: int
    position: int
    claim_id: str = Field(index=True)
    claim_key: str
    kind: str
    reason: str
    amount: Decimal = Field(sa_column=_money())
    prepared: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = "open"
    received_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    resolved_by: str | None = None


class ProviderAccountEntry(SQLModel, table=True):
    """One PLB adjustment on the provider's account with a payer: interest paid, overpayments
    recouped or held, forward balances; `amount` is money to the provider."""

    __tablename__ = "provider_account"
    __table_args__ = (UniqueConstraint("file_id", "transaction", "position", "pair"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str | None = Field(default=None, index=True)
    payee_npi: str | None = Field(default=None, index=True)
    file_id: str
    transaction: int
    position: int
    pair: int
    payer_id: str | None = None
    payer_name: str = ""
    provider_id: str
    fiscal_period_end: date | None = None
    reason: str
    kind: str
    reference: str = ""
    amount: Decimal = Field(sa_column=_money())
    trace_number: str = ""
    posted_at: datetime = Field(default_factory=utcnow)


class DenialItemRow(SQLModel, table=True):
    """A denial in the work queue, from the `claim.denied` the posting emitted."""

    __tablename__ = "denial_items"
    __table_args__ = (Index("ix_denial_items_queue", "tenant_id", "status", "appeal_deadline"),)

    item_id: str = Field(primary_key=True)
    tenant_id: str
    claim_id: str = Field(index=True)
    encounter_id: str
    posting_key: str
    denied_event_id: uuid.UUID | None = None
    payer_id: str | None = None
    payer_name: str = ""
    payer_claim_number: str | None = None
    filing_indicator: str = ""
    category: str
    subcategory: str = ""
    carcs: list = Field(default_factory=list, sa_column=_json())
    rarcs: list = Field(default_factory=list, sa_column=_json())
    denied_lines: list = Field(default_factory=list, sa_column=_json())
    denied_amount: Decimal = Field(sa_column=_money())
    denied_on: date
    partial: bool = False
    appealable: bool
    recommended_action: str
    suggested_action: str
    appeal_deadline: date | None = None
    status: str = "open"
    assignee: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DenialNoteRow(SQLModel, table=True):
    __tablename__ = "denial_notes"

    id: int | None = Field(default=None, primary_key=True)
    item_id: str = Field(index=True)
    at: datetime
    by: str
    text: str = Field(sa_column=Column(Text, nullable=False))


class DenialAuditRow(SQLModel, table=True):
    """Who did what to a denial and when: assigned, noted, acted, appeal packet prepared."""

    __tablename__ = "denial_audit"

    id: int | None = Field(default=None, primary_key=True)
    item_id: str = Field(index=True)
    tenant_id: str
    at: datetime
    by: str
    what: str
    detail: str = ""


class AppealPacketRow(SQLModel, table=True):
    """What a biller wrote into an appeal packet, kept as sent."""

    __tablename__ = "appeal_packets"

    id: int | None = Field(default=None, primary_key=True)
    item_id: str = Field(index=True)
    tenant_id: str
    arguments: dict = Field(sa_column=_json())
    attachments: list = Field(sa_column=_json())
    prepared_by: str
    prepared_at: datetime = Field(default_factory=utcnow)


class PatientChargeRow(SQLModel, table=True):
    """What one posting left to the patient (negative for a reversal): a statement line."""

    __tablename__ = "patient_charges"
    __table_args__ = (Index("ix_patient_charges_patient", "tenant_id", "patient_key"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str
    patient_key: str
    claim_id: str
    encounter_id: str
    posting_key: str
    service_date: date | None = None
    charge: Decimal = Field(sa_column=_money())
    insurance_paid: Decimal = Field(sa_column=_money())
    adjustments: Decimal = Field(sa_column=_money())
    patient_owes: Decimal = Field(sa_column=_money())
    due_since: date
    description: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class PatientPaymentRow(SQLModel, table=True):
    __tablename__ = "patient_payments"
    __table_args__ = (Index("ix_patient_payments_patient", "tenant_id", "patient_key"),)

    payment_id: str = Field(primary_key=True)
    tenant_id: str
    patient_key: str
    received_on: date
    amount: Decimal = Field(sa_column=_money())
    method: str
    claim_id: str | None = None
    recorded_by: str
    recorded_at: datetime = Field(default_factory=utcnow)


class PaymentPlanRow(SQLModel, table=True):
    __tablename__ = "payment_plans"
    __table_args__ = (Index("ix_payment_plans_patient", "tenant_id", "patient_key"),)

    plan_id: str = Field(primary_key=True)
    tenant_id: str
    patient_key: str
    total: Decimal = Field(sa_column=_money())
    instalments: list = Field(sa_column=_json())
    payments: list = Field(default_factory=list, sa_column=_json())
    status: str = "active"
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)


class KpiFactRow(SQLModel, table=True):
    """The KPI projection: one row per fact (`domain.kpis.ClaimFact`), written with the event
    or action it stands for."""

    __tablename__ = "kpi_facts"
    __table_args__ = (Index("ix_kpi_facts_tenant_day", "tenant_id", "on_date"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str
    claim_id: str
    kind: str
    on_date: date
    payer_id: str | None = None
    amount: Decimal = Field(sa_column=_money())
    paid: Decimal = Field(sa_column=_money())
    contractual: Decimal = Field(sa_column=_money())
    denied: Decimal = Field(sa_column=_money())
    status: str | None = None
    category: str | None = None


class EraCursor(SQLModel, table=True):
    """The last clearinghouse ERA sequence number taken, moved in the posting transaction."""

    __tablename__ = "era_cursor"

    source: str = Field(primary_key=True)
    last_seq: int


# Claims are built with `model_construct` (values, no validation) on the hot path; SQLAlchemy
# sets up the attributes they are read through when its mappers are configured, which it
# otherwise does only at the first instance built the ordinary way.
configure_mappers()
