"""Intake's own tables: accepted source documents and where their encounters stand, the
tenants' master data with its audit trail, HL7 v2 routes and registrations, idempotency
keys, and bulk ingest jobs with their per-record results."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from claimflow_shared.runtime.tables import utcnow

# --- encounters ------------------------------------------------------------------------------


class AcceptedEncounter(SQLModel, table=True):
    """One accepted source document (tenant, source system, document id) and its encounter.
    `field_prints` are digests of each payload field (never the values), so an amendment
    can name what changed; `status` is where the encounter stands across the cycle."""

    __tablename__ = "intake_encounters"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source_system", "document_id"),
        Index("ix_intake_encounters_tenant", "tenant_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str
    encounter_id: str = Field(unique=True)
    source_system: str
    document_id: str
    fingerprint: str
    field_prints: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    revision: int = 1
    channel: str = "json"
    status: str = "accepted"
    status_at: datetime = Field(default_factory=utcnow)
    claim_id: str | None = None
    accepted_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class IdempotencyRecord(SQLModel, table=True):
    """The answer given to a request with an `Idempotency-Key`, returned again for a retry."""

    __tablename__ = "intake_idempotency_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str
    key: str
    request_hash: str
    status_code: int
    response: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


# --- tenant master data ------------------------------------------------------------------------


class TenantRow(SQLModel, table=True):
    """A tenant's defaults and HL7 sending facilities; `version` grows with every change to
    any of its master data, so a replica knows when its cached registry is stale."""

    __tablename__ = "intake_tenants"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(unique=True)
    billing_npi: str | None = None
    place_of_service: str | None = None
    hl7_sending_facilities: list = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    version: int = 0
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str | None = None


class PayerRow(SQLModel, table=True):
    __tablename__ = "intake_payers"
    __table_args__ = (UniqueConstraint("tenant_id", "payer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    payer_id: str
    name: str
    aliases: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    claim_filing_indicator: str = "CI"
    timely_filing_days: int = 365
    member_id_source: str = "document"
    updated_at: datetime = Field(default_factory=utcnow)


class ProviderRow(SQLModel, table=True):
    __tablename__ = "intake_providers"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    kind: str
    npi: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    tax_id: str | None = None
    taxonomy: str | None = None
    address: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    local_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class FacilityRow(SQLModel, table=True):
    __tablename__ = "intake_facilities"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    name: str
    local_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    npi: str | None = None
    address: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    place_of_service: str | None = None
    organization_id: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class RegistryAudit(SQLModel, table=True):
    """Who changed a tenant's master data, when, and from what to what."""

    __tablename__ = "intake_registry_audit"
    __table_args__ = (Index("ix_intake_registry_audit_tenant", "tenant_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str
    principal: str
    action: str  # created | updated | deleted
    entity: str  # payer | provider | facility | tenant
    key: str
    before: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reason: str | None = None
    at: datetime = Field(default_factory=utcnow)


# --- HL7 v2 ----------------------------------------------------------------------------------


class Hl7Route(SQLModel, table=True):
    """Which tenant a sending facility (MSH-4) on the shared MLLP listener belongs to."""

    __tablename__ = "intake_hl7_routes"

    id: int | None = Field(default=None, primary_key=True)
    sending_facility: str = Field(unique=True)
    tenant_id: str = Field(index=True)


class Hl7Registration(SQLModel, table=True):
    """A patient's registration (ADT^A04/A08) that later charges fall back on."""

    __tablename__ = "intake_hl7_registrations"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str
    key: str
    registration: str
    updated_at: datetime = Field(default_factory=utcnow)


# --- bulk files ------------------------------------------------------------------------------


class BulkJob(SQLModel, table=True):
    """One uploaded file: where it is spooled, how far ingest got (the checkpoint, committed
    with each batch's results) and the counts so far."""

    __tablename__ = "intake_bulk_jobs"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(unique=True)
    tenant_id: str = Field(index=True)
    format: str  # ndjson | csv
    source_system: str
    file_name: str | None = None
    spool: str
    status: str  # receiving | queued | running | done | failed
    bytes_total: int = 0
    offset: int = 0
    ordinal: int = 1
    line: int = 1
    accepted: int = 0
    duplicate: int = 0
    amended: int = 0
    rejected: int = 0
    principal: str
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class BulkResult(SQLModel, table=True):
    """What became of one record of a bulk file."""

    __tablename__ = "intake_bulk_results"
    __table_args__ = (
        UniqueConstraint("job_id", "ordinal"),
        Index("ix_intake_bulk_results_document", "job_id", "document_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_id: str
    ordinal: int
    position: str
    document_id: str | None = None
    status: str  # accepted | duplicate | amended | rejected
    encounter_id: str | None = None
    problems: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
