"""The claims service's pure domain: pricing, the claim, scrubbing, states, 837P and acks.

No broker, no database, no HTTP: everything here is a function of its arguments.
"""

from claimflow_claims.domain.acks import (
    Ack999,
    AckStatus,
    ClaimOutcome,
    ClaimStatus,
    TransactionSetAck,
    read_277ca,
    read_999,
)
from claimflow_claims.domain.fee_schedule import FeeSchedule, UnpricedProcedure
from claimflow_claims.domain.model import Claim, Subscriber, build_claim
from claimflow_claims.domain.scrubber import (
    ScrubEdit,
    ScrubFinding,
    ScrubRules,
    Severity,
    is_clean,
    scrub_claim,
)
from claimflow_claims.domain.states import (
    ClaimEvent,
    ClaimState,
    InvalidClaimTransition,
    advance,
)
from claimflow_claims.domain.tables import RuleTableError
from claimflow_claims.domain.x837p import Receiver, Submitter, UnwritableClaim, write_837p

__all__ = [
    "Ack999",
    "AckStatus",
    "Claim",
    "ClaimEvent",
    "ClaimOutcome",
    "ClaimState",
    "ClaimStatus",
    "FeeSchedule",
    "InvalidClaimTransition",
    "Receiver",
    "RuleTableError",
    "ScrubEdit",
    "ScrubFinding",
    "ScrubRules",
    "Severity",
    "Submitter",
    "Subscriber",
    "TransactionSetAck",
    "UnpricedProcedure",
    "UnwritableClaim",
    "advance",
    "build_claim",
    "is_clean",
    "read_277ca",
    "read_999",
    "scrub_claim",
    "write_837p",
]
