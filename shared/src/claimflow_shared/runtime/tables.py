"""Tables every service shares: the outbox, the inbox and the encounter timeline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import JSON, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxMessage(SQLModel, table=True):
    """An event written in the same transaction as the state change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: uuid.UUID = Field(unique=True)
    event_type: str
    topic: str
    key: str
    tenant_id: str = Field(index=True)
    encounter_id: str
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None


class InboxMessage(SQLModel, table=True):
    """One row per handled event: a replayed `event_id` finds its row and changes nothing."""

    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True)
    event_id: uuid.UUID = Field(primary_key=True)
    event_type: str
    topic: str
    partition: int
    offset: int
    handled_at: datetime = Field(default_factory=utcnow)


class TimelineEntry(SQLModel, table=True):
    """What this service saw and did for one encounter, for `claimflow trace`."""

    __tablename__ = "timeline"
    __table_args__ = (Index("ix_timeline_encounter", "tenant_id", "encounter_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str
    encounter_id: str
    event_id: uuid.UUID
    event_type: str
    direction: str  # consumed | produced | received
    causation_id: uuid.UUID | None = None
    occurred_at: datetime
    at: datetime = Field(default_factory=utcnow)
    detail: str | None = None
