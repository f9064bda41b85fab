"""Pure remittance rules: read 835s, check they balance, post claim payments, categorise denials.

Nothing here touches Kafka, a database or the network; handlers and adapters wire it in.
"""

from claimflow_remittance.domain.balance import check_balance
from claimflow_remittance.domain.denials import (
    CarcRule,
    DenialCategory,
    carc_rule,
    categorize_denial,
    is_denial,
)
from claimflow_remittance.domain.era import (
    Adjustment,
    ClaimPayment,
    PatientName,
    Payee,
    Payer,
    Payment,
    Problem,
    Procedure,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
    Trace,
    read_835,
    read_835_file,
)
from claimflow_remittance.domain.events import (
    adjustment_group,
    claim_denied_payload,
    patient_balance_payload,
    remittance_received_payload,
)
from claimflow_remittance.domain.posting import LinePosting, Posting, post_claim_payment

__all__ = [
    "Adjustment",
    "CarcRule",
    "ClaimPayment",
    "DenialCategory",
    "LinePosting",
    "PatientName",
    "Payee",
    "Payer",
    "Payment",
    "Posting",
    "Problem",
    "Procedure",
    "ProviderAdjustment",
    "Remittance",
    "ServicePayment",
    "Trace",
    "adjustment_group",
    "carc_rule",
    "categorize_denial",
    "check_balance",
    "claim_denied_payload",
    "is_denial",
    "patient_balance_payload",
    "post_claim_payment",
    "read_835",
    "read_835_file",
    "remittance_received_payload",
]
