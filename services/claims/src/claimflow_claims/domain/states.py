"""The one claim state machine: where a claim stands between creation and final payment."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ClaimState(StrEnum):
    CREATED = "created"
    HELD = "held"
    READY = "ready"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ACKNOWLEDGED = "acknowledged"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    APPEALED = "appealed"
    VOIDED = "voided"
    REPLACED = "replaced"


class ClaimEvent(StrEnum):
    SCRUB_PASSED = "scrub_passed"
    SCRUB_FAILED = "scrub_failed"
    RELEASED = "released"
    SUBMITTED = "submitted"
    ACK_999_ACCEPTED = "ack_999_accepted"
    ACK_999_REJECTED = "ack_999_rejected"
    ACK_277CA_ACCEPTED = "ack_277ca_accepted"
    ACK_277CA_REJECTED = "ack_277ca_rejected"
    REMITTANCE_PAID = "remittance_paid"
    REMITTANCE_PARTIAL = "remittance_partial"
    REMITTANCE_DENIED = "remittance_denied"
    APPEAL_FILED = "appeal_filed"
    VOIDED = "voided"
    REPLACED = "replaced"


class InvalidClaimTransition(ValueError):
    """An event that cannot happen to a claim in its current state."""

    def __init__(self, state: ClaimState, event: ClaimEvent):
        self.state = state
        self.event = event
        super().__init__(f"claim in state {state.value!r} cannot take event {event.value!r}")


S, E = ClaimState, ClaimEvent

# Before submission: scrubbing, the held queue (a biller may release a held claim by hand).
_PRE_SUBMISSION = [
    (S.CREATED, E.SCRUB_PASSED, S.READY),
    (S.CREATED, E.SCRUB_FAILED, S.HELD),
    (S.HELD, E.SCRUB_PASSED, S.READY),
    (S.HELD, E.SCRUB_FAILED, S.HELD),
    (S.HELD, E.RELEASED, S.READY),
    (S.READY, E.SCRUB_FAILED, S.HELD),
    (S.READY, E.SUBMITTED, S.SUBMITTED),
    # A front-end rejection never reached adjudication: fix it and send it again as an original.
    (S.REJECTED, E.SCRUB_PASSED, S.READY),
    (S.REJECTED, E.SCRUB_FAILED, S.HELD),
]

# Acknowledgments. A 277CA proves the 999 passed, so a lost 999 does not strand the claim.
_ACKNOWLEDGMENTS = [
    (S.SUBMITTED, E.ACK_999_ACCEPTED, S.ACCEPTED),
    (S.SUBMITTED, E.ACK_999_REJECTED, S.REJECTED),
    (S.SUBMITTED, E.ACK_277CA_ACCEPTED, S.ACKNOWLEDGED),
    (S.SUBMITTED, E.ACK_277CA_REJECTED, S.REJECTED),
    (S.ACCEPTED, E.ACK_277CA_ACCEPTED, S.ACKNOWLEDGED),
    (S.ACCEPTED, E.ACK_277CA_REJECTED, S.REJECTED),
]

# Acceptances that arrive after a later stage (an 835 can be posted before the acks are
# read) change nothing: the later stage already proves them.
_LATE_ACCEPTANCES = [
    (state, event, state)
    for state, events in {
        S.ACKNOWLEDGED: (E.ACK_999_ACCEPTED,),
        S.PAID: (E.ACK_999_ACCEPTED, E.ACK_277CA_ACCEPTED),
        S.PARTIALLY_PAID: (E.ACK_999_ACCEPTED, E.ACK_277CA_ACCEPTED),
        S.DENIED: (E.ACK_999_ACCEPTED, E.ACK_277CA_ACCEPTED),
        S.APPEALED: (E.ACK_999_ACCEPTED, E.ACK_277CA_ACCEPTED),
    }.items()
    for event in events
]

_REMITTANCE = [
    (state, event, outcome)
    for state in (S.SUBMITTED, S.ACCEPTED, S.ACKNOWLEDGED, S.APPEALED)
    for event, outcome in (
        (E.REMITTANCE_PAID, S.PAID),
        (E.REMITTANCE_PARTIAL, S.PARTIALLY_PAID),
        (E.REMITTANCE_DENIED, S.DENIED),
    )
] + [
    (S.PARTIALLY_PAID, E.REMITTANCE_PAID, S.PAID),
    (S.PARTIALLY_PAID, E.APPEAL_FILED, S.APPEALED),
    (S.DENIED, E.APPEAL_FILED, S.APPEALED),
]

_CORRECTIONS = [
    *(
        (state, E.VOIDED, S.VOIDED)
        for state in (
            S.CREATED,
            S.HELD,
            S.READY,
            S.REJECTED,
            S.SUBMITTED,
            S.ACCEPTED,
            S.ACKNOWLEDGED,
            S.PARTIALLY_PAID,
        )
    ),
    # Only a claim the payer has on file can be replaced by a frequency-7 claim.
    *((state, E.REPLACED, S.REPLACED) for state in (S.ACKNOWLEDGED, S.PARTIALLY_PAID)),
]

TRANSITIONS: Mapping[tuple[ClaimState, ClaimEvent], ClaimState] = {
    (state, event): target
    for state, event, target in (
        *_PRE_SUBMISSION,
        *_ACKNOWLEDGMENTS,
        *_LATE_ACCEPTANCES,
        *_REMITTANCE,
        *_CORRECTIONS,
    )
}

# Nothing moves a terminal claim to another state, except that a denial can be appealed.
TERMINAL_STATES = frozenset({S.PAID, S.DENIED, S.VOIDED, S.REPLACED})

del S, E


def advance(state: ClaimState, event: ClaimEvent) -> ClaimState:
    """The state after `event`; raises `InvalidClaimTransition` when it cannot happen."""
    try:
        return TRANSITIONS[(ClaimState(state), ClaimEvent(event))]
    except KeyError:
        raise InvalidClaimTransition(ClaimState(state), ClaimEvent(event)) from None


def allowed_events(state: ClaimState) -> frozenset[ClaimEvent]:
    """Events a claim in `state` can take, e.g. for the buttons of a claim worklist."""
    return frozenset(event for (source, event) in TRANSITIONS if source == state)


def is_terminal(state: ClaimState) -> bool:
    return state in TERMINAL_STATES
