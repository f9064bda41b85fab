"""Intake's commands and event handlers.

Commands accept documented encounters from every input (JSON, FHIR, HL7 v2, bulk files):
once per source document, an amendment when its content changed, nothing for a repeat.
Event handlers follow the encounter through the other stages' events, so intake can answer
where an encounter stands without asking them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from claimflow_intake.adapters.tables import BulkJob
from claimflow_intake.domain.bulk import BulkRecord
from claimflow_intake.domain.cycle import (
    CycleState,
    CycleStatus,
    advance_cycle,
    rejection_status,
    remittance_status,
)
from claimflow_intake.domain.encounters import (
    AmendedDocument,
    NewEncounter,
    RepeatedDocument,
    StoredDocument,
    decide_intake,
)
from claimflow_intake.domain.fhir import BundleResult, EncounterResult, Outcome
from claimflow_intake.domain.hl7 import (
    AckCode,
    Hl7Outcome,
    build_ack,
    parse_message,
    read_message,
    registration_key,
    source_system_of,
)
from claimflow_intake.domain.json_encounter import read_json_encounter
from claimflow_intake.domain.validation import Problem, ProblemKind
from claimflow_intake.master_data import load_directory
from claimflow_intake.unit_of_work import IntakeUnitOfWork
from claimflow_shared.events import EncounterDocumented, EventEnvelope
from claimflow_shared.events.models import Contract
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED


def today() -> date:
    """Dates of service are local dates; the UTC date is never behind a US local one, so a
    same-day encounter is never "in the future"."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Accepted:
    encounter_id: str
    status: str  # accepted | duplicate | amended
    revision: int = 1

    @property
    def published(self) -> bool:
        return self.status != "duplicate"


# --- accepting documented encounters ---------------------------------------------------------


async def accept_encounters(
    *,
    uow: IntakeUnitOfWork,
    tenant_id: str,
    encounters: Sequence[EncounterDocumented],
    channel: str,
) -> list[Accepted]:
    """Each new source document becomes an encounter and one `encounter.documented`; the
    same content again is a duplicate (nothing published); changed content is published
    as an amendment of the same encounter, one revision later."""
    keys = [(e.source.system, e.source.document_id) for e in encounters]
    known = await uow.encounters.by_documents(tenant_id, keys)
    # Encounters new in this unit of work, as the values of their rows (inserted set-wise at
    # the end; building row objects costs more than the rest of accepting them).
    created: dict[tuple[str, str], dict[str, Any]] = {}
    results = []
    for key, encounter in zip(keys, encounters, strict=True):
        fresh, row = created.get(key), known.get(key)
        stored = _stored(fresh) if fresh is not None else _stored(vars(row)) if row else None
        decision = decide_intake(encounter=encounter, stored=stored)
        if isinstance(decision, RepeatedDocument):
            assert stored is not None
            results.append(Accepted(stored.encounter_id, "duplicate", stored.revision))
            continue
        if isinstance(decision, NewEncounter):
            envelope = uow.emit(
                ENCOUNTER_DOCUMENTED,
                decision.event,
                tenant_id=tenant_id,
                encounter_id=decision.encounter_id,
                detail=f"accepted via {channel}",
            )
            created[key] = {
                "tenant_id": tenant_id,
                "encounter_id": decision.encounter_id,
                "source_system": key[0],
                "document_id": key[1],
                "fingerprint": decision.fingerprint,
                "field_prints": dict(decision.field_prints),
                "revision": 1,
                "channel": channel,
                "status": CycleStatus.ACCEPTED.value,
                "status_at": envelope.occurred_at,
                "accepted_at": envelope.occurred_at,
                "updated_at": envelope.occurred_at,
            }
        else:
            assert isinstance(decision, AmendedDocument)
            changed = ", ".join(decision.event.amendment.changed) or "content"  # type: ignore[union-attr]
            envelope = uow.emit(
                ENCOUNTER_DOCUMENTED,
                decision.event,
                tenant_id=tenant_id,
                encounter_id=decision.encounter_id,
                detail=f"revision {decision.revision} via {channel}: {changed} changed"[:500],
            )
            amended = {
                "fingerprint": decision.fingerprint,
                "field_prints": dict(decision.field_prints),
                "revision": decision.revision,
                "channel": channel,
                "status": CycleStatus.AMENDED.value,
                "status_at": envelope.occurred_at,
                "updated_at": envelope.occurred_at,
            }
            if fresh is not None:
                fresh.update(amended)
            else:
                assert row is not None
                for name, value in amended.items():
                    setattr(row, name, value)
                uow.encounters.changed(row)
        results.append(Accepted(decision.encounter_id, decision.status, decision.revision))
    for values in created.values():
        uow.encounters.add(values)
    return results


