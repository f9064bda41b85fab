"""What the claims service does on each event: charge and scrub the claim of a coded
encounter; follow the payer's verdict (835, denial) and the biller's decision on a denial
through the claim state machine; bill the next payer when the patient's share is left.

Each handler asks the domain what happens and applies it; the batch prefetch functions
look up what a whole poll batch needs in one query each."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from claimflow_claims import billing
from claimflow_claims.adapters.tables import ClaimRecord
from claimflow_claims.domain.charges import charge_encounter
from claimflow_claims.domain.cob import NoNextPayer, next_payer_claim, next_payer_decision
from claimflow_claims.domain.corrections import (
    NEXT_PAYER,
    REPLACEMENT,
    InvalidCorrection,
    claim_id_for,
    replacement_claim,
)
from claimflow_claims.domain.fee_schedule import UnpricedProcedure
from claimflow_claims.domain.lifecycle import (
    PAYER,
    Refusal,
    Step,
    denial_step,
    denial_work_step,
    remittance_step,
)
from claimflow_claims.domain.model import primary_coverage
from claimflow_claims.domain.states import ON_FILE, ClaimEvent, ClaimState
from claimflow_claims.unit_of_work import ClaimsUnitOfWork
from claimflow_shared.events import (
    ClaimDenied,
    DenialAction,
    DenialWorked,
    EncounterCoded,
    EventEnvelope,
    LineCorrection,
    RemittanceReceived,
)

ACTOR = "claimflow-claims"


# -- encounter.coded -------------------------------------------------------------------------


async def load_for_coded(
    *, uow: ClaimsUnitOfWork, events: Sequence[EventEnvelope[EncounterCoded]]
) -> None:
    """The batch's encounters' claims, their patients' claims on file and their tenants'
    fee schedules, one query each. The patients' locks come first: two encounters of one
    patient on two partitions would otherwise each miss the other's claim (a duplicate)."""
    amended = [e for e in events if e.payload.amendment is not None]
    if amended:
        # An amended encounter may rebuild a claim the submitter is about to send: keep the
        # submitter (which holds this lock while it writes and sends) and the biller's
        # commands off, so the claim read next is the one that stays.
        await uow.lock("claims-submitter")
        await uow.lock_all(billing.encounter_lock(e.tenant_id, e.encounter_id) for e in amended)
    await uow.lock_all(billing.patient_lock(e.tenant_id, e.payload.patient.mrn) for e in events)
    await uow.claims.load_for_encounters((e.tenant_id, e.encounter_id) for e in events)
    await uow.claims.load_prior_claims((e.tenant_id, e.payload.patient.mrn) for e in events)
    await uow.fees.load({e.tenant_id for e in events})


async def on_encounter_coded(
    *, uow: ClaimsUnitOfWork, event: EventEnvelope[EncounterCoded]
) -> None:
    """Charge the encounter's original claim and scrub it: clean, it waits for the
    submitter; failing an edit, it is held (`claim.held`). An amended encounter (its
    `encounter.coded` carries `amendment`) corrects the claim that stands for it."""
    tenant, encounter, coded = event.tenant_id, event.encounter_id, event.payload
    existing = await uow.claims.of_encounter(tenant, encounter)
    if existing:
        seen = any(c.coded_event_id == event.event_id for c in existing)
        if coded.amendment is not None and not seen:
            await _amend(uow, existing, event)
            billing.publish_state_changes(uow)
        return
    charged = _charge(uow, event, claim_id_for(encounter))
    billing.book_claim(
        uow,
        charged.claim,
        sequence=1,
        coded_event_id=event.event_id,
        later_coverages=charged.later_coverages,
        prior=await uow.claims.prior_claims(tenant, coded.patient.mrn),
        actor=ACTOR,
        reason=f"charged from the coded encounter as an {charged.claim.claim_type}",
    )
    billing.publish_state_changes(uow)


def _charge(uow: ClaimsUnitOfWork, event: EventEnvelope[EncounterCoded], claim_id: str):
    coded = event.payload
    payer_id = primary_coverage(coded.coverages).payer.payer_id
    return charge_encounter(
        coded,
        claim_id=claim_id,
        tenant_id=event.tenant_id,
        encounter_id=event.encounter_id,
        fee_schedule=uow.fees.schedule_for(event.tenant_id, payer_id),
        payer_rules=billing.rules().for_payer(payer_id),
    )


