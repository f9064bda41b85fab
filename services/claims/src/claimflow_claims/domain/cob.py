"""Coordination of benefits: after one payer adjudicates, the patient's share goes to the next
payer on a claim of its own that says what the earlier payers paid and adjusted (837 loops
2320/2330B per earlier payer, 2430 per line with SVD and CAS).

Line detail (2430) is reported only when every one of our lines is matched by exactly one
835 line that balances (charge = paid + adjustments); otherwise the earlier payer's totals
and every adjustment go at claim level (2320), which the guides allow and payers balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from claimflow_claims.domain.lifecycle import is_crossover
from claimflow_claims.domain.model import (
    Claim,
    OtherPayer,
    PriorAdjustment,
    PriorLinePayment,
    ServiceLine,
)
from claimflow_shared.codes import AdjustmentGroup, money
from claimflow_shared.events.models import (
    Coverage,
    CoveragePriority,
    LineAdjustment,
    RemittanceAdjustment,
    RemittanceReceived,
)

PAYER_ORDER = (CoveragePriority.PRIMARY, CoveragePriority.SECONDARY, CoveragePriority.TERTIARY)


@dataclass(frozen=True)
class NoNextPayer:
    """Why no claim goes to a later payer (kept on the claim's timeline)."""

    reason: str


def rank(coverage: Coverage) -> int:
    return PAYER_ORDER.index(coverage.priority)


def next_coverage(billed: Coverage, coverages: Sequence[Coverage]) -> Coverage | None:
    """The coverage that pays after `billed`: the next in priority order."""
    later = [c for c in coverages if rank(c) > rank(billed)]
    return min(later, key=rank) if later else None


def next_payer_decision(
    claim: Claim, remittance: RemittanceReceived, coverages: Sequence[Coverage]
) -> Coverage | NoNextPayer:
    """Whether the patient's share of this adjudication goes to a later payer, and which."""
    if remittance.status not in {"paid", "partially-paid"}:
        return NoNextPayer(f"the payer's verdict is {remittance.status}")
    if is_crossover(remittance):
        return NoNextPayer(
            f"CLP02 {remittance.status_code}: the payer forwarded the claim to the next payer"
        )
    if remittance.patient_responsibility <= 0:
        return NoNextPayer("no patient responsibility is left")
    coverage = next_coverage(claim.coverage, coverages)
    if coverage is None:
        return NoNextPayer("the patient has no later coverage")
    if coverage.payer.payer_id == claim.coverage.payer.payer_id:
        return NoNextPayer("the later coverage is with the same payer")
    return coverage


def _prior(adjustment: RemittanceAdjustment) -> PriorAdjustment:
    return PriorAdjustment(
        group=adjustment.group,
        carc=adjustment.carc,
        amount=adjustment.amount,
        quantity=adjustment.quantity,
    )


def _patient_share(adjustments: Sequence[PriorAdjustment]) -> Decimal:
    return money(
        sum(
            (a.amount for a in adjustments if a.group is AdjustmentGroup.PATIENT_RESPONSIBILITY),
            start=Decimal(0),
        )
    )


def _balances(line: ServiceLine, paid: LineAdjustment) -> bool:
    adjusted = sum((a.amount for a in paid.adjustments), start=Decimal(0))
    return paid.charge == line.charge and paid.paid + adjusted == line.charge


def match_lines(
    lines: Sequence[ServiceLine], paid: Sequence[LineAdjustment]
) -> dict[int, LineAdjustment] | None:
    """Our line number -> the 835 line that paid it, when every line matches exactly once
    (by the line number the payer echoed, else by code and charge, in order)."""
    if len(paid) != len(lines):
        return None
    matched: dict[int, LineAdjustment] = {}
    left = list(paid)
    for line in lines:
        found = next((p for p in left if p.line_number == line.line_number), None)
        if found is None:
            code = line.code or line.revenue_code or ""
            found = next(
                (p for p in left if p.line_number is None and p.code == code), None
            ) or next((p for p in left if p.line_number is None and p.charge == line.charge), None)
        if found is None or not _balances(line, found):
            return None
        matched[line.line_number] = found
        left.remove(found)
    return matched


def adjudication_of(claim: Claim, remittance: RemittanceReceived, *, on: date) -> OtherPayer:
    """The earlier payer's adjudication as the next claim reports it (2320/2330B/2430)."""
    adjudicated_on = remittance.payment.payment_date or on
    matched = match_lines(claim.lines, remittance.lines)
    claim_adjustments = [_prior(a) for a in remittance.claim_adjustments]
    line_payments: list[PriorLinePayment] = []
    if matched is None:
        claim_adjustments += [_prior(a) for line in remittance.lines for a in line.adjustments]
    else:
        for line in claim.lines:
            paid = matched[line.line_number]
            adjustments = tuple(_prior(a) for a in paid.adjustments)
            line_payments.append(
                PriorLinePayment(
                    line_number=line.line_number,
                    paid=paid.paid,
                    paid_units=paid.units if paid.units is not None else line.units,
                    adjustments=adjustments,
                    adjudicated_on=adjudicated_on,
                    remaining_patient_liability=_patient_share(adjustments),
                )
            )
    return OtherPayer(
        coverage=claim.coverage,
        subscriber=claim.subscriber,
        claim_filing_indicator=claim.claim_filing_indicator,
        payer_claim_number=remittance.payer_claim_number or None,
        paid=remittance.paid,
        adjudicated_on=adjudicated_on,
        claim_adjustments=tuple(_merge(claim_adjustments)),
        line_payments=tuple(line_payments),
        remaining_patient_liability=remittance.patient_responsibility,
    )


def _merge(adjustments: Sequence[PriorAdjustment]) -> list[PriorAdjustment]:
    """One CAS entry per group and reason, amounts summed (a CAS repeats no reason)."""
    merged: dict[tuple[AdjustmentGroup, str], PriorAdjustment] = {}
    for item in adjustments:
        key = (item.group, item.carc)
        if key in merged:
            before = merged[key]
            quantity = (
                (before.quantity or 0) + (item.quantity or 0)
                if before.quantity is not None or item.quantity is not None
                else None
            )
            merged[key] = before.model_copy(
                update={"amount": money(before.amount + item.amount), "quantity": quantity}
            )
        else:
            merged[key] = item
    return [a for a in merged.values() if a.amount]


def next_payer_claim(
    claim: Claim,
    remittance: RemittanceReceived,
    *,
    coverage: Coverage,
    claim_id: str,
    claim_filing_indicator: str,
    today: date,
) -> Claim:
    """The claim to the next payer: the same services, billed to `coverage`, with every
    earlier payer's adjudication (this remittance's included) in the COB loops."""
    earlier = adjudication_of(claim, remittance, on=today)
    return claim.model_copy(
        update={
            "claim_id": claim_id,
            "frequency_code": "1",
            "original_claim_number": None,
            "coverage": coverage,
            "subscriber": None,
            "claim_filing_indicator": claim_filing_indicator,
            "other_payers": (
                *(o for o in claim.other_payers if o.paid is not None),
                earlier,
            ),
        }
    )
