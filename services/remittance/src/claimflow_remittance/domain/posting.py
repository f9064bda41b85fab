"""Posting math for one 835 claim payment: status, paid, allowed, patient share, denied amount."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

from claimflow_remittance.domain.denials import is_denial
from claimflow_remittance.domain.era_model import ZERO, Adjustment, ClaimPayment, ServicePayment

PostingStatus = Literal["paid", "partially-paid", "denied", "reversed"]

REVERSAL = "22"
DENIED = "4"
PATIENT = "PR"


@dataclass(frozen=True)
class LinePosting:
    code: str
    charge: Decimal
    paid: Decimal
    allowed: Decimal
    patient_responsibility: Decimal
    denied: bool


@dataclass(frozen=True)
class Posting:
    """What to post for one claim; amounts are negative for a reversal (CLP02 22)."""

    claim_id: str
    status: PostingStatus
    charge: Decimal
    paid: Decimal
    allowed: Decimal
    patient_responsibility: Decimal
    denied_amount: Decimal
    adjustments: Mapping[str, tuple[Adjustment, ...]]  # by CAS group, claim and lines together
    lines: tuple[LinePosting, ...] = ()


def post_claim_payment(payment: ClaimPayment) -> Posting:
    """Decide the status and the amounts to post for one CLP loop."""
    everything = all_adjustments(payment)
    patient_share = payment.patient_responsibility or _sum(
        a.amount for a in everything if a.group == PATIENT
    )
    status = posting_status(payment)
    return Posting(
        claim_id=payment.claim_id,
        status=status,
        charge=payment.total_charge,
        paid=payment.paid,
        allowed=allowed_amount(payment),
        patient_responsibility=patient_share,
        denied_amount=_denied_amount(payment, status, patient_share),
        adjustments=_by_group(everything),
        lines=tuple(_post_line(line) for line in payment.service_lines),
    )


def posting_status(payment: ClaimPayment) -> PostingStatus:
    """Reversed (22), denied (4, or nothing paid for denial reasons), partially paid, or paid."""
    if payment.status_code == REVERSAL:
        return "reversed"
    if payment.status_code == DENIED:
        return "denied"
    everything = all_adjustments(payment)
    if not any(is_denial(a) and a.amount > 0 for a in everything):
        return "paid"
    patient_owes = any(a.group == PATIENT and a.amount > 0 for a in everything)
    # Nothing paid and nothing left to the patient: the payer refused the whole claim.
    if payment.paid == 0 and not patient_owes:
        return "denied"
    return "partially-paid"


def allowed_amount(payment: ClaimPayment) -> Decimal:
    """Σ line allowed less claim-level payer adjustments; without lines CLP03 less them.

    A line's allowed is its AMT*B6, else its charge less every non-PR adjustment: CO and PI
    write-downs, and OA denials too (a line denied OA-A7 is allowed nothing).
    """
    claim_reductions = _reductions(payment.adjustments)
    if not payment.service_lines:
        return payment.total_charge - claim_reductions
    return _sum(_line_allowed(line) for line in payment.service_lines) - claim_reductions


def all_adjustments(payment: ClaimPayment) -> tuple[Adjustment, ...]:
    return payment.adjustments + tuple(
        a for line in payment.service_lines for a in line.adjustments
    )


def _line_allowed(line: ServicePayment) -> Decimal:
    if line.allowed is not None:
        return line.allowed
    return line.charge - _reductions(line.adjustments)


def _post_line(line: ServicePayment) -> LinePosting:
    return LinePosting(
        code=line.procedure.code,
        charge=line.charge,
        paid=line.paid,
        allowed=_line_allowed(line),
        patient_responsibility=_sum(a.amount for a in line.adjustments if a.group == PATIENT),
        denied=line.paid == 0 and any(is_denial(a) and a.amount > 0 for a in line.adjustments),
    )


def _denied_amount(payment: ClaimPayment, status: PostingStatus, patient_share: Decimal) -> Decimal:
    if status == "reversed":
        return ZERO
    denied = _sum(a.amount for a in all_adjustments(payment) if is_denial(a))
    if status == "denied" and denied == 0:
        # CLP02 4 sometimes comes without any CAS: the unpaid, non-patient rest is denied.
        return payment.total_charge - payment.paid - patient_share
    return denied


def _reductions(adjustments: Iterable[Adjustment]) -> Decimal:
    return _sum(a.amount for a in adjustments if a.group != PATIENT)


def _by_group(adjustments: Iterable[Adjustment]) -> Mapping[str, tuple[Adjustment, ...]]:
    groups: dict[str, list[Adjustment]] = {}
    for adjustment in adjustments:
        groups.setdefault(adjustment.group, []).append(adjustment)
    return MappingProxyType({group: tuple(items) for group, items in groups.items()})


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, ZERO)
