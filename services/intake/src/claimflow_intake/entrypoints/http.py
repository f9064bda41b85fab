"""Intake's HTTP API for documented encounters: JSON (one, with an Idempotency-Key, or an
all-or-nothing batch), FHIR R4 bundles, HL7 v2 messages, and streamed bulk files; and where
an encounter stands across the cycle.

Bodies are read as bytes and validated by intake's readers, not by request models, so a
rejection names the field (JSON pointer, HL7 segment-field, CSV row and column) and the
reason, and never echoes a value sent (the values are PHI)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from claimflow_intake.adapters.tables import AcceptedEncounter, BulkJob, IdempotencyRecord
from claimflow_intake.bulk_jobs import (
    FORMATS,
    BulkIngest,
    UploadTooLarge,
    new_job_id,
    receive_upload,
)
from claimflow_intake.domain.cycle import CycleState, CycleStatus
from claimflow_intake.domain.fhir import read_bundle
from claimflow_intake.domain.validation import Problem
from claimflow_intake.handlers import (
    Accepted,
    JsonOutcome,
    accept_json,
    receive_hl7,
    record_bundle,
    today,
)
from claimflow_intake.settings import Settings
from claimflow_intake.unit_of_work import SqlIntakeUnitOfWork
from claimflow_shared.events import EncounterDocumented
from claimflow_shared.runtime.http import MAX_ROW_ID, AfterId
from claimflow_shared.runtime.tenancy import PrincipalDep, TenantDep
from claimflow_shared.runtime.uow import UnitsOfWork

FHIR_MEDIA_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
HL7_MEDIA_TYPE = "x-application/hl7-v2+er7"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


# --- answers ---------------------------------------------------------------------------------


class ProblemOut(BaseModel):
    """Where (JSON pointer, `PID-7`, `row 7, column patient_sex`) and why; never the value."""

    location: str
    reason: str
    kind: str

    @classmethod
    def of(cls, problem: Problem, prefix: str = "") -> ProblemOut:
        return cls(location=prefix + problem.location, reason=problem.reason, kind=problem.kind)


def problem_detail(problems: Sequence[ProblemOut]) -> list[dict[str, Any]]:
    """Problems as a 422 `detail` in every service's shape (`field`, `reason`, `type`), plus
    the location as the input names it (a JSON pointer, HL7 segment-field, CSV row/column)."""
    detail = []
    for p in problems:
        if p.location.startswith("/"):
            field = ".".join(part for part in p.location.split("/")[1:] if part)
        else:
            field = p.location
        detail.append({"field": field, "reason": p.reason, "type": p.kind, "location": p.location})
    return detail


def unprocessable(problems: Sequence[ProblemOut]) -> HTTPException:
    return HTTPException(status_code=422, detail=problem_detail(problems))


class AcceptedOut(BaseModel):
    encounter_id: str
    status: Literal["accepted", "duplicate", "amended"]
    revision: int

    @classmethod
    def of(cls, accepted: Accepted) -> AcceptedOut:
        return cls(
            encounter_id=accepted.encounter_id,
            status=accepted.status,  # type: ignore[arg-type]
            revision=accepted.revision,
        )


class BatchOut(BaseModel):
    results: list[AcceptedOut]


class EncounterRow(BaseModel):
    encounter_id: str
    source_system: str
    document_id: str
    channel: str
    revision: int
    status: str
    claim_id: str | None
    accepted_at: datetime
    updated_at: datetime


class TimelineEntryOut(BaseModel):
    at: datetime
    event_type: str
    direction: str
    event_id: str
    causation_id: str | None
    occurred_at: datetime
    detail: str | None


class EncounterView(EncounterRow):
    """An encounter as intake knows it: its source document, its revision, and where it
    stands across the cycle, learned from the other stages' events (never by asking them);
    `stopped` when only the payer or a person can move it on. The timeline is intake's own:
    what it published and every stage's event it read for this encounter."""

    status_at: datetime
    stopped: bool
    timeline: list[TimelineEntryOut]


class BundleEncounterOut(BaseModel):
    fhir_id: str | None
    pointer: str
    outcome: Literal["accepted", "duplicate", "amended", "rejected", "not-billable"]
    encounter_id: str | None = None
    revision: int | None = None
    problems: list[ProblemOut] = []


class DirectoryOut(BaseModel):
    providers: int
    facilities: int
    problems: list[ProblemOut]


class BundleOut(BaseModel):
    """One result per Encounter of the bundle, in bundle order, naming its FHIR id."""

    bundle_type: str | None
    results: list[BundleEncounterOut]
    directory: DirectoryOut
    skipped_entries: list[ProblemOut]


