"""The one claim state machine: where a claim stands from creation until nothing more is
owed on it. Handlers and commands ask it; they never decide a transition themselves.

    created → scrubbed | held → submitted → accepted | rejected
            → adjudicated: paid | partially_paid | denied | reversed
            → corrected | voided | appealed → closed
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ClaimState(StrEnum):
    CREATED = "created"
    HELD = "held"
    SCRUBBED = "scrubbed"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    REVERSED = "reversed"
    APPEALED = "appealed"
    CORRECTED = "corrected"
    VOIDED = "voided"
    CLOSED = "closed"


class ClaimEvent(StrEnum):
    SCRUB_PASSED = "scrub_passed"
    SCRUB_FAILED = "scrub_failed"
    RELEASED = "released"
    EDITED = "edited"
    SEND_FAILED = "send_failed"
    SUBMITTED = "submitted"
    ACK_999_ACCEPTED = "ack_999_accepted"
    ACK_999_REJECTED = "ack_999_rejected"
    ACK_277CA_ACCEPTED = "ack_277ca_accepted"
    ACK_277CA_REJECTED = "ack_277ca_rejected"
    REMITTANCE_PAID = "remittance_paid"
    REMITTANCE_PARTIAL = "remittance_partial"
    REMITTANCE_DENIED = "remittance_denied"
    REMITTANCE_REVERSED = "remittance_reversed"
    DENIAL_NOTED = "denial_noted"
    NEXT_PAYER_BILLED = "next_payer_billed"
    APPEAL_FILED = "appeal_filed"
    REPLACEMENT_SENT = "replacement_sent"
    VOID_SENT = "void_sent"
    CANCELLED = "cancelled"
    ORIGINAL_REVERSED = "original_reversed"
    WRITTEN_OFF = "written_off"
    BILLED_TO_PATIENT = "billed_to_patient"


class InvalidClaimTransition(ValueError):
    """An event that cannot happen to a claim in its current state."""

    def __init__(self, state: ClaimState, event: ClaimEvent):
        self.state = state
        self.event = event
        super().__init__(f"claim in state {state.value!r} cannot take event {event.value!r}")


S, E = ClaimState, ClaimEvent

# Before anything leaves: the scrubber decides, the held queue waits for a biller. A biller
# edits a claim back to `created` (it is scrubbed again) or releases it as it is, overriding
# the edits it failed. A claim that cannot be sent is held with the reason.
_PRE_SUBMISSION = [
    (S.CREATED, E.SCRUB_PASSED, S.SCRUBBED),
    (S.CREATED, E.SCRUB_FAILED, S.HELD),
    (S.HELD, E.EDITED, S.CREATED),
    (S.HELD, E.RELEASED, S.SCRUBBED),
    (S.SCRUBBED, E.EDITED, S.CREATED),
    (S.SCRUBBED, E.SEND_FAILED, S.HELD),
    (S.SCRUBBED, E.SUBMITTED, S.SUBMITTED),
    # A front-end rejection never reached adjudication: fix it and send it again as it was.
    (S.REJECTED, E.EDITED, S.CREATED),
    (S.REJECTED, E.RELEASED, S.SCRUBBED),
]

# The 999 proves the file was readable, the 277CA that the payer took the claim: only then
# is it accepted. Without a 277CA the claim waits in `submitted` until the 835.
_ACKNOWLEDGMENTS = [
    (S.SUBMITTED, E.ACK_999_ACCEPTED, S.SUBMITTED),
    (S.SUBMITTED, E.ACK_999_REJECTED, S.REJECTED),
    (S.SUBMITTED, E.ACK_277CA_ACCEPTED, S.ACCEPTED),
    (S.SUBMITTED, E.ACK_277CA_REJECTED, S.REJECTED),
    (S.ACCEPTED, E.ACK_999_ACCEPTED, S.ACCEPTED),
    (S.ACCEPTED, E.ACK_277CA_ACCEPTED, S.ACCEPTED),
    (S.ACCEPTED, E.ACK_277CA_REJECTED, S.REJECTED),
]

_ADJUDICATED = (S.PAID, S.PARTIALLY_PAID, S.DENIED, S.REVERSED, S.APPEALED)
_OUTCOMES = {
    E.REMITTANCE_PAID: S.PAID,
    E.REMITTANCE_PARTIAL: S.PARTIALLY_PAID,
    E.REMITTANCE_DENIED: S.DENIED,
}

# An acceptance that arrives after the 835 (a late 277CA) changes nothing: the 835 proves it.
_LATE_ACCEPTANCES = [
    (state, event, state)
    for state in _ADJUDICATED
    for event in (E.ACK_999_ACCEPTED, E.ACK_277CA_ACCEPTED)
]

# Every 835 states the payer's current adjudication of the claim: the first one, a later
# adjustment (partially paid → paid), the decision on an appeal, or the re-adjudication that
# follows a reversal. The payer takes a payment back only with a reversal (CLP02 22).
_REMITTANCE = [
    *(
        (state, event, outcome)
        for state in (S.SUBMITTED, S.ACCEPTED, *_ADJUDICATED)
        for event, outcome in _OUTCOMES.items()
    ),
    *((state, E.REMITTANCE_REVERSED, S.REVERSED) for state in _ADJUDICATED),
    # `claim.denied` may overtake `remittance.received` (another topic): the same verdict.
    *((state, E.DENIAL_NOTED, S.DENIED) for state in (S.SUBMITTED, S.ACCEPTED, S.APPEALED)),
    (S.DENIED, E.DENIAL_NOTED, S.DENIED),
    # The patient's share goes to the next payer on a claim of its own; this one is done with.
    (S.PAID, E.NEXT_PAYER_BILLED, S.PAID),
    (S.PARTIALLY_PAID, E.NEXT_PAYER_BILLED, S.PARTIALLY_PAID),
]

# What a biller does after adjudication. A replacement (frequency 7) or a void (8) carries
# the payer's claim number, so only a claim the payer has on file can be corrected or voided;
# before that, a claim is edited (above) or cancelled where it stands.
_ON_FILE = (S.ACCEPTED, *_ADJUDICATED)
_AFTER_ADJUDICATION = [
    *((state, E.REPLACEMENT_SENT, S.CORRECTED) for state in _ON_FILE),
    *((state, E.VOID_SENT, S.VOIDED) for state in _ON_FILE),
    *((state, E.CANCELLED, S.VOIDED) for state in (S.CREATED, S.HELD, S.SCRUBBED, S.REJECTED)),
    (S.DENIED, E.APPEAL_FILED, S.APPEALED),
    (S.PARTIALLY_PAID, E.APPEAL_FILED, S.APPEALED),
    *(
        (state, event, S.CLOSED)
        for state in (S.PAID, S.PARTIALLY_PAID, S.DENIED, S.APPEALED)
        for event in (E.WRITTEN_OFF, E.BILLED_TO_PATIENT)
    ),
    # A void claim gets no 835 of its own: the payer reverses the original, and that closes it.
    (S.SUBMITTED, E.ORIGINAL_REVERSED, S.CLOSED),
    (S.ACCEPTED, E.ORIGINAL_REVERSED, S.CLOSED),
]

# A corrected, voided or closed claim is history, but the payer's later word on it (the
# reversal a replacement or void causes, a late payment) is still recorded on its timeline.
_HISTORY = [
    (state, event, state)
    for state in (S.CORRECTED, S.VOIDED, S.CLOSED)
    for event in (
        E.REMITTANCE_PAID,
        E.REMITTANCE_PARTIAL,
        E.REMITTANCE_DENIED,
        E.REMITTANCE_REVERSED,
        E.DENIAL_NOTED,
        E.ACK_999_ACCEPTED,
        E.ACK_277CA_ACCEPTED,
    )
]

TRANSITIONS: Mapping[tuple[ClaimState, ClaimEvent], ClaimState] = {
    (state, event): target
    for state, event, target in (
        *_PRE_SUBMISSION,
        *_ACKNOWLEDGMENTS,
        *_LATE_ACCEPTANCES,
        *_REMITTANCE,
        *_AFTER_ADJUDICATION,
        *_HISTORY,
    )
}

# Steps another event already announces: the `claim.held`, `claim.submitted`,
# `claim.accepted` or `claim.rejected` published in the same transaction (a clean claim's
# creation is announced by its `claim.submitted`), or the payer's verdict the claim follows
# (`remittance.received`, `claim.denied`). `claim.state-changed` carries every other step (a
# biller's correction, void, release, appeal or write-off, a void closed by the payer's
# reversal, the next payer billed), so each step is published once; all of them are on the
# claim's timeline. Publishing each step twice doubled the claims stage's CPU per encounter.
ANNOUNCED_ELSEWHERE = frozenset(
    {
        "created",
        E.SCRUB_PASSED,
        E.SCRUB_FAILED,
        E.SEND_FAILED,
        E.SUBMITTED,
        E.ACK_999_ACCEPTED,
        E.ACK_999_REJECTED,
        E.ACK_277CA_ACCEPTED,
        E.ACK_277CA_REJECTED,
        E.REMITTANCE_PAID,
        E.REMITTANCE_PARTIAL,
        E.REMITTANCE_DENIED,
        E.REMITTANCE_REVERSED,
        E.DENIAL_NOTED,
    }
)

# Nothing moves these claims to another state any more.
TERMINAL_STATES = frozenset({S.CORRECTED, S.VOIDED, S.CLOSED})
# States a biller has to act on (the work queues).
NEEDS_WORK = frozenset({S.HELD, S.REJECTED, S.DENIED})
# States in which the payer has the claim on file (it has a payer claim number).
ON_FILE = frozenset(_ON_FILE)

del S, E


def advance(state: ClaimState, event: ClaimEvent) -> ClaimState:
    """The state after `event`; raises `InvalidClaimTransition` when it cannot happen."""
    try:
        return TRANSITIONS[(ClaimState(state), ClaimEvent(event))]
    except KeyError:
        raise InvalidClaimTransition(ClaimState(state), ClaimEvent(event)) from None


def can(state: ClaimState | str, event: ClaimEvent) -> bool:
    return (ClaimState(state), event) in TRANSITIONS


def allowed_events(state: ClaimState) -> frozenset[ClaimEvent]:
    """Events a claim in `state` can take, e.g. for the buttons of a claim worklist."""
    return frozenset(event for (source, event) in TRANSITIONS if source == state)


def is_terminal(state: ClaimState) -> bool:
    return state in TERMINAL_STATES
