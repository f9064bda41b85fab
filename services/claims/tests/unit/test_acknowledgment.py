"""How the clearinghouse's answer to an interchange moves each claim."""

from claimflow_claims.domain.acknowledgment import (
    Ack999,
    AckStatus,
    ClaimOutcome,
    ClaimStatus,
    GroupAck,
    StatusCode,
    TransactionSetAck,
    acknowledge_claims,
)
from claimflow_claims.domain.states import ClaimEvent


def _ack(status: AckStatus, group: str = "57", st: str = "0001") -> Ack999:
    ts = TransactionSetAck("837", st, group, status)
    return Ack999(groups=(GroupAck("HC", group, "005010X222A1", status, (ts,)),))


def _acknowledge(ack: Ack999, **kw):
    return acknowledge_claims(
        ["C1", "C2"],
        ack_999=ack,
        group_control_number="57",
        transaction_control_number="0001",
        **kw,
    )


def test_an_accepted_file_submits_every_claim():
    outcomes = _acknowledge(_ack(AckStatus.ACCEPTED))
    assert all(o.submitted for o in outcomes.values())
    assert outcomes["C1"].events == (ClaimEvent.ACK_999_ACCEPTED,)


def test_a_rejected_file_rejects_every_claim_at_the_999():
    outcomes = _acknowledge(_ack(AckStatus.REJECTED))
    assert {o.rejected_by for o in outcomes.values()} == {"999"}
    assert outcomes["C2"].events == (ClaimEvent.ACK_999_REJECTED,)


def test_a_999_for_another_file_is_not_an_acceptance():
    outcomes = _acknowledge(_ack(AckStatus.ACCEPTED, group="12"))
    assert outcomes["C1"].rejected_by == "999"
    assert "did not acknowledge" in outcomes["C1"].reasons[0]


def test_claims_the_clearinghouse_already_held_count_as_submitted_even_with_an_old_999():
    outcomes = _acknowledge(_ack(AckStatus.ACCEPTED, group="12"), already_held={"C1", "C2"})
    assert all(o.submitted for o in outcomes.values())


def test_the_277ca_rejects_one_claim_and_acknowledges_the_other():
    statuses = [
        ClaimStatus("C1", ClaimOutcome.REJECTED, (StatusCode("A7", "562"),)),
        ClaimStatus("C2", ClaimOutcome.ACCEPTED, (StatusCode("A1", "20"),)),
    ]
    outcomes = _acknowledge(_ack(AckStatus.ACCEPTED), statuses_277ca=statuses)
    assert outcomes["C1"].rejected_by == "277CA"
    assert outcomes["C1"].events[-1] is ClaimEvent.ACK_277CA_REJECTED
    assert outcomes["C2"].submitted
    assert outcomes["C2"].events[-1] is ClaimEvent.ACK_277CA_ACCEPTED
