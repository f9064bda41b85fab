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


def test_a_999_alone_leaves_the_claim_submitted_and_the_277ca_accepts_it():
    assert run(S.CREATED, E.SCRUB_PASSED, E.SUBMITTED, E.ACK_999_ACCEPTED) is S.SUBMITTED
    assert advance(S.SUBMITTED, E.ACK_277CA_ACCEPTED) is S.ACCEPTED


def test_failed_scrub_holds_the_claim_until_edited_and_scrubbed_again_or_released():
    assert advance(S.CREATED, E.SCRUB_FAILED) is S.HELD
    assert run(S.HELD, E.EDITED, E.SCRUB_PASSED) is S.SCRUBBED
    assert run(S.HELD, E.EDITED, E.SCRUB_FAILED) is S.HELD
    assert advance(S.HELD, E.RELEASED) is S.SCRUBBED


def test_held_claim_cannot_be_submitted():
    with pytest.raises(InvalidClaimTransition):
        advance(S.HELD, E.SUBMITTED)


def test_a_claim_that_cannot_be_sent_is_held():
    assert advance(S.SCRUBBED, E.SEND_FAILED) is S.HELD


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


def test_rejected_claim_is_edited_scrubbed_and_sent_again():
    assert run(S.REJECTED, E.EDITED, E.SCRUB_PASSED, E.SUBMITTED) is S.SUBMITTED
    assert run(S.REJECTED, E.EDITED, E.SCRUB_FAILED) is S.HELD


@pytest.mark.parametrize("state", [S.SUBMITTED, S.ACCEPTED])
@pytest.mark.parametrize(
    ("event", "outcome"),
    [
        (E.REMITTANCE_PAID, S.PAID),
        (E.REMITTANCE_PARTIAL, S.PARTIALLY_PAID),
        (E.REMITTANCE_DENIED, S.DENIED),
    ],
)
def test_remittance_is_posted_whether_or_not_the_277ca_came(state, event, outcome):
    assert advance(state, event) is outcome


@pytest.mark.parametrize("state", [S.PAID, S.PARTIALLY_PAID, S.DENIED])
def test_late_acceptance_after_remittance_leaves_the_state_alone(state):
    assert advance(state, E.ACK_999_ACCEPTED) is state
    assert advance(state, E.ACK_277CA_ACCEPTED) is state


def test_late_rejection_after_payment_is_refused():
    with pytest.raises(InvalidClaimTransition):
        advance(S.PAID, E.ACK_277CA_REJECTED)


def test_partial_payment_can_be_paid_in_full_by_a_later_835():
    assert advance(S.PARTIALLY_PAID, E.REMITTANCE_PAID) is S.PAID


@pytest.mark.parametrize("state", [S.PAID, S.PARTIALLY_PAID, S.DENIED, S.APPEALED])
def test_a_reversal_takes_back_any_adjudication_and_the_next_835_readjudicates(state):
    assert advance(state, E.REMITTANCE_REVERSED) is S.REVERSED
    assert run(state, E.REMITTANCE_REVERSED, E.REMITTANCE_PARTIAL) is S.PARTIALLY_PAID


def test_a_reversal_before_any_payment_is_refused():
    with pytest.raises(InvalidClaimTransition):
        advance(S.ACCEPTED, E.REMITTANCE_REVERSED)


def test_denial_can_be_appealed_and_the_appeal_paid():
    assert run(S.DENIED, E.APPEAL_FILED, E.REMITTANCE_PAID) is S.PAID


def test_a_denial_noted_before_its_835_denies_the_claim_once():
    assert run(S.ACCEPTED, E.DENIAL_NOTED, E.REMITTANCE_DENIED) is S.DENIED


def test_a_denial_noted_on_a_paid_claim_is_not_a_transition():
    with pytest.raises(InvalidClaimTransition):
        advance(S.PAID, E.DENIAL_NOTED)


@pytest.mark.parametrize("state", [S.ACCEPTED, S.PAID, S.PARTIALLY_PAID, S.DENIED])
def test_a_claim_on_file_can_be_corrected_or_voided(state):
    assert advance(state, E.REPLACEMENT_SENT) is S.CORRECTED
    assert advance(state, E.VOID_SENT) is S.VOIDED


@pytest.mark.parametrize("state", [S.HELD, S.SCRUBBED, S.REJECTED])
def test_a_claim_the_payer_never_took_is_cancelled_not_voided(state):
    assert advance(state, E.CANCELLED) is S.VOIDED
    with pytest.raises(InvalidClaimTransition):
        advance(state, E.VOID_SENT)


def test_a_void_claim_is_closed_by_the_reversal_of_its_original():
    assert run(S.SUBMITTED, E.ACK_277CA_ACCEPTED, E.ORIGINAL_REVERSED) is S.CLOSED


@pytest.mark.parametrize("event", [E.WRITTEN_OFF, E.BILLED_TO_PATIENT])
def test_worked_denials_close_the_claim(event):
    assert advance(S.DENIED, event) is S.CLOSED


@pytest.mark.parametrize("state", [S.CORRECTED, S.VOIDED, S.CLOSED])
def test_the_payers_later_word_on_a_finished_claim_is_recorded_without_moving_it(state):
    assert advance(state, E.REMITTANCE_REVERSED) is state
    assert advance(state, E.REMITTANCE_PAID) is state


def test_invalid_transition_names_the_state_and_the_event():
    with pytest.raises(InvalidClaimTransition, match=r"'created'.*'remittance_paid'") as raised:
        advance(S.CREATED, E.REMITTANCE_PAID)
    assert (raised.value.state, raised.value.event) == (S.CREATED, E.REMITTANCE_PAID)


def test_plain_strings_are_accepted_for_state_and_event():
    assert advance("scrubbed", "submitted") is S.SUBMITTED


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
def test_terminal_state_never_moves_to_another_state(state):
    assert {advance(state, event) for event in allowed_events(state)} <= {state}


def test_corrected_voided_and_closed_are_terminal():
    assert {S.CORRECTED, S.VOIDED, S.CLOSED} == TERMINAL_STATES
    assert is_terminal(S.VOIDED) and not is_terminal(S.PAID)


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
