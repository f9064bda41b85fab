"""The coding service's own tables: one coding outcome per encounter, and the worklist."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from claimflow_shared.runtime.tables import utcnow


class CodingRecord(SQLModel, table=True):
    """How an encounter was coded, or why it waits on the coder worklist."""

    __tablename__ = "coding_records"
    __table_args__ = (UniqueConstraint("tenant_id", "encounter_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    encounter_id: str
    status: str  # coded | query
    coded_by: str
    diagnoses: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    query_reasons: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    decided_at: datetime = Field(default_factory=utcnow)
