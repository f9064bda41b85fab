"""What the claims service does on each event: build and scrub a claim from a coded
encounter; follow the payer's verdict through the claim state machine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache

from claimflow_claims.adapters.tables import ClaimRecord
from claimflow_claims.domain.fee_schedule import FeeSchedule, UnpricedProcedure
from claimflow_claims.domain.model import build_claim
from claimflow_claims.domain.scrubber import ScrubFinding, Severity, scrub_claim
from claimflow_claims.domain.states import TRANSITIONS, ClaimEvent, ClaimState
from claimflow_claims.unit_of_work import ClaimsUnitOfWork
from claimflow_shared.events import (
    ClaimRejected,
    EncounterCoded,
    EventEnvelope,
    RemittanceReceived,
)
from claimflow_shared.topics import CLAIM_REJECTED

ACTOR = "claimflow-claims"


@cache
def fee_schedule() -> FeeSchedule:
    return FeeSchedule.load()


def claim_id_for(encounter_id: str, frequency_code: str = "1") -> str:
    """CLM01, the patient control number the payer echoes back in CLP01."""
    return f"C{encounter_id.removeprefix('E')}-{frequency_code}"


def _finding(f: ScrubFinding) -> dict:
    return {"edit": f.edit.value, "field": f.field, "message": f.message, "severity": f.severity}


async def load_claims_for_encounters(
    *, uow: ClaimsUnitOfWork, events: Sequence[EventEnvelope[EncounterCoded]]
) -> None:
    if any(e.payload.amendment is not None for e in events):
        # An amended encounter may rebuild its claim: keep the submitter (which holds this
        # lock while it writes and sends an interchange) off first, so the claim read here
        # is still the one it would send.
        await uow.lock("claims-submitter")
    await uow.claims.load_for_encounters((e.tenant_id, e.encounter_id) for e in events)


# A claim no interchange holds yet can still change; once sent, only a replacement can.
UNSUBMITTED = frozenset({ClaimState.CREATED, ClaimState.HELD, ClaimState.READY})


async def on_encounter_coded(*, uow: ClaimsUnitOfWork, event: EventEnvelope[EncounterCoded]):
    """Price and scrub the original claim; a clean one waits for the submitter. An amended
    encounter (its encounter.coded carries `amendment`) rebuilds the claim if it has not
    been submitted; a submitted one stays as the payer has it, and its correction is a
    replacement claim (frequency 7) built from this same event, which carries the whole
    corrected encounter."""
    existing = await uow.claims.for_encounter(event.tenant_id, event.encounter_id)
    if existing is not None:
        amended = event.payload.amendment is not None and existing.coded_event_id != event.event_id
        if amended and _unsubmitted(existing):
            _rebuild(uow, existing, event)
        return
    claim_id = claim_id_for(event.encounter_id)
    claim_json, total, payer, findings = _priced_and_scrubbed(claim_id, event)
    errors = [f for f in findings if f["severity"] == Severity.ERROR]
    record = ClaimRecord(
        claim_id=claim_id,
        tenant_id=event.tenant_id,
        encounter_id=event.encounter_id,
        state=(ClaimState.HELD if errors else ClaimState.READY).value,
        payer_id=payer.payer.payer_id,
        total_charge=total,
        claim=claim_json,
        findings=findings,
        coded_event_id=event.event_id,
    )
    uow.claims.add(
        record, actor=ACTOR, reason="held by the scrubber" if errors else "scrubbed clean"
    )
    if errors:
        _held(uow, claim_id, errors)


def _priced_and_scrubbed(claim_id: str, event: EventEnvelope[EncounterCoded]):
    coded = event.payload
    try:
        claim = build_claim(
            claim_id=claim_id,
            tenant_id=event.tenant_id,
            encounter_id=event.encounter_id,
            coded=coded,
            fee_schedule=fee_schedule(),
        )
        findings = [_finding(f) for f in scrub_claim(claim, today=datetime.now(UTC).date())]
        return claim.model_dump_json(), claim.total_charge, claim.coverage, findings
    except UnpricedProcedure as exc:
        findings = [
            {"edit": "fee-schedule", "field": "service_lines", "message": str(exc)}
            | {"severity": Severity.ERROR}
        ]
        return "{}", 0, coded.coverages[0], findings


def _held(uow: ClaimsUnitOfWork, claim_id: str, errors: list[dict]) -> None:
    reasons = [f"{f['edit']}: {f['field']}: {f['message']}" for f in errors]
    uow.emit(
        CLAIM_REJECTED,
        ClaimRejected(claim_id=claim_id, stage="scrubber", reasons=reasons),
        detail="held",
    )


def _unsubmitted(record: ClaimRecord) -> bool:
    return ClaimState(record.state) in UNSUBMITTED and record.submission_file is None


def _rebuild(uow: ClaimsUnitOfWork, record: ClaimRecord, event: EventEnvelope[EncounterCoded]):
    """The claim again, from the amended encounter, scrubbed again: ready or held anew."""
    claim_json, total, payer, findings = _priced_and_scrubbed(record.claim_id, event)
    errors = [f for f in findings if f["severity"] == Severity.ERROR]
    record.claim, record.total_charge, record.findings = claim_json, total, findings
    record.payer_id, record.coded_event_id = payer.payer.payer_id, event.event_id
    revision = event.payload.amendment.revision  # type: ignore[union-attr]
    verdict = ClaimEvent.SCRUB_FAILED if errors else ClaimEvent.SCRUB_PASSED
    reason = f"rebuilt from revision {revision} of the encounter"
    if (ClaimState(record.state), verdict) in TRANSITIONS:
        uow.claims.transition(record, verdict, actor=ACTOR, reason=reason)
    else:  # ready and clean again: the claim changed, its state did not
        record.updated_at = datetime.now(UTC)
        uow.claims._changed(record)
        uow.claims._audit(record, record.state, "rebuilt", actor=ACTOR, reason=reason)
    if errors:
        _held(uow, record.claim_id, errors)


_OUTCOME = {
    "paid": ClaimEvent.REMITTANCE_PAID,
    "partially-paid": ClaimEvent.REMITTANCE_PARTIAL,
    "denied": ClaimEvent.REMITTANCE_DENIED,
}


def _remittance_reason(remittance: RemittanceReceived) -> str:
    adjustments = [
        *remittance.claim_adjustments,
        *(a for line in remittance.lines for a in line.adjustments),
    ]
    carcs = sorted({f"{a.group.value}-{a.carc}" for a in adjustments})
    return f"835 CLP02={remittance.status_code}, paid {remittance.paid}" + (
        f", adjustments {' '.join(carcs)}" if carcs else ""
    )


async def load_claims(
    *, uow: ClaimsUnitOfWork, events: Sequence[EventEnvelope[RemittanceReceived]]
) -> None:
    await uow.claims.load(e.payload.claim_id for e in events)


async def on_remittance_received(
    *, uow: ClaimsUnitOfWork, event: EventEnvelope[RemittanceReceived]
) -> None:
    """Apply the payer's verdict where the state machine allows it."""
    record = await uow.claims.get(event.tenant_id, event.payload.claim_id)
    outcome = _OUTCOME.get(event.payload.status)
    if record is None or outcome is None:
        return
    record.payer_claim_number = event.payload.payer_claim_number
    if (ClaimState(record.state), outcome) in TRANSITIONS:
        uow.claims.transition(
            record, outcome, actor="payer", reason=_remittance_reason(event.payload)
        )
