"""Putting claims on the books, for the event handlers and the biller's commands alike:
scrub a claim and record it (held with its findings, or clean for the submitter), scrub an
edited claim again, add the claims that follow one (replacement, void, next payer), and
publish every claim's steps as `claim.state-changed`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from claimflow_claims.adapters.repository import prior_claim
from claimflow_claims.adapters.tables import ClaimRecord
from claimflow_claims.domain.corrections import claim_id_for
from claimflow_claims.domain.lifecycle import Step
from claimflow_claims.domain.messages import (
    errors_of,
    finding_reason,
    finding_record,
    held_payload,
    rejected_payload,
)
from claimflow_claims.domain.model import Claim
from claimflow_claims.domain.scrubber import PriorClaim, ScrubRules, default_rules, scrub_claim
from claimflow_claims.domain.states import ANNOUNCED_ELSEWHERE, ClaimEvent
from claimflow_claims.unit_of_work import ClaimsUnitOfWork
from claimflow_shared.events.models import ClaimStateChanged, Coverage
from claimflow_shared.topics import CLAIM_HELD, CLAIM_REJECTED, CLAIM_STATE_CHANGED

SCRUBBER = "claimflow-claims/scrubber"


def rules() -> ScrubRules:
    return default_rules()


def today():
    return datetime.now(UTC).date()


def encounter_lock(tenant_id: str, encounter_id: str) -> str:
    """The advisory lock every change to one encounter's claims takes (consumers, commands)."""
    return f"claims:{tenant_id}:{encounter_id}"


def patient_lock(tenant_id: str, patient_mrn: str) -> str:
    """The advisory lock new claims of one patient are scrubbed under (duplicate checks)."""
    return f"claims-patient:{tenant_id}:{patient_mrn}"


def routing(uow: ClaimsUnitOfWork, record: ClaimRecord) -> dict:
    """Where an event about this claim goes: its tenant and encounter, caused by the event
    being handled, or else by the coded encounter the claim came from."""
    cause = uow.cause.event_id if uow.cause is not None else record.coded_event_id
    return {
        "tenant_id": record.tenant_id,
        "encounter_id": record.encounter_id,
        "causation_id": cause,
    }


def _scrub(claim: Claim, prior: Sequence[PriorClaim]) -> tuple[list[dict], Step]:
    findings = [
        finding_record(f)
        for f in scrub_claim(claim, today=today(), rules=rules(), prior_claims=prior)
    ]
    errors = errors_of(findings)
    if errors:
        edits = ", ".join(sorted({f["edit"] for f in errors}))
        step = Step(ClaimEvent.SCRUB_FAILED, SCRUBBER, f"failed edit(s): {edits}")
    else:
        warnings = len(findings)
        step = Step(
            ClaimEvent.SCRUB_PASSED,
            SCRUBBER,
            "every edit passed" + (f" ({warnings} warning(s))" if warnings else ""),
        )
    return findings, step


def _hold(uow: ClaimsUnitOfWork, record: ClaimRecord, claim: Claim) -> None:
    """`claim.held` with the findings; and `claim.rejected` with stage `scrubber`, which the
    consumers built on claim.rejected 1.0 (the encounter's cycle status in intake, the clean
    claim rate in remittance) read as "held before it left"."""
    errors = errors_of(record.findings)
    reasons = [finding_reason(f) for f in errors]
    where = routing(uow, record)
    uow.emit(
        CLAIM_HELD,
        held_payload(claim, stage="scrubber", reasons=reasons, findings=record.findings),
        detail="held by the scrubber",
        **where,
    )
    uow.emit(
        CLAIM_REJECTED,
        rejected_payload(
            claim,
            stage="scrubber",
            reasons=reasons,
            codes=sorted({f["edit"] for f in errors}),
            file_name=None,
        ),
        detail="held",
        **where,
    )