def _stored(values: Any) -> StoredDocument:
    return StoredDocument(
        values["encounter_id"], values["fingerprint"], values["revision"], values["field_prints"]
    )


@dataclass(frozen=True)
class JsonOutcome:
    """One JSON encounter: accepted (or duplicate, amended), or rejected with problems."""

    accepted: Accepted | None
    problems: tuple[Problem, ...] = ()


async def accept_json(
    *,
    uow: IntakeUnitOfWork,
    tenant_id: str,
    bodies: Sequence[Any],
    all_or_nothing: bool = False,
    channel: str = "json",
) -> list[JsonOutcome]:
    """JSON encounters completed from the tenant's master data and validated; problems are
    JSON pointers into each body. All or nothing: one rejected body accepts none."""
    registry = await uow.registry.load(tenant_id)
    read = [read_json_encounter(body, registry=registry, today=today()) for body in bodies]
    if all_or_nothing and any(problems for _, problems in read):
        return [JsonOutcome(None, tuple(problems)) for _, problems in read]
    good = [encounter for encounter, _ in read if encounter is not None]
    accepted = iter(
        await accept_encounters(uow=uow, tenant_id=tenant_id, encounters=good, channel=channel)
    )
    return [
        JsonOutcome(next(accepted)) if encounter is not None else JsonOutcome(None, tuple(problems))
        for encounter, problems in read
    ]


# --- FHIR ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleEncounterOutcome:
    """What became of one Encounter of a bundle, in the answer's terms."""

    fhir_id: str | None
    pointer: str
    outcome: str  # accepted | duplicate | amended | rejected | not-billable
    encounter_id: str | None = None
    revision: int | None = None
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class BundleOutcome:
    bundle_type: str | None
    encounters: tuple[BundleEncounterOutcome, ...]
    providers_loaded: int
    facilities_loaded: int
    directory_problems: tuple[Problem, ...]
    skipped_entries: tuple[Problem, ...]


async def record_bundle(
    *, uow: IntakeUnitOfWork, tenant_id: str, result: BundleResult
) -> BundleOutcome:
    """Load the bundle's provider directory into the tenant's registry, then accept every
    Encounter the bundle mapped; the others keep their reasons."""
    directory = result.directory
    if directory.providers or directory.facilities:
        await load_directory(uow=uow, tenant_id=tenant_id, update=directory, reason="FHIR bundle")
    mapped = [r.encounter for r in result.encounters if r.encounter is not None]
    accepted = iter(
        await accept_encounters(uow=uow, tenant_id=tenant_id, encounters=mapped, channel="fhir")
    )
    return BundleOutcome(
        bundle_type=result.bundle_type,
        encounters=tuple(_bundle_encounter(r, accepted) for r in result.encounters),
        providers_loaded=len(directory.providers),
        facilities_loaded=len(directory.facilities),
        directory_problems=directory.problems,
        skipped_entries=result.skipped_entries,
    )


