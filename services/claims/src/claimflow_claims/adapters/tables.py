"""The claims service's own tables: claims with their state and audit trail, the interchanges
they were sent in, acknowledgments and payments per claim, fee schedules and X12 control
numbers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Column, Index, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from claimflow_shared.runtime.tables import utcnow


class ClaimRecord(SQLModel, table=True):
    """One claim: the encounter's original (sequence 1) or a claim after it (a replacement,
    a void, a claim to the next payer), with the claim itself as JSON."""

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("tenant_id", "encounter_id", "sequence"),
        Index("ix_claims_patient", "patient_mrn", "tenant_id"),
        Index("ix_claims_queue", "state", "claim_type", "payer_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(unique=True)
    tenant_id: str = Field(index=True)
    encounter_id: str = Field(index=True)
    sequence: int = 1
    frequency_code: str = "1"
    claim_type: str = "837P"
    payer_responsibility: str = "primary"
    state: str
    payer_id: str
    patient_mrn: str
    billing_npi: str
    period_start: date
    period_end: date
    service_dates: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    procedure_codes: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    total_charge: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    paid: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    claim: str = Field(sa_column=Column(Text, nullable=False), description="Claim as JSON")
    findings: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    later_coverages: list = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="Coverages that pay after this claim's payer, in order",
    )
    coded_event_id: uuid.UUID
    original_claim_id: str | None = None
    interchange_control_number: int | None = None
    submission_file: str | None = None
    payer_claim_number: str | None = None
    denial: dict | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ClaimAudit(SQLModel, table=True):
    """Who changed a claim, when and why: one row per transition (or noted non-transition)."""

    __tablename__ = "claim_audit"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(index=True)
    tenant_id: str
    from_state: str | None
    to_state: str
    event: str
    actor: str
    reason: str | None = None
    at: datetime = Field(default_factory=utcnow)


class SubmissionFile(SQLModel, table=True):
    """An 837 interchange, recorded (status `sending`) before it is posted, so that recovery
    sends the very same bytes; `sent` with the 999 (and 277CA) that answered it, or `failed`
    when the clearinghouse refused it for good (its claims are then held)."""

    __tablename__ = "submission_files"

    id: int | None = Field(default=None, primary_key=True)
    file_name: str = Field(unique=True)
    interchange_control_number: int = Field(unique=True)
    first_transaction_number: int = 1
    claim_type: str = "837P"
    payer_id: str | None = None
    status: str = Field(default="sending", index=True)  # sending | sent | failed
    content: str = Field(sa_column=Column(Text, nullable=False))
    claim_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    ack_999: str | None = Field(default=None, sa_column=Column(Text))
    ack_277ca: str | None = Field(default=None, sa_column=Column(Text))
    accepted: bool | None = None
    claim_count: int
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class ClaimSubmission(SQLModel, table=True):
    """A claim sent in an interchange (a claim rejected and sent again is in several), and
    what the 999 and the 277CA said about it once they answered."""

    __tablename__ = "claim_submissions"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(index=True)
    tenant_id: str
    file_name: str
    interchange_control_number: int
    transaction_control_number: str
    ack_999: str  # accepted | rejected
    ack_277ca: str | None = None  # accepted | rejected | pending; None: no 277CA (yet)
    codes: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reasons: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    payer_claim_number: str | None = None
    at: datetime = Field(default_factory=utcnow)


class ClaimPaymentRecord(SQLModel, table=True):
    """One 835 claim payment (`remittance.received`) or denial (`claim.denied`) of a claim."""

    __tablename__ = "claim_payments"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(index=True)
    tenant_id: str
    event_id: uuid.UUID
    kind: str  # remittance | denial
    status: str
    status_code: str | None = None
    payer_claim_number: str | None = None
    paid: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    allowed: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    patient_responsibility: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    adjustments: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rarcs: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow)


class FeeScheduleRecord(SQLModel, table=True):
    """A tenant's fee schedule for one payer (`*`: every payer without its own); `version`
    grows with each import, so a replica's cached copy knows when it is stale."""

    __tablename__ = "fee_schedules"
    __table_args__ = (UniqueConstraint("tenant_id", "payer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    payer_id: str
    name: str
    version: int = 1
    row_count: int
    imported_by: str
    imported_at: datetime = Field(default_factory=utcnow)


class FeeScheduleRow(SQLModel, table=True):
    __tablename__ = "fee_schedule_rows"

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(index=True)
    code_system: str
    code: str
    modifier: str = ""
    unit_price: Decimal = Field(sa_column=Column(Numeric(12, 4), nullable=False))
    effective_date: date | None = None
    end_date: date | None = None


class ControlNumber(SQLModel, table=True):
    """The last X12 control number used per sequence (ISA13, ST02); none may repeat."""

    __tablename__ = "control_numbers"

    name: str = Field(primary_key=True)
    value: int