def book_claim(
    uow: ClaimsUnitOfWork,
    claim: Claim,
    *,
    sequence: int,
    coded_event_id: UUID,
    later_coverages: Sequence[Coverage],
    prior: Sequence[PriorClaim],
    actor: str,
    reason: str,
    original_claim_id: str | None = None,
) -> ClaimRecord:
    """Scrub a new claim and record it: clean for the submitter, or held with its findings
    (and `claim.held`)."""
    findings, step = _scrub(claim, prior)
    record = uow.claims.add(
        {
            "claim_id": claim.claim_id,
            "tenant_id": claim.tenant_id,
            "encounter_id": claim.encounter_id,
            "sequence": sequence,
            "frequency_code": claim.frequency_code,
            "claim_type": claim.claim_type,
            "payer_responsibility": claim.coverage.priority.value,
            "state": "created",
            "payer_id": claim.coverage.payer.payer_id,
            "patient_mrn": claim.patient.mrn,
            "billing_npi": claim.providers.billing.npi,
            "period_start": claim.period_start,
            "period_end": claim.period_end,
            "service_dates": sorted({line.service_date.isoformat() for line in claim.lines}),
            "procedure_codes": sorted(
                {line.code or line.revenue_code or "" for line in claim.lines}
            ),
            "total_charge": claim.total_charge,
            "paid": None,
            "claim": claim.model_dump_json(),
            "findings": findings,
            "later_coverages": [c.model_dump(mode="json") for c in later_coverages],
            "coded_event_id": coded_event_id,
            "original_claim_id": original_claim_id,
            "interchange_control_number": None,
            "submission_file": None,
            "payer_claim_number": None,
            "denial": None,
        },
        actor=actor,
        reason=reason,
        steps=[step],
    )
    if step.event is ClaimEvent.SCRUB_FAILED:
        _hold(uow, record, claim)
    return record


def rescrub(
    uow: ClaimsUnitOfWork,
    record: ClaimRecord,
    claim: Claim,
    *,
    prior: Sequence[PriorClaim],
    actor: str,
    reason: str,
) -> None:
    """A biller edited a claim the payer never took: record the new claim and scrub it
    again; it goes back to the submitter's queue when clean."""
    uow.claims.transition(record, ClaimEvent.EDITED, actor=actor, reason=reason)
    findings, step = _scrub(claim, prior)
    record.claim = claim.model_dump_json()
    record.findings = findings
    record.total_charge = claim.total_charge
    record.procedure_codes = sorted({line.code or line.revenue_code or "" for line in claim.lines})
    record.submission_file = None
    record.interchange_control_number = None
    uow.claims.apply(record, step)
    if step.event is ClaimEvent.SCRUB_FAILED:
        _hold(uow, record, claim)


async def next_claim_id(uow: ClaimsUnitOfWork, record: ClaimRecord, kind: str) -> tuple[int, str]:
    """The sequence and id of the encounter's next claim (a replacement, void or claim to
    the next payer); the caller holds the encounter's lock."""
    claims = await uow.claims.of_encounter(record.tenant_id, record.encounter_id)
    sequence = max((c.sequence for c in claims), default=0) + 1
    return sequence, claim_id_for(record.encounter_id, sequence, kind)


def prior_claims(records: Sequence[ClaimRecord]) -> list[PriorClaim]:
    """Claims on file as the scrubber's duplicate and frequency edits see them."""
    return [prior_claim(r) for r in records]


def later_coverages_of(record: ClaimRecord) -> list[Coverage]:
    return [Coverage.model_validate(c) for c in record.later_coverages]


def publish_state_changes(uow: ClaimsUnitOfWork) -> None:
    """One `claim.state-changed` per claim that took, in this unit of work, a step no other
    event announces (see `ANNOUNCED_ELSEWHERE`), with those steps in order."""
    for pending in uow.claims.drain_changes():
        transitions = [t for t in pending.transitions if t.event not in ANNOUNCED_ELSEWHERE]
        if not transitions:
            continue
        record = pending.record
        uow.emit(
            CLAIM_STATE_CHANGED,
            ClaimStateChanged(
                claim_id=record.claim_id,
                claim_type=record.claim_type,  # type: ignore[arg-type]
                frequency_code=record.frequency_code,  # type: ignore[arg-type]
                state=record.state,
                transitions=transitions,
            ),
            detail=record.state,
            **routing(uow, record),
        )