def _bundle_encounter(result: EncounterResult, accepted) -> BundleEncounterOutcome:
    if result.encounter is not None:
        done: Accepted = next(accepted)
        return BundleEncounterOutcome(
            result.fhir_id, result.pointer, done.status, done.encounter_id, done.revision
        )
    outcome = "not-billable" if result.outcome is Outcome.NOT_BILLABLE else "rejected"
    return BundleEncounterOutcome(result.fhir_id, result.pointer, outcome, problems=result.problems)


# --- HL7 v2 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hl7Answer:
    ack: str
    outcome: Hl7Outcome
    accepted: Accepted | None = None


async def receive_hl7(
    *, uow: IntakeUnitOfWork, tenant_id: str, data: bytes | str, now: datetime
) -> Hl7Answer:
    """Read one HL7 v2 message for a tenant and answer it: AA when its charges or
    registration were taken (published or stored in this unit of work), otherwise AE/AR
    with an ERR per problem, and nothing published."""
    parsed = parse_message(data)
    if parsed.message is None:
        outcome = Hl7Outcome(AckCode.REJECT, problems=parsed.problems)
        return Hl7Answer(build_ack(message=None, outcome=outcome, now=now), outcome)
    message = parsed.message
    registry = await uow.registry.load(tenant_id)
    key = registration_key(message)
    registration = await uow.hl7.registration(tenant_id, key) if key else None
    try:
        outcome = read_message(
            message,
            registry=registry,
            source_system=source_system_of(message),
            today=now.date(),
            registration=registration,
        )
    except Exception:  # the sender gets an answer whatever the message holds
        problem = Problem("MSH", "the message could not be processed", ProblemKind.INTERNAL)
        outcome = Hl7Outcome(AckCode.REJECT, problems=(problem,))
    accepted = None
    if outcome.accepted and outcome.registration is not None:
        await uow.hl7.save_registration(tenant_id, outcome.registration)
    if outcome.accepted and outcome.encounter is not None:
        (accepted,) = await accept_encounters(
            uow=uow, tenant_id=tenant_id, encounters=[outcome.encounter], channel="hl7"
        )
    return Hl7Answer(build_ack(message=message, outcome=outcome, now=now), outcome, accepted)


async def receive_routed_hl7(*, uow: IntakeUnitOfWork, data: bytes, now: datetime) -> Hl7Answer:
    """A message on the shared MLLP listener: its sending facility (MSH-4) names the tenant,
    through the routes tenants registered; an unrouted facility is rejected at MSH-4."""
    parsed = parse_message(data)
    message = parsed.message
    facility = message.value(message.header, 4) if message is not None else ""
    tenant_id = await uow.registry.tenant_of_facility(facility) if facility else None
    if message is not None and tenant_id is not None:
        return await receive_hl7(uow=uow, tenant_id=tenant_id, data=data, now=now)
    if message is None:
        outcome = Hl7Outcome(AckCode.REJECT, problems=parsed.problems)
    else:
        kind = ProblemKind.UNKNOWN if facility else ProblemKind.MISSING
        reason = "sending facility is not routed to any tenant" if facility else "is required"
        outcome = Hl7Outcome(AckCode.REJECT, problems=(Problem("MSH-4", reason, kind),))
    return Hl7Answer(build_ack(message=message, outcome=outcome, now=now), outcome)


# --- bulk files ------------------------------------------------------------------------------


