"""The claims service's own tables: claims with their state, the audit trail, submitted
files and X12 control numbers."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Column, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from claimflow_shared.runtime.tables import utcnow


class ClaimRecord(SQLModel, table=True):
    __tablename__ = "claims"
    __table_args__ = (UniqueConstraint("tenant_id", "encounter_id", "frequency_code"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(unique=True)
    tenant_id: str = Field(index=True)
    encounter_id: str
    frequency_code: str = "1"
    state: str = Field(index=True)
    payer_id: str
    total_charge: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    claim: str = Field(sa_column=Column(Text, nullable=False), description="Claim as JSON")
    findings: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    coded_event_id: uuid.UUID
    interchange_control_number: int | None = None
    submission_file: str | None = None
    payer_claim_number: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ClaimAudit(SQLModel, table=True):
    """Who changed a claim, when and why."""

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
    sends the very same bytes; `sent` with the 999 that answered it, or `failed` when the
    clearinghouse refused it for good (its claims are then held)."""

    __tablename__ = "submission_files"

    id: int | None = Field(default=None, primary_key=True)
    file_name: str = Field(unique=True)
    interchange_control_number: int = Field(unique=True)
    status: str = Field(default="sending", index=True)  # sending | sent | failed
    content: str = Field(sa_column=Column(Text, nullable=False))
    claim_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    ack_999: str | None = Field(default=None, sa_column=Column(Text))
    accepted: bool | None = None
    claim_count: int
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class ControlNumber(SQLModel, table=True):
    """The last X12 interchange control number used; ISA13 must not repeat."""

    __tablename__ = "control_numbers"

    name: str = Field(primary_key=True)
    value: int
