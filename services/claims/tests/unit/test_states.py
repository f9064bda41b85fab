from collections import deque

import pytest

from claimflow_claims.domain import ClaimEvent, ClaimState, InvalidClaimTransition, advance
from claimflow_claims.domain.states import TERMINAL_STATES, allowed_events, is_terminal

S, E = ClaimState, ClaimEvent


def run(state: ClaimState, *events: ClaimEvent) -> ClaimState:
    for event in events:
        state = advance(state, event)
    return state


def test_clean_claim_goes_from_created_to_paid():
    events = (
        E.SCRUB_PASSED,
        E.SUBMITTED,
        E.ACK_999_ACCEPTED,
        E.ACK_277CA_ACCEPTED,
        E.REMITTANCE_PAID,
    )
    assert run(S.CREATED, *events) is S.PAID


def test_failed_scrub_holds_the_claim_until_it_passes_or_is_released():
    assert advance(S.CREATED, E.SCRUB_FAILED) is S.HELD
    assert advance(S.HELD, E.SCRUB_FAILED) is S.HELD
    assert advance(S.HELD, E.SCRUB_PASSED) is S.READY
    assert advance(S.HELD, E.RELEASED) is S.READY


def test_held_claim_cannot_be_submitted():
    with pytest.raises(InvalidClaimTransition):
        advance(S.HELD, E.SUBMITTED)


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (S.SUBMITTED, E.ACK_999_REJECTED),
        (S.SUBMITTED, E.ACK_277CA_REJECTED),
        (S.ACCEPTED, E.ACK_277CA_REJECTED),
    ],
)
def test_rejecting_acknowledgment_rejects_the_claim(state, event):
    assert advance(state, event) is S.REJECTED


def test_rejected_claim_is_rescrubbed_and_sent_again():
    assert run(S.REJECTED, E.SCRUB_PASSED, E.SUBMITTED) is S.SUBMITTED
    assert advance(S.REJECTED, E.SCRUB_FAILED) is S.HELD


def test_277ca_acceptance_without_a_999_still_acknowledges_the_claim():
    assert advance(S.SUBMITTED, E.ACK_277CA_ACCEPTED) is S.ACKNOWLEDGED


@pytest.mark.parametrize("state", [S.SUBMITTED, S.ACCEPTED, S.ACKNOWLEDGED])
@pytest.mark.parametrize(
    ("event", "outcome"),
    [
        (E.REMITTANCE_PAID, S.PAID),
        (E.REMITTANCE_PARTIAL, S.PARTIALLY_PAID),
        (E.REMITTANCE_DENIED, S.DENIED),
    ],
)
def test_remittance_is_posted_whether_or_not_acks_were_processed(state, event, outcome):
    assert advance(state, event) is outcome


@pytest.mark.parametrize("state", [S.PAID, S.PARTIALLY_PAID, S.DENIED])
def test_late_acceptance_after_remittance_leaves_the_state_alone(state):
    assert advance(state, E.ACK_999_ACCEPTED) is state
    assert advance(state, E.ACK_277CA_ACCEPTED) is state


def test_late_rejection_after_payment_is_refused():
    with pytest.raises(InvalidClaimTransition):
        advance(S.PAID, E.ACK_277CA_REJECTED)


def test_denial_can_be_appealed_and_the_appeal_paid():
    assert run(S.DENIED, E.APPEAL_FILED, E.REMITTANCE_PAID) is S.PAID


def test_partial_payment_can_be_appealed_or_paid_in_full():
    assert advance(S.PARTIALLY_PAID, E.APPEAL_FILED) is S.APPEALED
    assert advance(S.PARTIALLY_PAID, E.REMITTANCE_PAID) is S.PAID


def test_payer_accepted_claim_can_be_replaced_or_voided():
    assert advance(S.ACKNOWLEDGED, E.REPLACED) is S.REPLACED
    assert advance(S.ACKNOWLEDGED, E.VOIDED) is S.VOIDED


def test_invalid_transition_names_the_state_and_the_event():
    with pytest.raises(InvalidClaimTransition, match=r"'created'.*'remittance_paid'") as raised:
        advance(S.CREATED, E.REMITTANCE_PAID)
    assert (raised.value.state, raised.value.event) == (S.CREATED, E.REMITTANCE_PAID)


def test_plain_strings_are_accepted_for_state_and_event():
    assert advance("ready", "submitted") is S.SUBMITTED


@pytest.mark.parametrize("state", [S.PAID, S.VOIDED, S.REPLACED])
def test_terminal_state_never_moves_to_another_state(state):
    assert {advance(state, event) for event in allowed_events(state)} <= {state}


def test_denied_only_moves_on_by_appeal():
    moves = {event for event in allowed_events(S.DENIED) if advance(S.DENIED, event) != S.DENIED}
    assert moves == {E.APPEAL_FILED}


def test_paid_denied_and_voided_are_terminal():
    assert {S.PAID, S.DENIED, S.VOIDED} <= TERMINAL_STATES
    assert is_terminal(S.PAID) and not is_terminal(S.ACKNOWLEDGED)


def test_every_state_is_reachable_from_created():
    seen, queue = {S.CREATED}, deque([S.CREATED])
    while queue:
        state = queue.popleft()
        for event in allowed_events(state):
            target = advance(state, event)
            if target not in seen:
                seen.add(target)
                queue.append(target)
    assert seen == set(ClaimState)


def test_every_non_terminal_state_has_a_way_forward():
    for state in set(ClaimState) - TERMINAL_STATES:
        assert any(advance(state, event) != state for event in allowed_events(state)), state
