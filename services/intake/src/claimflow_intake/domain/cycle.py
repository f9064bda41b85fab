"""Where an encounter stands across the revenue cycle, as intake learns it from the events the
other stages publish (intake never asks them): accepted or amended here, then coded or
queried, a claim held, submitted, rejected, and the payer's verdict.

The events of one encounter travel on different topics, so intake may read a later stage's
event before an earlier one's; the status is therefore the latest fact by the time it
happened (`occurred_at`), a tie going to the later stage, never simply the last one read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class CycleStatus(StrEnum):
    ACCEPTED = "accepted"
    AMENDED = "amended"
    CODED = "coded"
    CODING_QUERY = "coding-query"
    CLAIM_HELD = "claim-held"
    SUBMITTED = "submitted"
    CLAIM_REJECTED = "claim-rejected"
    REMITTED = "remitted"
    PAID = "paid"
    PARTIALLY_PAID = "partially-paid"
    DENIED = "denied"


# Order along the cycle, for events that happened at the same instant.
_RANK = {status: rank for rank, status in enumerate(CycleStatus)}

# The payer has decided: the cycle ends here (a denial may still be worked or appealed).
SETTLED = frozenset({CycleStatus.PAID, CycleStatus.PARTIALLY_PAID, CycleStatus.DENIED})
# The automation stopped and a person must act: a coder query, a held or rejected claim.
WAITING_ON_PEOPLE = frozenset(
    {CycleStatus.CODING_QUERY, CycleStatus.CLAIM_HELD, CycleStatus.CLAIM_REJECTED}
)

_REMITTANCE = {
    "paid": CycleStatus.PAID,
    "partially-paid": CycleStatus.PARTIALLY_PAID,
    "denied": CycleStatus.DENIED,
}


@dataclass(frozen=True)
class CycleState:
    status: CycleStatus
    at: datetime
    claim_id: str | None = None

    @property
    def stopped(self) -> bool:
        """Nothing more happens without the payer or a person: settled or waiting."""
        return self.status in SETTLED or self.status in WAITING_ON_PEOPLE


def advance_cycle(
    current: CycleState, status: CycleStatus, at: datetime, *, claim_id: str | None = None
) -> CycleState:
    """The state after learning that `status` happened at `at`: the later fact wins."""
    if (_utc(at), _RANK[status]) >= (_utc(current.at), _RANK[current.status]):
        return CycleState(status, at, claim_id or current.claim_id)
    return CycleState(current.status, current.at, current.claim_id or claim_id)


def _utc(moment: datetime) -> datetime:
    """Databases may hand back UTC instants without their zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def remittance_status(status: str) -> CycleStatus:
    """The cycle status a remittance's claim status stands for (reversals and others are
    just "remitted")."""
    return _REMITTANCE.get(status, CycleStatus.REMITTED)


def rejection_status(stage: str) -> CycleStatus:
    """A scrubber finding holds the claim before it leaves; any other rejection (999,
    277CA) comes back from outside."""
    return CycleStatus.CLAIM_HELD if stage == "scrubber" else CycleStatus.CLAIM_REJECTED
