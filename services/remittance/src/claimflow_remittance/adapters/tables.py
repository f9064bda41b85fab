"""The remittance service's own tables: claims we expect payment for, 835 files as received,
postings, payments we cannot match yet, and where the ERA download stopped."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Column, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from claimflow_shared.runtime.tables import utcnow


def _money() -> Column:
    return Column(Numeric(12, 2), nullable=False)


class ExpectedClaim(SQLModel, table=True):
    """A submitted claim, from `claim.submitted`: what an 835's CLP01 is matched against."""

    __tablename__ = "expected_claims"

    claim_id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    encounter_id: str
    total_charge: Decimal = Field(sa_column=_money())
    patient: dict = Field(sa_column=Column(JSON, nullable=False))
    submitted_event_id: uuid.UUID
    created_at: datetime = Field(default_factory=utcnow)


class RemittanceFile(SQLModel, table=True):
    __tablename__ = "remittance_files"
    __table_args__ = (UniqueConstraint("source", "source_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    file_id: str = Field(unique=True)
    source: str
    source_ref: str
    content_sha256: str = Field(index=True)
    content: str = Field(sa_column=Column(Text, nullable=False))
    payment_total: Decimal = Field(sa_column=_money())
    claim_count: int
    problems: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)


class Posting(SQLModel, table=True):
    """One CLP posted to one claim. A reversal is a posting of its own."""

    __tablename__ = "postings"
    __table_args__ = (UniqueConstraint("file_id", "transaction", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    file_id: str = Field(index=True)
    transaction: int
    position: int
    claim_id: str = Field(index=True)
    tenant_id: str = Field(index=True)
    encounter_id: str
    payer_claim_number: str
    status: str
    charge: Decimal = Field(sa_column=_money())
    paid: Decimal = Field(sa_column=_money())
    allowed: Decimal = Field(sa_column=_money())
    patient_responsibility: Decimal = Field(sa_column=_money())
    denied_amount: Decimal = Field(sa_column=_money())
    denial_category: str | None = None
    posted_by: str
    posted_at: datetime = Field(default_factory=utcnow)


class UnmatchedPayment(SQLModel, table=True):
    """A CLP whose claim we do not know (yet), kept as the posting it will be
    (`ClaimPosting` as JSON): posted when its `claim.submitted` arrives."""

    __tablename__ = "unmatched_payments"
    __table_args__ = (UniqueConstraint("file_id", "transaction", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    file_id: str
    transaction: int
    position: int
    claim_id: str = Field(index=True)
    paid: Decimal = Field(sa_column=_money())
    prepared: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)


class EraCursor(SQLModel, table=True):
    """The last clearinghouse ERA sequence number taken, moved in the posting transaction."""

    __tablename__ = "era_cursor"

    source: str = Field(primary_key=True)
    last_seq: int
