"""What the claims service does on each event: build and scrub a claim from a coded
encounter; follow the payer's verdict through the claim state machine."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from claimflow_claims.adapters.repository import (
    audit_created,
    claim_for_encounter,
    get_claim,
    transition,
)
from claimflow_claims.adapters.tables import ClaimRecord
from claimflow_claims.domain.fee_schedule import FeeSchedule, UnpricedProcedure
from claimflow_claims.domain.model import build_claim
from claimflow_claims.domain.scrubber import is_clean, scrub_claim
from claimflow_claims.domain.states import ClaimEvent, ClaimState
from claimflow_shared.events import (
    ClaimRejected,
    EncounterCoded,
    EventEnvelope,
    RemittanceReceived,
)
from claimflow_shared.runtime.context import HandlerContext
from claimflow_shared.topics import CLAIM_REJECTED

ACTOR = "claimflow-claims"


@cache
def fee_schedule() -> FeeSchedule:
    return FeeSchedule.load()


def claim_id_for(encounter_id: str, frequency_code: str = "1") -> str:
    """CLM01, the patient control number the payer echoes back in CLP01."""
    return f"C{encounter_id.removeprefix('E')}-{frequency_code}"


async def on_encounter_coded(ctx: HandlerContext, event: EventEnvelope[EncounterCoded]) -> None:
    """Price and scrub the original claim; a clean one waits for the submitter."""
    if await claim_for_encounter(
        ctx.session, tenant_id=event.tenant_id, encounter_id=event.encounter_id
    ):
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
        findings = [
            {
                "edit": f.edit.value,
                "field": f.field,
                "message": f.message,
                "severity": f.severity.value,
            }
            for f in scrub_claim(claim, today=datetime.now(UTC).date())
        ]
        clean = is_clean(scrub_claim(claim, today=datetime.now(UTC).date()))
        claim_json, total, payer = claim.model_dump_json(), claim.total_charge, claim.coverage
    except UnpricedProcedure as exc:
        findings = [
            {
                "edit": "fee-schedule",
                "field": "service_lines",
                "message": str(exc),
                "severity": "error",
            }
        ]
        clean, claim_json, total, payer = False, "{}", 0, coded.coverages[0]
    record = ClaimRecord(
        claim_id=claim_id,
        tenant_id=event.tenant_id,
        encounter_id=event.encounter_id,
        state=(ClaimState.READY if clean else ClaimState.HELD).value,
        payer_id=payer.payer.payer_id,
        total_charge=total,
        claim=claim_json,
        findings=findings,
        coded_event_id=event.event_id,
    )
    ctx.session.add(record)
    audit_created(
        ctx.session,
        record,
        actor=ACTOR,
        reason="scrubbed clean" if clean else "held by the scrubber",
    )
    if not clean:
        reasons = [
            f"{f['edit']}: {f['field']}: {f['message']}"
            for f in findings
            if f["severity"] == "error"
        ]
        ctx.emit(
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


async def on_remittance_received(
    ctx: HandlerContext, event: EventEnvelope[RemittanceReceived]
) -> None:
    record = await get_claim(ctx.session, claim_id=event.payload.claim_id)
    outcome = _OUTCOME.get(event.payload.status)
    if record is None or outcome is None or record.tenant_id != event.tenant_id:
        return
    record.payer_claim_number = event.payload.payer_claim_number
    if ClaimState(record.state) not in {
        ClaimState.PAID,
        ClaimState.PARTIALLY_PAID,
        ClaimState.DENIED,
    }:
        transition(
            ctx.session,
            record,
            outcome,
            actor="payer",
            reason=_remittance_reason(event.payload),
        )
