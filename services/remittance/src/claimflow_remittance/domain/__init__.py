"""Pure remittance rules: read and judge 835s, post claims and lines, work denials, keep
patient balances and compute KPIs.

Nothing here touches Kafka, a database or the network; handlers and adapters wire it in.
"""

from claimflow_remittance.domain.balance import check_balance
from claimflow_remittance.domain.crossover import SecondaryClaimNeeded, secondary_claim_needed
from claimflow_remittance.domain.denial_queue import (
    DenialActionError,
    DenialFilter,
    DenialItem,
    DenialNotFound,
    act,
    add_note,
    assign,
    denial_item,
    filter_queue,
)
from claimflow_remittance.domain.denials import (
    CATEGORIES,
    CarcRule,
    DenialCategory,
    appeal_deadline,
    carc_rule,
    categorize_denial,
    is_denial,
)
from claimflow_remittance.domain.era_model import (
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
)
from claimflow_remittance.domain.era_reader import read_835, read_835_file
from claimflow_remittance.domain.events import (
    adjustment_group,
    claim_denied_payload,
    patient_balance_payload,
    remittance_received_payload,
)
from claimflow_remittance.domain.file_assessment import FileAssessment, assess_835
from claimflow_remittance.domain.import_identity import ImportIdentity, duplicate_reason
from claimflow_remittance.domain.kpis import ClaimFact, Kpis, compute_kpis, kpis_by_payer
from claimflow_remittance.domain.line_posting import ClaimLinePosting, post_service_lines
from claimflow_remittance.domain.matching import ClaimIndex, SubmittedClaim, WorkItem
from claimflow_remittance.domain.posting import LinePosting, Posting, post_claim_payment
from claimflow_remittance.domain.problems import file_policy
from claimflow_remittance.domain.provider_account import provider_account_entries
from claimflow_remittance.domain.reversals import PostedClaim, pair_reversals, plan_reversal

__all__ = [
    "CATEGORIES",
    "Adjustment",
    "CarcRule",
    "ClaimFact",
    "ClaimIndex",
    "ClaimLinePosting",
    "ClaimPayment",
    "DenialActionError",
    "DenialCategory",
    "DenialFilter",
    "DenialItem",
    "DenialNotFound",
    "FileAssessment",
    "ImportIdentity",
    "Kpis",
    "LinePosting",
    "PatientName",
    "Payee",
    "Payer",
    "Payment",
    "PostedClaim",
    "Posting",
    "Problem",
    "Procedure",
    "ProviderAdjustment",
    "Remittance",
    "SecondaryClaimNeeded",
    "ServicePayment",
    "SubmittedClaim",
    "Trace",
    "WorkItem",
    "act",
    "add_note",
    "adjustment_group",
    "appeal_deadline",
    "assess_835",
    "assign",
    "carc_rule",
    "categorize_denial",
    "check_balance",
    "claim_denied_payload",
    "compute_kpis",
    "denial_item",
    "duplicate_reason",
    "file_policy",
    "filter_queue",
    "is_denial",
    "kpis_by_payer",
    "pair_reversals",
    "patient_balance_payload",
    "plan_reversal",
    "post_claim_payment",
    "post_service_lines",
    "provider_account_entries",
    "read_835",
    "read_835_file",
    "remittance_received_payload",
    "secondary_claim_needed",
]
