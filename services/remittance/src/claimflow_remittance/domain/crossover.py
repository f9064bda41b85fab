"""Crossovers: when a primary payer's remittance means a secondary claim must follow, either
because the payer forwarded the claim itself or because the patient has another coverage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from claimflow_remittance.domain.era_model import (
    Adjustment,
    ClaimPayment,
    Party,
    Remittance,
)

# CLP02 19-21: processed as primary, secondary or tertiary and forwarded to another payer.
FORWARDED_STATUSES = frozenset({"19", "20", "21"})
# Statuses after which the next payer in line may owe something.
PROCESSED_STATUSES = frozenset({"1", "2", "19", "20"})
# Claim-level remarks (MOA/MIA) by which Medicare says it sent the claim on: MA18 to the
# supplemental insurer, MA07 to Medicaid, N89 to a payer named elsewhere.
FORWARDING_REMARKS = frozenset({"MA18", "MA07", "N89"})

SecondaryAction = Literal["await-crossover", "submit-secondary"]


@dataclass(frozen=True)
class SecondaryClaimNeeded:
    """What the claims stage needs to start the next payer's claim (837 loops 2320/2430)."""

    claim_id: str
    action: SecondaryAction
    reason: str
    primary_payer_id: str | None
    primary_payer_name: str
    primary_payer_claim_number: str
    primary_paid: Decimal
    patient_responsibility: Decimal
    adjudication_date: date | None
    claim_adjustments: tuple[Adjustment, ...]
    line_adjustments: tuple[tuple[str, tuple[Adjustment, ...]], ...]  # (SVC code, CAS)
    crossover_carrier: Party | None = None


def secondary_claim_needed(
    remittance: Remittance, payment: ClaimPayment, *, has_secondary_coverage: bool = False
) -> SecondaryClaimNeeded | None:
    """A "secondary claim needed" result when the remittance calls for one, else None."""
    decided = next_payer_action(payment, has_secondary_coverage=has_secondary_coverage)
    if decided is None:
        return None
    action, reason = decided
    return SecondaryClaimNeeded(
        claim_id=payment.claim_id,
        action=action,
        reason=reason,
        primary_payer_id=remittance.payer.payer_id,
        primary_payer_name=remittance.payer.name,
        primary_payer_claim_number=payment.payer_claim_number,
        primary_paid=payment.paid,
        patient_responsibility=payment.patient_responsibility,
        adjudication_date=remittance.payment.date or remittance.production_date,
        claim_adjustments=payment.adjustments,
        line_adjustments=tuple(
            (line.procedure.code, line.adjustments) for line in payment.service_lines
        ),
        crossover_carrier=payment.crossover_carrier,
    )


def next_payer_action(
    payment: ClaimPayment, *, has_secondary_coverage: bool = False
) -> tuple[SecondaryAction, str] | None:
    """Whether another payer comes next, and why: the payer forwarded the claim itself
    (await the crossover, never bill it twice) or secondary coverage is on file and the
    primary left a balance (submit the secondary claim); None when neither."""
    status = payment.status_code
    if status not in PROCESSED_STATUSES:
        return None
    forwarded_remark = next((r for r in payment.remarks if r in FORWARDING_REMARKS), None)
    if status in FORWARDED_STATUSES:
        return "await-crossover", f"CLP02 {status}: the payer forwarded the claim"
    if payment.crossover_carrier is not None:
        return "await-crossover", "NM1*TT names the carrier the claim was sent to"
    if forwarded_remark is not None:
        return "await-crossover", f"remark {forwarded_remark}: claim sent on by payer"
    if has_secondary_coverage and _something_left(payment):
        adjudication = (
            "MIA" if payment.inpatient_adjudication
            else "MOA" if payment.outpatient_adjudication
            else "CLP"
        )  # fmt: skip
        return (
            "submit-secondary",
            f"secondary coverage on file and {adjudication} adjudication leaves a balance",
        )
    return None


def _something_left(payment: ClaimPayment) -> bool:
    """After the primary there is patient responsibility or an unpaid, undenied balance."""
    return payment.patient_responsibility > 0 or payment.paid < payment.total_charge
