"""Posting per service line: what each SVC pays, allows, writes off, denies and leaves to the
patient, split by CAS group and CARC, tied to the submitted line(s) it pays."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from claimflow_remittance.domain.denials import carc_rule
from claimflow_remittance.domain.era_model import (
    ZERO,
    Adjustment,
    ClaimPayment,
    ServicePayment,
)
from claimflow_remittance.domain.matching import (
    LineMatch,
    LineMatchMethod,
    SubmittedClaim,
    WorkItem,
    match_lines,
)

CONTRACTUAL = "CO"
PATIENT = "PR"


@dataclass(frozen=True)
class AdjustmentTotals:
    """A set of CAS adjustments summed the ways posting needs them."""

    adjustments: tuple[Adjustment, ...]
    # Contractual write-off: CO adjustments whose CARC is a write-down, not a denial (CO-45).
    contractual_writeoff: Decimal
    patient_responsibility: Decimal
    # Non-PR adjustments whose CARC refuses payment (CO-50, OA-18, ...): work them, do not
    # write them off yet.
    denied: Decimal
    # OA, PI and CR adjustments that are neither write-downs nor denials (OA-23 prior payer).
    other: Decimal
    by_group: Mapping[str, Decimal]
    by_carc: Mapping[tuple[str, str], Decimal]


def total_adjustments(adjustments: Iterable[Adjustment]) -> AdjustmentTotals:
    items = tuple(adjustments)
    writeoff = patient = denied = other = ZERO
    by_group: dict[str, Decimal] = {}
    by_carc: dict[tuple[str, str], Decimal] = {}
    for a in items:
        by_group[a.group] = by_group.get(a.group, ZERO) + a.amount
        key = (a.group, a.reason)
        by_carc[key] = by_carc.get(key, ZERO) + a.amount
        if a.group == PATIENT:
            patient += a.amount
        elif carc_rule(a.reason).denial:
            denied += a.amount
        elif a.group == CONTRACTUAL:
            writeoff += a.amount
        else:
            other += a.amount
    return AdjustmentTotals(
        adjustments=items,
        contractual_writeoff=writeoff,
        patient_responsibility=patient,
        denied=denied,
        other=other,
        by_group=MappingProxyType(by_group),
        by_carc=MappingProxyType(by_carc),
    )


@dataclass(frozen=True)
class LineEntry:
    """One SVC posted: amounts are negative in a reversal."""

    position: int
    line_numbers: tuple[int, ...]  # the submitted lines it pays; () when unmatched
    match: LineMatchMethod | None
    split: bool
    code: str
    modifiers: tuple[str, ...]
    units: Decimal
    service_date: date | None
    charge: Decimal
    paid: Decimal
    allowed: Decimal
    adjustments: AdjustmentTotals
    rarcs: tuple[str, ...]

    @property
    def contractual_writeoff(self) -> Decimal:
        return self.adjustments.contractual_writeoff

    @property
    def patient_responsibility(self) -> Decimal:
        return self.adjustments.patient_responsibility

    @property
    def denied(self) -> Decimal:
        return self.adjustments.denied


@dataclass(frozen=True)
class ClaimLinePosting:
    """Every line of one CLP posted, plus its claim-level adjustments and what needs a person."""

    claim_id: str
    payer_claim_number: str
    status_code: str
    lines: tuple[LineEntry, ...]
    claim_adjustments: AdjustmentTotals
    work_items: tuple[WorkItem, ...]
    unpaid_line_numbers: tuple[int, ...]

    @property
    def paid(self) -> Decimal:
        return sum((line.paid for line in self.lines), ZERO)

    @property
    def patient_responsibility(self) -> Decimal:
        return self.claim_adjustments.patient_responsibility + sum(
            (line.patient_responsibility for line in self.lines), ZERO
        )

    @property
    def contractual_writeoff(self) -> Decimal:
        return self.claim_adjustments.contractual_writeoff + sum(
            (line.contractual_writeoff for line in self.lines), ZERO
        )


def post_service_lines(
    payment: ClaimPayment, submitted: SubmittedClaim | None = None
) -> ClaimLinePosting:
    """Post each SVC of a CLP against the submitted claim (when known) line by line."""
    if submitted is not None:
        matching = match_lines(payment, submitted)
        matches = {id(m.service): m for m in matching.matched}
        work_items, unpaid = matching.unmatched, matching.unpaid_line_numbers
    else:
        matches, work_items, unpaid = {}, (), ()
    return ClaimLinePosting(
        claim_id=payment.claim_id,
        payer_claim_number=payment.payer_claim_number,
        status_code=payment.status_code,
        lines=tuple(_entry(line, matches.get(id(line))) for line in payment.service_lines),
        claim_adjustments=total_adjustments(payment.adjustments),
        work_items=tuple(work_items),
        unpaid_line_numbers=tuple(unpaid),
    )


def line_allowed(line: ServicePayment) -> Decimal:
    """AMT*B6 when the payer sent it, else the charge less every non-patient adjustment."""
    if line.allowed is not None:
        return line.allowed
    return line.charge - sum((a.amount for a in line.adjustments if a.group != PATIENT), ZERO)


def _entry(line: ServicePayment, match: LineMatch | None) -> LineEntry:
    return LineEntry(
        position=line.position,
        line_numbers=match.line_numbers if match else (),
        match=match.method if match else None,
        split=match.split if match else False,
        code=line.procedure.code,
        modifiers=line.procedure.modifiers,
        units=line.units,
        service_date=line.service_date,
        charge=line.charge,
        paid=line.paid,
        allowed=line_allowed(line),
        adjustments=total_adjustments(line.adjustments),
        rarcs=line.remarks,
    )