# The claim that stands for the encounter with its primary payer: the newest one not
# already replaced, voided or closed.
_HISTORY = {ClaimState.CORRECTED.value, ClaimState.VOIDED.value, ClaimState.CLOSED.value}


async def _amend(
    uow: ClaimsUnitOfWork, claims: Sequence[ClaimRecord], event: EventEnvelope[EncounterCoded]
) -> None:
    """A claim the payer never took is rebuilt from the amended encounter and scrubbed
    again; one it has on file is replaced by a frequency-7 claim built from it; one on its
    way to the payer is left with a note (correct it once the payer has it on file)."""
    current = [c for c in claims if c.payer_responsibility == "primary" and c.state not in _HISTORY]
    if not current:
        return
    record = current[-1]
    revision = event.payload.amendment.revision  # type: ignore[union-attr]
    reason = f"revision {revision} of the encounter"
    state = ClaimState(record.state)
    prior = await uow.claims.prior_claims(record.tenant_id, record.patient_mrn)
    # Held or rejected claims wait for a biller; a clean one waits until it is in a file.
    unsent = state is ClaimState.SCRUBBED and record.submission_file is None
    if state in {ClaimState.HELD, ClaimState.REJECTED} or unsent:
        charged = _charge(uow, event, record.claim_id)
        rebuilt = charged.claim.model_copy(
            update={
                "frequency_code": record.frequency_code,
                "original_claim_number": (await uow.claims.claim_of(record)).original_claim_number,
            }
        )
        record.coded_event_id = event.event_id
        record.later_coverages = [c.model_dump(mode="json") for c in charged.later_coverages]
        billing.rescrub(
            uow, record, rebuilt, prior=prior, actor=ACTOR, reason=f"rebuilt from {reason}"
        )
        return
    if state in ON_FILE and record.payer_claim_number:
        sequence, claim_id = await billing.next_claim_id(uow, record, REPLACEMENT)
        charged = _charge(uow, event, claim_id)
        replacement = charged.claim.model_copy(
            update={"frequency_code": "7", "original_claim_number": record.payer_claim_number}
        )
        billing.book_claim(
            uow,
            replacement,
            sequence=sequence,
            coded_event_id=event.event_id,
            later_coverages=charged.later_coverages,
            prior=prior,
            actor=ACTOR,
            reason=f"replaces {record.claim_id} (payer claim {record.payer_claim_number}): "
            f"amended by {reason}",
            original_claim_id=record.claim_id,
        )
        uow.claims.transition(
            record,
            ClaimEvent.REPLACEMENT_SENT,
            actor=ACTOR,
            reason=f"replaced by {claim_id}: amended by {reason}",
        )
        return
    uow.claims.note(
        record,
        event="amendment_not_applied",
        actor=ACTOR,
        reason=f"{reason} amends a claim that is {state.value}: correct it once the payer "
        "has it on file",
    )


# -- remittance.received, claim.denied, denial.worked -----------------------------------------


async def lock_and_load(*, uow: ClaimsUnitOfWork, events: Sequence[EventEnvelope]) -> None:
    """Take the batch's encounters' locks (a biller's command may change the same claims)
    and look up every claim of those encounters."""
    keys = {(e.tenant_id, e.encounter_id) for e in events}
    await uow.lock_all(billing.encounter_lock(*key) for key in keys)
    await uow.claims.load_for_encounters(keys)


async def lock_and_load_with_fees(
    *, uow: ClaimsUnitOfWork, events: Sequence[EventEnvelope]
) -> None:
    """As `lock_and_load`, and the tenants' fee schedules (a corrected line is repriced)."""
    await lock_and_load(uow=uow, events=events)
    await uow.fees.load({e.tenant_id for e in events})


def _apply(uow: ClaimsUnitOfWork, record: ClaimRecord, outcome: Step | Refusal, event: str):
    if isinstance(outcome, Step):
        uow.claims.apply(record, outcome)
    else:
        uow.claims.note(record, event=f"{event}_ignored", actor=ACTOR, reason=outcome.reason)


