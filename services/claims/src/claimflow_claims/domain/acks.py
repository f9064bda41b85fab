"""Transitional alias: the 999 and 277CA readers now live in `claimflow_claims.adapters.x12`
and what they mean in `claimflow_claims.domain.acknowledgment`. Remove this module once
`submission.py` imports from there."""

from claimflow_claims.adapters.x12.reader_277ca import read_277ca
from claimflow_claims.adapters.x12.reader_999 import read_999
from claimflow_claims.domain.acknowledgment import (
    Ack999,
    AckStatus,
    ClaimOutcome,
    ClaimStatus,
    TransactionSetAck,
)

__all__ = [
    "Ack999",
    "AckStatus",
    "ClaimOutcome",
    "ClaimStatus",
    "TransactionSetAck",
    "read_277ca",
    "read_999",
]
