"""Coordination of benefits when the simulated payer is a secondary (or later) payer: it pays
what the earlier payers left to the patient, up to its own allowed amount less what they paid.

Per line, from 2430 (SVD/CAS/AMT*EAF) when the claim reports line detail, else from 2320
(AMT*D, CAS, AMT*EAF) spread over the lines by charge. The line balances as
charge - OA-23 (what the earlier payers' adjudication took care of) - PR (what the patient
still owes) = paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from payer_simulator.model import ZERO, Adjustment
from payer_simulator.payer_policy import prior_payers
from payer_simulator.pricing import money
from payer_simulator.reader837 import OtherPayerPaid, PriorAdjustment, SubmittedClaim

PRIOR_PAYER_IMPACT = "23"
# The order in which the patient's remaining share is reported when the earlier payer gave
# no PR breakdown: coinsurance, the commonest remainder.
_DEFAULT_PATIENT_REASON = "2"


@dataclass(frozen=True)
class PriorOutcome:
    """What the earlier payers did with one line: paid, and left to the patient."""

    paid: Decimal
    patient: Decimal
    patient_reasons: tuple[PriorAdjustment, ...]


def prior_outcomes(claim: SubmittedClaim) -> list[PriorOutcome]:
    """Per line, what the earlier payers paid and left to the patient."""
    lines = claim.service_lines
    if any(line.prior_payments for line in lines):
        outcomes = []
        for line in lines:
            payments = line.prior_payments
            paid = sum((p.paid for p in payments), ZERO)
            last = payments[-1] if payments else None
            if last is None:
                patient = line.charge - paid
                reasons: tuple[PriorAdjustment, ...] = ()
            else:
                reasons = tuple(a for a in last.adjustments if a.group == "PR")
                patient = (
                    last.remaining_patient_liability
                    if last.remaining_patient_liability is not None
                    else (last.patient_responsibility if last.adjustments else line.charge - paid)
                )
            outcomes.append(PriorOutcome(paid, _clamp(patient, line.charge - paid), reasons))
        return outcomes
    earlier = prior_payers(claim)
    paid_total = sum((o.paid or ZERO for o in earlier), ZERO)
    patient_total, reasons = _claim_patient_share(claim, earlier, paid_total)
    paid_shares = _spread(paid_total, [line.charge for line in lines])
    patient_shares = _spread(patient_total, [line.charge for line in lines])
    return [
        PriorOutcome(paid, _clamp(patient, line.charge - paid), reasons)
        for line, paid, patient in zip(lines, paid_shares, patient_shares, strict=True)
    ]


def _claim_patient_share(
    claim: SubmittedClaim, earlier: Sequence[OtherPayerPaid], paid_total: Decimal
) -> tuple[Decimal, tuple[PriorAdjustment, ...]]:
    last = earlier[-1] if earlier else None
    if last is None:
        return claim.total_charge - paid_total, ()
    reasons = tuple(a for a in last.adjustments if a.group == "PR")
    if last.remaining_patient_liability is not None:
        return last.remaining_patient_liability, reasons
    if last.adjustments:
        return sum((a.amount for a in reasons), ZERO), reasons
    return claim.total_charge - paid_total, reasons


def _clamp(amount: Decimal, ceiling: Decimal) -> Decimal:
    return min(max(amount, ZERO), max(ceiling, ZERO))


def _spread(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """`total` split in proportion to `weights`, in cents, the last share taking the rest."""
    whole = sum(weights, ZERO)
    if not weights:
        return []
    if whole <= 0:
        return [ZERO] * (len(weights) - 1) + [total]
    shares = [money(total * w / whole) for w in weights[:-1]]
    return [*shares, total - sum(shares, ZERO)]


def secondary_line_adjustments(
    charge: Decimal, allowed: Decimal, prior: PriorOutcome
) -> tuple[Decimal, tuple[Adjustment, ...]]:
    """What the secondary pays on a line and the CAS that explain the rest of the charge."""
    pays = min(prior.patient, max(ZERO, allowed - prior.paid))
    adjustments = [Adjustment("OA", PRIOR_PAYER_IMPACT, charge - prior.patient)]
    adjustments += _patient_left(prior.patient - pays, prior.patient_reasons)
    return pays, tuple(a for a in adjustments if a.amount)


def _patient_left(amount: Decimal, reasons: Sequence[PriorAdjustment]) -> list[Adjustment]:
    """The patient's remaining share under the earlier payer's PR reasons, deductible first."""
    if amount <= 0:
        return []
    ordered = sorted(reasons, key=lambda a: a.reason)
    found: list[Adjustment] = []
    left = amount
    for reason in ordered:
        share = min(left, max(reason.amount, ZERO))
        if share:
            found.append(Adjustment("PR", reason.reason, share))
            left -= share
    if left:
        last = ordered[-1].reason if ordered else _DEFAULT_PATIENT_REASON
        if found and found[-1].reason == last:
            found[-1] = Adjustment("PR", last, found[-1].amount + left)
        else:
            found.append(Adjustment("PR", last, left))
    return found
