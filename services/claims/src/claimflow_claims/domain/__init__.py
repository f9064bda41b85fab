"""The claims service's pure domain: pricing, the claim, scrubbing, states and what the
acknowledgments mean. X12 reading and writing is in `claimflow_claims.adapters.x12`.

No broker, no database, no HTTP: everything here is a function of its arguments.
"""

from claimflow_claims.domain.acknowledgment import (
    Ack999,
    AckStatus,
    ClaimAcknowledgment,
    ClaimOutcome,
    ClaimStatus,
    TransactionSetAck,
    acknowledge_claims,
)
from claimflow_claims.domain.fee_schedule import FeeSchedule, UnpricedProcedure
from claimflow_claims.domain.institutional import (
    AttendingProvider,
    InstitutionalDetails,
    choose_claim_type,
)
from claimflow_claims.domain.model import (
    Claim,
    OtherPayer,
    PriorAdjustment,
    PriorLinePayment,
    ServiceLine,
    Subscriber,
    build_claim,
)
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

__all__ = [
    "Ack999",
    "AckStatus",
    "AttendingProvider",
    "Claim",
    "ClaimAcknowledgment",
    "ClaimEvent",
    "ClaimOutcome",
    "ClaimState",
    "ClaimStatus",
    "FeeSchedule",
    "InstitutionalDetails",
    "InvalidClaimTransition",
    "OtherPayer",
    "PriorAdjustment",
    "PriorLinePayment",
    "RuleTableError",
    "ScrubEdit",
    "ScrubFinding",
    "ScrubRules",
    "ServiceLine",
    "Severity",
    "Subscriber",
    "TransactionSetAck",
    "UnpricedProcedure",
    "acknowledge_claims",
    "advance",
    "build_claim",
    "choose_claim_type",
    "is_clean",
    "scrub_claim",
]