async def on_remittance_received(
    *, uow: ClaimsUnitOfWork, event: EventEnvelope[RemittanceReceived]
) -> None:
    """Follow the payer's 835 verdict; a reversal closes the void that caused it; a
    payment that leaves the patient a share bills the next payer."""
    remittance = event.payload
    record = await uow.claims.get(event.tenant_id, remittance.claim_id)
    if record is None:
        return
    uow.claims.record_payment(
        claim_id=record.claim_id,
        tenant_id=record.tenant_id,
        event_id=event.event_id,
        kind="remittance",
        status=remittance.status,
        status_code=remittance.status_code,
        payer_claim_number=remittance.payer_claim_number,
        paid=remittance.paid,
        allowed=remittance.allowed,
        patient_responsibility=remittance.patient_responsibility,
        adjustments=[
            a.model_dump(mode="json")
            for a in (
                *remittance.claim_adjustments,
                *(a for line in remittance.lines for a in line.adjustments),
            )
        ],
        rarcs=list(remittance.rarcs),
        detail={
            "remittance_file_id": remittance.remittance_file_id,
            "trace_number": remittance.payment.trace_number,
            "payment_date": str(remittance.payment.payment_date or ""),
        },
    )
    outcome = remittance_step(ClaimState(record.state), remittance)
    if remittance.payer_claim_number and remittance.status != "reversed":
        record.payer_claim_number = remittance.payer_claim_number
    if isinstance(outcome, Step) and remittance.status != "reversed":
        record.paid = remittance.paid
    _apply(uow, record, outcome, "remittance")
    if remittance.status == "reversed":
        await _close_voids_of(uow, record)
    elif isinstance(outcome, Step) and remittance.status in {"paid", "partially-paid"}:
        await _bill_next_payer(uow, record, remittance)
    billing.publish_state_changes(uow)


async def _close_voids_of(uow: ClaimsUnitOfWork, original: ClaimRecord) -> None:
    """The payer reversed the original a void (frequency 8) asked it to cancel: done."""
    for claim in await uow.claims.of_encounter(original.tenant_id, original.encounter_id):
        if (
            claim.frequency_code == "8"
            and claim.original_claim_id == original.claim_id
            and claim.state in {ClaimState.SUBMITTED.value, ClaimState.ACCEPTED.value}
        ):
            uow.claims.transition(
                claim,
                ClaimEvent.ORIGINAL_REVERSED,
                actor=PAYER,
                reason=f"the payer reversed {original.claim_id} as this void asked",
            )


async def _bill_next_payer(
    uow: ClaimsUnitOfWork, record: ClaimRecord, remittance: RemittanceReceived
) -> None:
    if not record.later_coverages:
        return  # most patients have one coverage: no need to read the claim back
    claim = await uow.claims.claim_of(record)
    decision = next_payer_decision(claim, remittance, billing.later_coverages_of(record))
    if isinstance(decision, NoNextPayer):
        if remittance.patient_responsibility > 0:
            uow.claims.note(
                record, event="next_payer_not_billed", actor=ACTOR, reason=decision.reason
            )
        return
    already = [
        c
        for c in await uow.claims.of_encounter(record.tenant_id, record.encounter_id)
        if c.original_claim_id == record.claim_id and c.payer_id == decision.payer.payer_id
    ]
    if already:
        uow.claims.note(
            record,
            event="next_payer_not_billed",
            actor=ACTOR,
            reason=f"{already[0].claim_id} already bills {decision.payer.payer_id}",
        )
        return
    sequence, claim_id = await billing.next_claim_id(uow, record, NEXT_PAYER)
    payer_rules = billing.rules().for_payer(decision.payer.payer_id)
    following = next_payer_claim(
        claim,
        remittance,
        coverage=decision,
        claim_id=claim_id,
        claim_filing_indicator=payer_rules.claim_filing_indicator,
        today=billing.today(),
    )
    later = [c for c in billing.later_coverages_of(record) if c != decision]
    billing.book_claim(
        uow,
        following,
        sequence=sequence,
        coded_event_id=record.coded_event_id,
        later_coverages=later,
        prior=billing.prior_claims(
            await uow.claims.of_encounter(record.tenant_id, record.encounter_id)
        ),
        actor=ACTOR,
        reason=f"the patient's share {remittance.patient_responsibility} after "
        f"{record.payer_id} paid {remittance.paid} (payer claim {remittance.payer_claim_number})",
        original_claim_id=record.claim_id,
    )
    uow.claims.transition(
        record,
        ClaimEvent.NEXT_PAYER_BILLED,
        actor=ACTOR,
        reason=f"{claim_id} bills {decision.payer.payer_id} for the patient's share",
    )


