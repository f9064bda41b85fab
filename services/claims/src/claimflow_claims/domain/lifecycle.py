"""What the payer's and the biller's words do to a claim: the step the state machine takes
on an 835 verdict, a denial, a worked denial or a biller's command, each with its actor and
a reason a person can read. Handlers apply these steps; they decide nothing themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from claimflow_claims.domain.states import ClaimEvent, ClaimState, can
from claimflow_shared.events.models import (
    ClaimDenied,
    DenialAction,
    DenialWorked,
    RemittanceAdjustment,
    RemittanceReceived,
)

PAYER = "payer"

REMITTANCE_EVENTS = {
    "paid": ClaimEvent.REMITTANCE_PAID,
    "partially-paid": ClaimEvent.REMITTANCE_PARTIAL,
    "denied": ClaimEvent.REMITTANCE_DENIED,
    "reversed": ClaimEvent.REMITTANCE_REVERSED,
}
# CLP02 19/20/21: processed as primary/secondary/tertiary and forwarded to the next payer
# (a crossover): that payer gets the claim from this one, we must not bill it ourselves.
CROSSOVER_STATUS_CODES = frozenset({"19", "20", "21"})

DENIAL_WORK_EVENTS = {
    DenialAction.APPEAL: ClaimEvent.APPEAL_FILED,
    DenialAction.WRITE_OFF: ClaimEvent.WRITTEN_OFF,
    DenialAction.BILL_PATIENT: ClaimEvent.BILLED_TO_PATIENT,
    DenialAction.CORRECT_AND_RESUBMIT: ClaimEvent.REPLACEMENT_SENT,
}


@dataclass(frozen=True)
class Step:
    """One transition to apply, with who caused it and why."""

    event: ClaimEvent
    actor: str
    reason: str


@dataclass(frozen=True)
class Refusal:
    """Why an event changes nothing on a claim (kept on the claim's timeline)."""

    reason: str


def _adjustment_codes(adjustments: list[RemittanceAdjustment]) -> str:
    return " ".join(sorted({f"{a.group.value}-{a.carc}" for a in adjustments}))


def describe_remittance(remittance: RemittanceReceived) -> str:
    adjustments = [
        *remittance.claim_adjustments,
        *(a for line in remittance.lines for a in line.adjustments),
    ]
    codes = _adjustment_codes(adjustments)
    reason = (
        f"835 CLP02 {remittance.status_code} ({remittance.status}): paid {remittance.paid}, "
        f"patient responsibility {remittance.patient_responsibility}"
    )
    reason += f", payer claim {remittance.payer_claim_number}"
    return reason + (f"; adjustments {codes}" if codes else "")


def remittance_step(state: ClaimState, remittance: RemittanceReceived) -> Step | Refusal:
    """The step an 835 claim payment takes the claim through, or why it takes none."""
    event = REMITTANCE_EVENTS.get(remittance.status)
    if event is None:
        return Refusal(f"835 status {remittance.status!r} is not one the claim follows")
    if not can(state, event):
        return Refusal(
            f"{describe_remittance(remittance)}; not applied: a claim in state "
            f"{state.value} cannot be {remittance.status}"
        )
    return Step(event, PAYER, describe_remittance(remittance))


def is_crossover(remittance: RemittanceReceived) -> bool:
    return remittance.status_code in CROSSOVER_STATUS_CODES


def denial_step(state: ClaimState, denial: ClaimDenied) -> Step | Refusal:
    """`claim.denied` repeats the 835's verdict with its category: it moves a claim not yet
    adjudicated (it may overtake `remittance.received`), and is only noted otherwise."""
    reason = (
        f"denied {denial.denied_amount} ({denial.category}; "
        f"{_adjustment_codes(denial.adjustments)}): {denial.recommended_action}"
    )
    if not denial.appealable:
        reason += "; not appealable"
    if not can(state, ClaimEvent.DENIAL_NOTED):
        return Refusal(f"{reason}; noted only, the claim is {state.value}")
    return Step(ClaimEvent.DENIAL_NOTED, PAYER, reason[:500])


def denial_work_step(state: ClaimState, worked: DenialWorked) -> Step | Refusal:
    """A biller's decision from the denial work queue, as a step of the denied claim."""
    event = DENIAL_WORK_EVENTS[worked.action]
    reason = f"{worked.action.value}: {worked.reason}"
    if worked.amount is not None:
        reason += f" ({worked.amount})"
    if not can(state, event):
        return Refusal(f"{reason}; not applied: the claim is {state.value}")
    return Step(event, worked.worked_by, reason[:500])