class BulkJobOut(BaseModel):
    job_id: str
    status: str
    format: str
    source_system: str
    file_name: str | None
    bytes_total: int
    bytes_done: int
    records: int
    accepted: int
    duplicate: int
    amended: int
    rejected: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: BulkJob) -> BulkJobOut:
        return cls(
            job_id=job.job_id,
            status=job.status,
            format=job.format,
            source_system=job.source_system,
            file_name=job.file_name,
            bytes_total=job.bytes_total,
            bytes_done=job.offset,
            records=job.ordinal - 1,
            accepted=job.accepted,
            duplicate=job.duplicate,
            amended=job.amended,
            rejected=job.rejected,
            error=job.error,
            created_at=job.created_at,
            finished_at=job.finished_at,
        )


class BulkResultOut(BaseModel):
    ordinal: int
    position: str
    document_id: str | None
    status: str
    encounter_id: str | None
    problems: list[ProblemOut]


# --- request bodies --------------------------------------------------------------------------


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 beyond `limit` bytes before more is read."""
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"the body is larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise HTTPException(400, "the client went away before the body arrived") from None
    return b"".join(chunks)


def parse_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON (line {exc.lineno}, column {exc.colno})"
        problem = ProblemOut(location="/", reason=reason, kind="invalid")
    except (UnicodeDecodeError, ValueError):
        problem = ProblemOut(location="/", reason="not UTF-8 JSON", kind="invalid")
    except RecursionError:
        problem = ProblemOut(location="/", reason="JSON is nested too deeply", kind="invalid")
    raise unprocessable([problem])


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _encounter_schema() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": EncounterDocumented.model_json_schema()}},
        }
    }


def _timeline(entry) -> TimelineEntryOut:
    return TimelineEntryOut(
        at=entry.at,
        event_type=entry.event_type,
        direction=entry.direction,
        event_id=str(entry.event_id),
        causation_id=str(entry.causation_id) if entry.causation_id else None,
        occurred_at=entry.occurred_at,
        detail=entry.detail,
    )


def _row(row: AcceptedEncounter) -> dict[str, Any]:
    return {
        "encounter_id": row.encounter_id,
        "source_system": row.source_system,
        "document_id": row.document_id,
        "channel": row.channel,
        "revision": row.revision,
        "status": row.status,
        "claim_id": row.claim_id,
        "accepted_at": row.accepted_at,
        "updated_at": row.updated_at,
    }


def router(
    uows: UnitsOfWork[SqlIntakeUnitOfWork], *, settings: Settings, bulk: BulkIngest
) -> APIRouter:
    api = APIRouter(prefix="/v1")

    # --- JSON ---------------------------------------------------------------------------------

    @api.post(
        "/encounters",
        status_code=201,
        response_model=AcceptedOut,
        tags=["encounters"],
        openapi_extra=_encounter_schema(),
        responses={200: {"description": "A duplicate or an amendment of an accepted document"}},
    )
    async def post_encounter(
        request: Request, tenant: TenantDep, principal: PrincipalDep, response: Response
    ) -> Any:
        """One JSON encounter. With an `Idempotency-Key`, a retry of the same request gets the
        same answer (`Idempotent-Replayed: true`) and a different request under the key is
        refused; without one, the source document still makes a repeat a duplicate."""
        data = await read_body(request, settings.json_max_bytes)
        key = request.headers.get("idempotency-key")
        if key is not None and not _IDEMPOTENCY_KEY.match(key):
            raise HTTPException(400, "Idempotency-Key must be 1 to 255 visible ASCII characters")
        body = parse_json(data)
        request_hash = hashlib.sha256(data).hexdigest()
        async with uows(principal=str(principal)) as uow:
            if key is not None:
                await uow.lock(f"intake-idempotency:{tenant}:{key}")
                stored = await uow.idempotency.get(tenant, key)
                if stored is not None:
                    if stored.request_hash != request_hash:
                        raise HTTPException(
                            422, "Idempotency-Key was already used with a different request"
                        )
                    return JSONResponse(
                        stored.response,
                        status_code=stored.status_code,
                        headers={"Idempotent-Replayed": "true"},
                    )
            (outcome,) = await accept_json(uow=uow, tenant_id=tenant, bodies=[body])
            if outcome.accepted is None:
                raise unprocessable([ProblemOut.of(p) for p in outcome.problems])
            answer = AcceptedOut.of(outcome.accepted)
            status_code = 201 if answer.status == "accepted" else 200
            if key is not None:
                uow.idempotency.add(
                    IdempotencyRecord(
                        tenant_id=tenant,
                        key=key,
                        request_hash=request_hash,
                        status_code=status_code,
                        response=answer.model_dump(mode="json"),
                    )
                )
        response.status_code = status_code
        return answer

    @api.post("/encounters/batch", status_code=201, response_model=BatchOut, tags=["encounters"])
    async def post_encounter_batch(
        request: Request, tenant: TenantDep, principal: PrincipalDep
    ) -> BatchOut:
        """`{"encounters": [...]}`, 1 to 1000, all or nothing: one rejected encounter accepts
        none (problems point into the batch, `/encounters/3/patient/birth_date`)."""
        body = parse_json(await read_body(request, settings.json_max_bytes))
        encounters = body.get("encounters") if isinstance(body, dict) else None
        if not isinstance(encounters, list) or not 1 <= len(encounters) <= 1000:
            reason = "must be 1 to 1000 encounters"
            raise unprocessable([ProblemOut(location="/encounters", reason=reason, kind="invalid")])
        async with uows(principal=str(principal)) as uow:
            outcomes = await accept_json(
                uow=uow, tenant_id=tenant, bodies=encounters, all_or_nothing=True
            )
            problems = _batch_problems(outcomes)
            if problems:
                raise unprocessable(problems)
        return BatchOut(results=[AcceptedOut.of(o.accepted) for o in outcomes if o.accepted])

    @api.get("/encounters", response_model=list[EncounterRow], tags=["encounters"])
    async def list_encounters(
        tenant: TenantDep,
        after_id: AfterId = 0,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 100_000,
    ) -> list[dict[str, Any]]:
        """Accepted encounters of the calling tenant, for reconciliation."""
        async with uows() as uow:
            rows = await uow.encounters.list(tenant, after_id=after_id, limit=limit)
        return [_row(r) for r in rows]

    @api.get("/encounters/{encounter_id}", response_model=EncounterView, tags=["encounters"])
    async def get_encounter(encounter_id: str, tenant: TenantDep) -> EncounterView:
        async with uows() as uow:
            row = await uow.encounters.get(tenant, encounter_id)
            if row is None:
                raise HTTPException(404, "no such encounter")
            entries = await uow.encounters.timeline(tenant, encounter_id)
        state = CycleState(CycleStatus(row.status), row.status_at, row.claim_id)
        return EncounterView(
            **_row(row),
            status_at=row.status_at,
            stopped=state.stopped,
            timeline=[_timeline(e) for e in entries],
        )

    # --- FHIR ---------------------------------------------------------------------------------

    @api.post("/fhir", response_model=BundleOut, tags=["fhir"])
    async def post_fhir(
        request: Request,
        tenant: TenantDep,
        principal: PrincipalDep,
        source_system: Annotated[str, Query(min_length=1, max_length=64)] = "fhir",
    ) -> BundleOut:
        """A FHIR R4 Bundle (transaction, batch or collection): every Encounter answered by its
        FHIR id (accepted with the encounter id, duplicate, amended, rejected with reasons,
        or not billable); Practitioner, Organization and Location entries load the tenant's
        provider registry."""
        media = _media_type(request)
        if media and media not in FHIR_MEDIA_TYPES:
            raise HTTPException(415, "send application/fhir+json")
        data = await read_body(request, settings.fhir_max_bytes)
        async with uows() as uow:
            registry = await uow.registry.load(tenant)
        result = await asyncio.to_thread(
            read_bundle, data, registry=registry, source_system=source_system, today=today()
        )
        if result.problems:
            raise unprocessable([ProblemOut.of(p) for p in result.problems])
        async with uows(principal=str(principal)) as uow:
            outcome = await record_bundle(uow=uow, tenant_id=tenant, result=result)
        return BundleOut(
            bundle_type=outcome.bundle_type,
            results=[
                BundleEncounterOut(
                    fhir_id=e.fhir_id,
                    pointer=e.pointer,
                    outcome=e.outcome,  # type: ignore[arg-type]
                    encounter_id=e.encounter_id,
                    revision=e.revision,
                    problems=[ProblemOut.of(p) for p in e.problems],
                )
                for e in outcome.encounters
            ],
            directory=DirectoryOut(
                providers=outcome.providers_loaded,
                facilities=outcome.facilities_loaded,
                problems=[ProblemOut.of(p) for p in outcome.directory_problems],
            ),
            skipped_entries=[ProblemOut.of(p) for p in outcome.skipped_entries],
        )

    # --- HL7 v2 -------------------------------------------------------------------------------

    @api.post(
        "/hl7",
        tags=["hl7"],
        response_class=Response,
        responses={200: {"content": {HL7_MEDIA_TYPE: {}}, "description": "The ACK"}},
    )
    async def post_hl7(request: Request, tenant: TenantDep, principal: PrincipalDep) -> Response:
        """One HL7 v2 message (DFT^P03, ADT^A04/A08) for the calling tenant; the answer is its
        ACK: AA when taken, AE/AR with ERR segments naming segment, field and reason."""
        data = await read_body(request, settings.mllp_max_message_bytes)
        async with uows(principal=str(principal)) as uow:
            answer = await receive_hl7(uow=uow, tenant_id=tenant, data=data, now=datetime.now(UTC))
        return Response(answer.ack.encode("utf-8"), media_type=HL7_MEDIA_TYPE)

    # --- bulk files ---------------------------------------------------------------------------

    @api.post("/bulk", status_code=202, response_model=BulkJobOut, tags=["bulk"])
    async def post_bulk(
        request: Request,
        tenant: TenantDep,
        principal: PrincipalDep,
        format: Annotated[Literal["ndjson", "csv"] | None, Query()] = None,
        source_system: Annotated[str, Query(min_length=1, max_length=64)] = "bulk",
        file_name: Annotated[str | None, Query(max_length=255)] = None,
    ) -> BulkJobOut:
        """An NDJSON or CSV file of encounters (see BULK_FORMATS.md), streamed to disk as it
        arrives; ingest starts when it is complete. Follow the job at `/v1/bulk/{job_id}`
        and read each record's result at `/v1/bulk/{job_id}/results`."""
        fmt = format or _bulk_format(_media_type(request))
        job_id = new_job_id()
        job = BulkJob(
            job_id=job_id,
            tenant_id=tenant,
            format=fmt,
            source_system=source_system,
            file_name=file_name,
            spool=str(bulk.spool_path(job_id, fmt)),
            status="receiving",
            principal=str(principal),
        )
        async with uows(principal=str(principal)) as uow:
            uow.bulk.add_job(job)
        try:
            size = await receive_upload(
                ingest=bulk, job=job, chunks=_chunks(request), max_bytes=settings.bulk_max_bytes
            )
        except (UploadTooLarge, ClientDisconnect) as exc:
            await _mark(uows, job_id, "failed", error=str(exc) or "upload interrupted")
            if isinstance(exc, UploadTooLarge):
                raise HTTPException(413, str(exc)) from None
            raise HTTPException(400, "the upload was interrupted") from None
        async with uows() as uow:
            stored = await uow.bulk.job(job_id)
            assert stored is not None
            stored.status, stored.bytes_total = "queued", size
            uow.bulk.changed(stored)
            answer = BulkJobOut.of(stored)
        bulk.wake()
        return answer

    @api.get("/bulk", response_model=list[BulkJobOut], tags=["bulk"])
    async def list_bulk_jobs(
        tenant: TenantDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[BulkJobOut]:
        async with uows() as uow:
            return [BulkJobOut.of(j) for j in await uow.bulk.jobs(tenant, limit=limit)]

    @api.get("/bulk/{job_id}", response_model=BulkJobOut, tags=["bulk"])
    async def get_bulk_job(job_id: str, tenant: TenantDep) -> BulkJobOut:
        async with uows() as uow:
            job = await uow.bulk.job(job_id, tenant_id=tenant)
        if job is None:
            raise HTTPException(404, "no such bulk job")
        return BulkJobOut.of(job)

    @api.get("/bulk/{job_id}/results", response_model=list[BulkResultOut], tags=["bulk"])
    async def get_bulk_results(
        job_id: str,
        tenant: TenantDep,
        status: Annotated[
            Literal["accepted", "duplicate", "amended", "rejected"] | None, Query()
        ] = None,
        after: Annotated[
            int, Query(ge=0, le=MAX_ROW_ID, description="ordinal to continue after")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> list[BulkResultOut]:
        """Each record's result in file order: position (line, or rows), document id, status,
        encounter id, problems."""
        async with uows() as uow:
            if await uow.bulk.job(job_id, tenant_id=tenant) is None:
                raise HTTPException(404, "no such bulk job")
            rows = await uow.bulk.results(job_id, status=status, after=after, limit=limit)
        return [
            BulkResultOut(
                ordinal=r.ordinal,
                position=r.position,
                document_id=r.document_id,
                status=r.status,
                encounter_id=r.encounter_id,
                problems=[ProblemOut(**p) for p in r.problems],
            )
            for r in rows
        ]

    return api


def _batch_problems(outcomes: Sequence[JsonOutcome]) -> list[ProblemOut]:
    return [
        ProblemOut.of(p, prefix=f"/encounters/{i}")
        for i, outcome in enumerate(outcomes)
        for p in outcome.problems
    ]


def _bulk_format(media_type: str) -> str:
    if media_type in ("text/csv", "application/csv"):
        return "csv"
    if media_type in ("application/x-ndjson", "application/ndjson", "application/jsonl", ""):
        return "ndjson"
    raise HTTPException(415, f"bulk files are {' or '.join(FORMATS)}; name one with ?format=")


async def _chunks(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        yield chunk


async def _mark(
    uows: Callable[..., SqlIntakeUnitOfWork], job_id: str, status: str, *, error: str
) -> None:
    async with uows() as uow:
        job = await uow.bulk.job(job_id)
        if job is not None:
            job.status, job.error, job.finished_at = status, error, datetime.now(UTC)
            uow.bulk.changed(job)
