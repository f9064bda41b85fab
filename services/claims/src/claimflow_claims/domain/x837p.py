"""Transitional alias: the 837P writer now lives in
`claimflow_claims.adapters.x12.writer_837p`. Remove this module once `submission.py`
imports from there."""

from claimflow_claims.adapters.x12.writer_837p import (
    FUNCTIONAL_ID,
    IMPLEMENTATION_GUIDE,
    Receiver,
    Submitter,
    UnwritableClaim,
    write_837p,
)

__all__ = [
    "FUNCTIONAL_ID",
    "IMPLEMENTATION_GUIDE",
    "Receiver",
    "Submitter",
    "UnwritableClaim",
    "write_837p",
]
