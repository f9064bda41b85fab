"""The 835 model and reader under one name, for callers that predate the split.

New code imports `era_model` (the values) and `era_reader` (reading) directly.
"""

from claimflow_remittance.domain.era_model import (
    IMPLEMENTATION_GUIDE,
    KNOWN_CLAIM_STATUSES,
    KNOWN_GROUPS,
    ONE,
    ZERO,
    Adjustment,
    ClaimPayment,
    Party,
    PatientName,
    Payee,
    Payer,
    Payment,
    Policy,
    Problem,
    Procedure,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
    Trace,
)
from claimflow_remittance.domain.era_reader import KNOWN_SEGMENTS, read_835, read_835_file
from claimflow_remittance.domain.problems import file_policy, problem

__all__ = [
    "IMPLEMENTATION_GUIDE",
    "KNOWN_CLAIM_STATUSES",
    "KNOWN_GROUPS",
    "KNOWN_SEGMENTS",
    "ONE",
    "ZERO",
    "Adjustment",
    "ClaimPayment",
    "Party",
    "PatientName",
    "Payee",
    "Payer",
    "Payment",
    "Policy",
    "Problem",
    "Procedure",
    "ProviderAdjustment",
    "Remittance",
    "ServicePayment",
    "Trace",
    "file_policy",
    "problem",
    "read_835",
    "read_835_file",
]
