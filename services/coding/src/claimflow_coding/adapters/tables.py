"""The coding service's own tables: the current coding of each encounter, the coder worklist
(items, who claimed them, every action with its before and after) and per-tenant settings."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from claimflow_shared.runtime.tables import utcnow


class EncounterCoding(SQLModel, table=True):
    """How an encounter is coded now (status `coded`), or that it waits on the worklist
    (`query`); `revision` is the documented revision it was decided for."""

    __tablename__ = "encounter_codings"
    __table_args__ = (UniqueConstraint("tenant_id", "encounter_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    encounter_id: str
    revision: int = 1
    status: str  # coded | query
    coded_by: str
    diagnoses: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    service_lines: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    hcc_categories: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    hccs: str = ","  # the categories as ",HCC38,HCC226," for a filter on any database
    query_rules: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    decided_at: datetime = Field(default_factory=utcnow)


class WorklistItem(SQLModel, table=True):
    """One encounter waiting on a coder: why, what the coder suggests, the documented
    encounter (to build `encounter.coded` from when it is resolved) and where it stands.

    `rules` is the set of rules that raised it as `,RULE,RULE,` so a filter is a LIKE on
    any database."""

    __tablename__ = "worklist_items"
    __table_args__ = (
        UniqueConstraint("tenant_id", "encounter_id"),
        Index("ix_worklist_items_status_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    encounter_id: str
    revision: int = 1
    status: str  # open | claimed | queried | answered | resolved | superseded
    rules: str
    reasons: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    suggestion: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    documented: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    payer_id: str = Field(index=True)
    hccs: str = ","  # CMS-HCC categories of the suggestion, as ",HCC38,": for HCC coders
    threshold: float
    raised_event_id: uuid.UUID | None = None  # the coding.query-raised event, for causation
    raised_at: datetime = Field(default_factory=utcnow)
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    provider_query: str | None = None
    provider_answer: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None


class WorklistClaim(SQLModel, table=True):
    """A coder holding an item, from the claim until release or resolution."""

    __tablename__ = "worklist_claims"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(index=True)
    tenant_id: str
    coder: str
    claimed_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    outcome: str | None = None  # released | resolved | superseded | reopened


class CodingAction(SQLModel, table=True):
    """The audit trail: every change a person (or the auto-coder) made to codes, worklist
    items and settings, with who, when, and the state before and after."""

    __tablename__ = "coding_actions"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    encounter_id: str | None = None
    item_id: int | None = Field(default=None, index=True)
    action: str
    principal: str
    at: datetime = Field(default_factory=utcnow)
    before: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: str | None = None


class TenantCodingSettings(SQLModel, table=True):
    """A tenant's coding settings; a tenant without a row uses the service default."""

    __tablename__ = "tenant_coding_settings"

    tenant_id: str = Field(primary_key=True)
    auto_code_threshold: float
    updated_by: str
    updated_at: datetime = Field(default_factory=utcnow)
