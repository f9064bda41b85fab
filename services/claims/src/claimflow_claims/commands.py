"""What a biller asks of a claim through the API (and CLI): correct it, void it, release it
from the held queue; and a tenant's fee schedule import. Each command runs in one unit of
work under the encounter's lock, asks the state machine, and is audited with the
authenticated principal and the reason given."""

from __future__ import annotations

from collections.abc import Sequence

from claimflow_claims import billing
from claimflow_claims.adapters.tables import ClaimRecord, FeeScheduleRecord
from claimflow_claims.domain.corrections import (
    VOID,
    InvalidCorrection,
    apply_corrections,
    reprice,
    void_claim,
)
from claimflow_claims.domain.fee_schedule import RowProblem, parse_fee_schedule_csv
from claimflow_claims.domain.states import ON_FILE, ClaimEvent, ClaimState, can
from claimflow_claims.handlers import replace_claim
from claimflow_claims.unit_of_work import SqlClaimsUnitOfWork
from claimflow_shared.events.models import LineCorrection

# A claim the payer never took is edited where it stands; the submitter may be about to
# send a clean one, so a clean claim already in an interchange is left alone.
_EDITABLE = {ClaimState.HELD, ClaimState.REJECTED, ClaimState.SCRUBBED}


class CommandRefused(Exception):
    """The claim cannot do what was asked; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class InvalidFeeSchedule(Exception):
    def __init__(self, problems: Sequence[RowProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the fee schedule")
        self.problems = list(problems)


async def _claim_for_change(uow: SqlClaimsUnitOfWork, tenant_id: str, claim_id: str) -> ClaimRecord:
    record = await uow.claims.get(tenant_id, claim_id)
    if record is None:
        raise CommandRefused(404, "claim not found")
    await uow.lock(billing.encounter_lock(tenant_id, record.encounter_id))
    locked = await uow.claims.lock_claim(record)
    if locked is None:
        raise CommandRefused(404, "claim not found")
    await uow.claims.load_for_encounters([(tenant_id, locked.encounter_id)])
    await uow.fees.load([tenant_id])
    return locked


def _in_flight(record: ClaimRecord) -> bool:
    return record.state == ClaimState.SCRUBBED.value and record.submission_file is not None


async def correct_claim(
    uow: SqlClaimsUnitOfWork,
    *,
    tenant_id: str,
    claim_id: str,
    corrections: Sequence[LineCorrection],
    reason: str,
    principal: str,
) -> ClaimRecord:
    """Correct a claim: one the payer never took is edited, priced again from the current
    fee schedule and scrubbed again; one the payer has on file is replaced by a frequency-7
    claim (REF*F8) and is then `corrected`. Returns the claim that goes on."""
    record = await _claim_for_change(uow, tenant_id, claim_id)
    state = ClaimState(record.state)
    if state in _EDITABLE and not _in_flight(record):
        schedule = uow.fees.schedule_for(tenant_id, record.payer_id)
        try:
            edited = apply_corrections(
                await uow.claims.claim_of(record), corrections, fee_schedule=None
            )
        except InvalidCorrection as exc:
            raise CommandRefused(422, str(exc)) from None
        billing.rescrub(
            uow,
            record,
            reprice(edited, fee_schedule=schedule),
            prior=await uow.claims.prior_claims(tenant_id, record.patient_mrn),
            actor=principal,
            reason=f"corrected: {reason}",
        )
        billing.publish_state_changes(uow)
        return record
    if state in ON_FILE:
        replacement = await replace_claim(
            uow,
            record,
            payer_claim_number=record.payer_claim_number,
            corrections=corrections,
            actor=principal,
            reason=reason,
        )
        if isinstance(replacement, str):
            raise CommandRefused(422 if "correction" in replacement else 409, replacement)
        billing.publish_state_changes(uow)
        return replacement
    raise CommandRefused(409, _cannot(record, "corrected"))


async def void(
    uow: SqlClaimsUnitOfWork, *, tenant_id: str, claim_id: str, reason: str, principal: str
) -> ClaimRecord:
    """Void a claim: one the payer never took is cancelled where it stands; one it has on
    file is voided with a frequency-8 claim (REF*F8), which the payer's reversal closes."""
    record = await _claim_for_change(uow, tenant_id, claim_id)
    if can(record.state, ClaimEvent.CANCELLED) and not _in_flight(record):
        uow.claims.transition(
            record, ClaimEvent.CANCELLED, actor=principal, reason=f"cancelled: {reason}"
        )
        billing.publish_state_changes(uow)
        return record
    if not can(record.state, ClaimEvent.VOID_SENT):
        raise CommandRefused(409, _cannot(record, "voided"))
    if not record.payer_claim_number:
        raise CommandRefused(409, "no payer claim number is known for the claim: wait for it")
    sequence, void_id = await billing.next_claim_id(uow, record, VOID)
    siblings = await uow.claims.of_encounter(tenant_id, record.encounter_id)
    voiding = void_claim(
        await uow.claims.claim_of(record),
        claim_id=void_id,
        payer_claim_number=record.payer_claim_number,
    )
    booked = billing.book_claim(
        uow,
        voiding,
        sequence=sequence,
        coded_event_id=record.coded_event_id,
        later_coverages=(),
        prior=billing.prior_claims(siblings),
        actor=principal,
        reason=f"voids {record.claim_id} (payer claim {record.payer_claim_number}): {reason}",
        original_claim_id=record.claim_id,
    )
    uow.claims.transition(
        record, ClaimEvent.VOID_SENT, actor=principal, reason=f"voided by {void_id}: {reason}"
    )
    billing.publish_state_changes(uow)
    return booked


async def release(
    uow: SqlClaimsUnitOfWork, *, tenant_id: str, claim_id: str, reason: str, principal: str
) -> ClaimRecord:
    """Release a held (or front-end rejected) claim as it is: the biller overrides the
    edits it failed, and it goes to the submitter's queue."""
    record = await _claim_for_change(uow, tenant_id, claim_id)
    if not can(record.state, ClaimEvent.RELEASED):
        raise CommandRefused(409, _cannot(record, "released"))
    record.submission_file = None
    record.interchange_control_number = None
    uow.claims.transition(
        record, ClaimEvent.RELEASED, actor=principal, reason=f"released: {reason}"
    )
    billing.publish_state_changes(uow)
    return record


def _cannot(record: ClaimRecord, what: str) -> str:
    if _in_flight(record):
        return f"the claim is being sent in {record.submission_file}; wait for its answer"
    return f"a claim in state {record.state} cannot be {what}"


async def import_fee_schedule(
    uow: SqlClaimsUnitOfWork,
    *,
    tenant_id: str,
    payer_id: str,
    name: str,
    text: str,
    principal: str,
) -> FeeScheduleRecord:
    """Replace the tenant's fee schedule for a payer (`*`: every payer without its own)
    with a checked CSV; a file with any problem changes nothing and names every problem."""
    parsed = parse_fee_schedule_csv(text)
    if parsed.problems:
        raise InvalidFeeSchedule(parsed.problems)
    if not parsed.rows:
        raise InvalidFeeSchedule([RowProblem(1, "*", "the file has no price rows")])
    return await uow.fees.replace(
        tenant_id=tenant_id,
        payer_id=payer_id,
        name=name,
        rows=parsed.rows,
        imported_by=principal,
    )