async def on_claim_denied(*, uow: ClaimsUnitOfWork, event: EventEnvelope[ClaimDenied]) -> None:
    """Record the denial's category and recommended action on the claim; deny a claim the
    835 verdict has not reached yet (the two events travel on different topics)."""
    denial = event.payload
    record = await uow.claims.get(event.tenant_id, denial.claim_id)
    if record is None:
        return
    record.denial = {
        "category": denial.category,
        "recommended_action": denial.recommended_action,
        "appealable": denial.appealable,
        "denied_amount": str(denial.denied_amount),
        "codes": [f"{a.group.value}-{a.carc}" for a in denial.adjustments],
        "rarcs": list(denial.rarcs),
    }
    uow.claims.record_payment(
        claim_id=record.claim_id,
        tenant_id=record.tenant_id,
        event_id=event.event_id,
        kind="denial",
        status="denied",
        payer_claim_number=denial.payer_claim_number,
        paid=Decimal("0.00"),
        adjustments=[a.model_dump(mode="json") for a in denial.adjustments],
        rarcs=list(denial.rarcs),
        detail={
            "category": denial.category,
            "recommended_action": denial.recommended_action,
            "appealable": denial.appealable,
            "denied_amount": str(denial.denied_amount),
        },
    )
    outcome = denial_step(ClaimState(record.state), denial)
    if isinstance(outcome, Step):
        uow.claims.apply(record, outcome)
    else:
        uow.claims.changed(record)
        uow.claims.note(record, event="denial_noted", actor=PAYER, reason=outcome.reason)
    billing.publish_state_changes(uow)


async def on_denial_worked(*, uow: ClaimsUnitOfWork, event: EventEnvelope[DenialWorked]) -> None:
    """A biller's decision from the denial work queue: send the corrected claim (frequency
    7, REF*F8), record the appeal, or close the claim written off or billed to the patient."""
    worked = event.payload
    record = await uow.claims.get(event.tenant_id, worked.claim_id)
    if record is None:
        return
    outcome = denial_work_step(ClaimState(record.state), worked)
    if isinstance(outcome, Refusal) or worked.action is not DenialAction.CORRECT_AND_RESUBMIT:
        _apply(uow, record, outcome, "denial_worked")
        billing.publish_state_changes(uow)
        return
    replacement = await replace_claim(
        uow,
        record,
        payer_claim_number=worked.payer_claim_number or record.payer_claim_number,
        corrections=worked.corrections,
        actor=worked.worked_by,
        reason=outcome.reason,
    )
    if isinstance(replacement, str):
        uow.claims.note(record, event="denial_worked_ignored", actor=ACTOR, reason=replacement)
    billing.publish_state_changes(uow)


async def replace_claim(
    uow: ClaimsUnitOfWork,
    record: ClaimRecord,
    *,
    payer_claim_number: str | None,
    corrections: Sequence[LineCorrection],
    actor: str,
    reason: str,
) -> ClaimRecord | str:
    """Send a replacement (frequency 7) for a claim the payer has on file; the original is
    then corrected. Returns the replacement, or why it cannot be built."""
    if not payer_claim_number:
        return "no payer claim number is known for the claim: nothing to replace"
    sequence, claim_id = await billing.next_claim_id(uow, record, REPLACEMENT)
    original = await uow.claims.claim_of(record)
    try:
        replacement = replacement_claim(
            original,
            claim_id=claim_id,
            payer_claim_number=payer_claim_number,
            corrections=corrections,
            fee_schedule=uow.fees.schedule_for(record.tenant_id, record.payer_id),
        )
    except (InvalidCorrection, UnpricedProcedure) as exc:
        return f"the correction cannot be applied: {exc}"
    siblings = await uow.claims.of_encounter(record.tenant_id, record.encounter_id)
    booked = billing.book_claim(
        uow,
        replacement,
        sequence=sequence,
        coded_event_id=record.coded_event_id,
        later_coverages=billing.later_coverages_of(record),
        prior=billing.prior_claims(siblings),
        actor=actor,
        reason=f"replaces {record.claim_id} (payer claim {payer_claim_number}): {reason}"[:500],
        original_claim_id=record.claim_id,
    )
    uow.claims.transition(
        record, ClaimEvent.REPLACEMENT_SENT, actor=actor, reason=f"replaced by {claim_id}: {reason}"
    )
    return booked