async def ingest_bulk_records(
    *, uow: IntakeUnitOfWork, job: BulkJob, records: Sequence[BulkRecord]
) -> None:
    """Accept one batch of a bulk file's records and record each one's result together with
    the checkpoint after the batch, in the same unit of work: after a crash the job resumes
    from the checkpoint, and nothing before it is read or published again."""
    if not records:
        return
    reappearing: set[int] = set()
    if job.format == "csv":
        # Rows of one document are adjacent, so a document id seen before is a second
        # document under the same id, not a continuation.
        ids = {r.document_id for r in records if r.document_id}
        seen = await uow.bulk.seen_documents(job.job_id, ids)
        for record in records:
            if record.document_id and record.document_id in seen:
                reappearing.add(record.ordinal)
            if record.document_id:
                seen.add(record.document_id)
    good = [r for r in records if r.encounter is not None and r.ordinal not in reappearing]
    accepted = iter(
        await accept_encounters(
            uow=uow,
            tenant_id=job.tenant_id,
            encounters=[r.encounter for r in good if r.encounter is not None],
            channel=job.format,
        )
    )
    outcomes = {r.ordinal: next(accepted) for r in good}
    results = []
    for record in records:
        done = outcomes.get(record.ordinal)
        problems: tuple[Problem, ...] = record.problems
        if record.ordinal in reappearing:
            problems = (
                Problem(
                    f"{record.position}, column document_id",
                    "the document id appeared earlier in this file; rows of one document "
                    "must be adjacent",
                ),
            )
        status = done.status if done else "rejected"
        setattr(job, status, getattr(job, status) + 1)
        results.append(
            {
                "job_id": job.job_id,
                "ordinal": record.ordinal,
                "position": record.position,
                "document_id": record.document_id,
                "status": status,
                "encounter_id": done.encounter_id if done else None,
                "problems": [_problem_body(p) for p in problems],
            }
        )
    uow.bulk.add_results(results)
    checkpoint = records[-1].checkpoint
    job.offset, job.ordinal, job.line = checkpoint.offset, checkpoint.ordinal, checkpoint.line
    job.updated_at = datetime.now(UTC)
    uow.bulk.changed(job)


def _problem_body(problem: Problem) -> dict[str, str]:
    return {"location": problem.location, "reason": problem.reason, "kind": problem.kind.value}


# --- following the encounter through the cycle -----------------------------------------------


async def load_encounters(*, uow: IntakeUnitOfWork, events: Sequence[EventEnvelope]) -> None:
    """One lookup for a whole batch of other stages' events."""
    await uow.encounters.load(((e.tenant_id, e.encounter_id) for e in events), for_update=True)


async def _learn(
    uow: IntakeUnitOfWork, event: EventEnvelope, status: CycleStatus, claim_id: str | None = None
) -> None:
    key = (event.tenant_id, event.encounter_id)
    await uow.encounters.load([key], for_update=True)  # already done for a whole batch
    row = await uow.encounters.get(*key)
    if row is None:
        return  # not a document intake accepted (another installation's, or a test's)
    current = CycleState(CycleStatus(row.status), row.status_at, row.claim_id)
    after = advance_cycle(current, status, event.occurred_at, claim_id=claim_id)
    if after != current:
        row.status, row.status_at, row.claim_id = after.status.value, after.at, after.claim_id
        uow.encounters.changed(row)


class StageEvent(Contract):
    """What intake reads of another stage's event to follow the encounter: nothing of its
    payload but, for claims and payments, the claim and its outcome (a view of the contract)."""


class ClaimEvent(StageEvent):
    claim_id: str


class RejectionEvent(ClaimEvent):
    stage: str


class PaymentEvent(ClaimEvent):
    status: str


async def on_encounter_coded(*, uow: IntakeUnitOfWork, event: EventEnvelope) -> None:
    await _learn(uow, event, CycleStatus.CODED)


async def on_coding_query_raised(*, uow: IntakeUnitOfWork, event: EventEnvelope) -> None:
    await _learn(uow, event, CycleStatus.CODING_QUERY)


async def on_claim_submitted(*, uow: IntakeUnitOfWork, event: EventEnvelope[ClaimEvent]) -> None:
    await _learn(uow, event, CycleStatus.SUBMITTED, event.payload.claim_id)


async def on_claim_rejected(*, uow: IntakeUnitOfWork, event: EventEnvelope[RejectionEvent]) -> None:
    await _learn(uow, event, rejection_status(event.payload.stage), event.payload.claim_id)


async def on_remittance_received(
    *, uow: IntakeUnitOfWork, event: EventEnvelope[PaymentEvent]
) -> None:
    status = remittance_status(event.payload.status)
    await _learn(uow, event, status, event.payload.claim_id)
