"""The 835 balancing rules (005010X221A1 section 1.10.2.1), reported as problems, never raised.

Transaction: BPR02 = Σ CLP04 - Σ PLB. Claim: CLP03 - Σ CAS (claim and lines) = CLP04, and with
lines Σ SVC03 - Σ claim CAS = CLP04. Line: SVC02 - Σ line CAS = SVC03.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from claimflow_remittance.domain.era_model import (
    ZERO,
    Adjustment,
    ClaimPayment,
    Problem,
    Remittance,
    ServicePayment,
)
from claimflow_remittance.domain.problems import problem


def check_balance(remittance: Remittance) -> list[Problem]:
    """Every balancing rule the remittance breaks, in file order."""
    problems = payment_balance(remittance)
    for claim in remittance.claims:
        problems.extend(claim_balance(claim))
        for line in claim.service_lines:
            problems.extend(line_balance(line))
    return sorted(problems, key=lambda p: p.position)


def payment_balance(remittance: Remittance) -> list[Problem]:
    claims_paid = _sum(claim.paid for claim in remittance.claims)
    provider_adjusted = _sum(plb.amount for plb in remittance.provider_adjustments)
    expected = claims_paid - provider_adjusted
    total = remittance.payment.signed_amount
    if total == expected:
        return []
    message = (
        f"BPR02 {total} != Σ CLP04 {claims_paid} - Σ PLB {provider_adjusted}"
        f" = {expected} (off by {total - expected})"
    )
    return [problem("file-out-of-balance", remittance.payment.position, "BPR", message)]


def claim_balance(claim: ClaimPayment) -> list[Problem]:
    problems = []
    claim_cas = _adjusted(claim.adjustments)
    line_cas = _sum(_adjusted(line.adjustments) for line in claim.service_lines)
    expected = claim.total_charge - claim_cas - line_cas
    if expected != claim.paid:
        problems.append(
            problem(
                "claim-out-of-balance",
                claim.position,
                "CLP",
                f"claim {claim.claim_id}: CLP03 {claim.total_charge} - Σ CAS"
                f" {claim_cas + line_cas} = {expected}, but CLP04 is {claim.paid}",
            )
        )
    if claim.service_lines:
        lines_paid = _sum(line.paid for line in claim.service_lines)
        if lines_paid - claim_cas != claim.paid:
            problems.append(
                problem(
                    "claim-out-of-balance",
                    claim.position,
                    "CLP",
                    f"claim {claim.claim_id}: Σ SVC03 {lines_paid} - claim CAS {claim_cas}"
                    f" = {lines_paid - claim_cas}, but CLP04 is {claim.paid}",
                )
            )
    return problems


def line_balance(line: ServicePayment) -> list[Problem]:
    adjusted = _adjusted(line.adjustments)
    if line.charge - adjusted == line.paid:
        return []
    message = (
        f"line {line.procedure.code or '?'}: SVC02 {line.charge} - Σ CAS {adjusted}"
        f" = {line.charge - adjusted}, but SVC03 is {line.paid}"
    )
    return [problem("line-out-of-balance", line.position, "SVC", message)]


def _adjusted(adjustments: Iterable[Adjustment]) -> Decimal:
    return _sum(a.amount for a in adjustments)


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, ZERO)
