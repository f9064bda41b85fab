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
    await uow.claims.load_for_encounters((e.tenant_id, e.encounter_id) for e in events)


async def on_encounter_coded(*, uow: ClaimsUnitOfWork, event: EventEnvelope[EncounterCoded]):
    """Price and scrub the original claim; a clean one waits for the submitter."""
    if await uow.claims.for_encounter(event.tenant_id, event.encounter_id) is not None:
        return
    claim_id = claim_id_for(event.encounter_id)
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
        claim_json, total, payer = claim.model_dump_json(), claim.total_charge, claim.coverage
    except UnpricedProcedure as exc:
        findings = [
            {"edit": "fee-schedule", "field": "service_lines", "message": str(exc)}
            | {"severity": Severity.ERROR}
        ]
        claim_json, total, payer = "{}", 0, coded.coverages[0]
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
        reasons = [f"{f['edit']}: {f['field']}: {f['message']}" for f in errors]
        uow.emit(
            CLAIM_REJECTED,
            ClaimRejected(claim_id=claim_id, stage="scrubber", reasons=reasons),
            detail="held",
        )


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
