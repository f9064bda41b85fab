"""What the clearinghouse's answer to one interchange means for each claim in it: the 999
for the file, the 277CA per claim, and claims it already held from an earlier attempt."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from claimflow_claims.domain.acks import Ack999, ClaimOutcome, ClaimStatus
from claimflow_claims.domain.states import ClaimEvent


@dataclass(frozen=True)
class ClaimAcknowledgment:
    events: tuple[ClaimEvent, ...]  # applied after SUBMITTED, in order
    reasons: tuple[str, ...] = ()
    rejected_by: str | None = None  # "999" or "277CA"

    @property
    def submitted(self) -> bool:
        return self.rejected_by is None


def acknowledge_claims(
    claim_ids: Iterable[str],
    *,
    ack_999: Ack999,
    group_control_number: str,
    transaction_control_number: str,
    statuses_277ca: Iterable[ClaimStatus] = (),
    already_held: Iterable[str] = (),
) -> dict[str, ClaimAcknowledgment]:
    verdict = ack_999.for_transaction(
        group_control_number=group_control_number, control_number=transaction_control_number
    )
    front_end = {status.claim_id: status for status in statuses_277ca}
    held = set(already_held)
    outcomes: dict[str, ClaimAcknowledgment] = {}
    for claim_id in claim_ids:
        if claim_id in held:
            # A resubmission after a crash: the clearinghouse took this claim the first time,
            # and its duplicate check answers with the original 999 (not our ST).
            outcomes[claim_id] = ClaimAcknowledgment(
                (ClaimEvent.ACK_999_ACCEPTED,),
                ("clearinghouse already held this claim from an earlier attempt",),
            )
        elif verdict is None or not verdict.accepted:
            reasons = verdict.reasons() if verdict else ["999 did not acknowledge our ST"]
            outcomes[claim_id] = ClaimAcknowledgment(
                (ClaimEvent.ACK_999_REJECTED,), tuple(reasons or ["999 rejected"]), "999"
            )
        elif (status := front_end.get(claim_id)) is None or (
            status.outcome is ClaimOutcome.PENDING
        ):
            outcomes[claim_id] = ClaimAcknowledgment(
                (ClaimEvent.ACK_999_ACCEPTED,), (f"999 {verdict.status.value}",)
            )
        elif status.outcome is ClaimOutcome.REJECTED:
            outcomes[claim_id] = ClaimAcknowledgment(
                (ClaimEvent.ACK_999_ACCEPTED, ClaimEvent.ACK_277CA_REJECTED),
                tuple(status.reasons() or ["277CA rejected"]),
                "277CA",
            )
        else:
            outcomes[claim_id] = ClaimAcknowledgment(
                (ClaimEvent.ACK_999_ACCEPTED, ClaimEvent.ACK_277CA_ACCEPTED),
                ("999 accepted", "277CA accepted"),
            )
    return outcomes
