"""Intake's own tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from claimflow_shared.runtime.tables import utcnow


class AcceptedEncounter(SQLModel, table=True):
    __tablename__ = "intake_encounters"
    __table_args__ = (UniqueConstraint("tenant_id", "source_system", "document_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    encounter_id: str = Field(unique=True)
    source_system: str
    document_id: str
    fingerprint: str
    accepted_at: datetime = Field(default_factory=utcnow)
