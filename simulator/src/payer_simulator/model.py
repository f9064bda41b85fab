"""What adjudication decides, as plain values the 835 writer and the store take: the claim's
status, its lines with allowed and paid amounts, and the CAS adjustments that explain every
cent between charge and payment (charge - sum(CAS) = paid, per line and per claim)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from payer_simulator.reader837 import ServiceLine, SubmittedClaim
from payer_simulator.tables import Carrier

ZERO = Decimal("0.00")

# CLP02 claim status codes of 005010X221A1.
PROCESSED_AS_PRIMARY = "1"
PROCESSED_AS_SECONDARY = "2"
PROCESSED_AS_TERTIARY = "3"
# 005010X221A1 (and X12 RFIs 1423, 1885): CLP02 4 only when the payer does not recognise the
# patient; any other claim denied in full is reported processed (1, 2, 3) with nothing paid.
DENIED = "4"
REVERSAL = "22"
# Processed, and forwarded to the next payer (a crossover): 19 primary, 20 secondary, 21 tertiary.
FORWARDED = {PROCESSED_AS_PRIMARY: "19", PROCESSED_AS_SECONDARY: "20", PROCESSED_AS_TERTIARY: "21"}


@dataclass(frozen=True)
class Adjustment:
    group: str  # CAS01: CO contractual, PR patient responsibility, OA other
    reason: str  # CARC
    amount: Decimal

    def negated(self) -> Adjustment:
        return replace(self, amount=-self.amount)


@dataclass(frozen=True)
class Denial:
    """Why a claim or a line is not paid: the rule that fired and the codes it reports."""

    rule: str
    group: str
    carc: str
    rarcs: tuple[str, ...] = ()  # on the denied lines, LQ*HE
    claim_remarks: tuple[str, ...] = ()  # on the claim, MOA/MIA


@dataclass(frozen=True)
class BenefitUse:
    """What one claim added to a member's accumulators in one plan (calendar) year."""

    year: int
    deductible: Decimal
    out_of_pocket: Decimal


@dataclass(frozen=True)
class LineAdjudication:
    line: ServiceLine
    allowed: Decimal
    paid: Decimal
    adjustments: tuple[Adjustment, ...]
    remarks: tuple[str, ...] = ()  # RARCs, sent as LQ*HE
    denial: str = ""  # the CARC the line was denied for
    negated: bool = False  # a reversal's line: every amount is the original's negated

    @property
    def charge(self) -> Decimal:
        return -self.line.charge if self.negated else self.line.charge

    @property
    def denied(self) -> bool:
        return bool(self.denial)

    @property
    def patient_responsibility(self) -> Decimal:
        return sum((a.amount for a in self.adjustments if a.group == "PR"), ZERO)


@dataclass(frozen=True)
class Adjudication:
    claim: SubmittedClaim
    status: str  # CLP02
    payer_claim_number: str  # CLP07
    lines: tuple[LineAdjudication, ...]
    claim_adjustments: tuple[Adjustment, ...] = ()
    denial_reason: str = ""  # the CARC a claim denied in full was denied for
    claim_remarks: tuple[str, ...] = ()  # MOA03-07 / MIA05, MIA20-23
    crossover_carrier: Carrier | None = None  # NM1*TT
    original_claim_number: str = ""  # REF*F8: the payer claim number this one corrects
    received_on: date | None = None  # DTM*050
    benefit_use: tuple[BenefitUse, ...] = ()
    plan: str = ""
    contract: str = ""

    @property
    def denied(self) -> bool:
        """Denied in full: every line refused, nothing paid, nothing left to the patient."""
        return bool(self.denial_reason) and not self.reversal

    @property
    def reversal(self) -> bool:
        return self.status == REVERSAL

    @property
    def partially_denied(self) -> bool:
        return not self.denied and any(line.denied for line in self.lines)

    @property
    def charge(self) -> Decimal:
        return -self.claim.total_charge if self.reversal else self.claim.total_charge

    @property
    def paid(self) -> Decimal:
        return sum((line.paid for line in self.lines), ZERO)

    @property
    def all_adjustments(self) -> list[Adjustment]:
        found = list(self.claim_adjustments)
        for line in self.lines:
            found.extend(line.adjustments)
        return found

    @property
    def patient_responsibility(self) -> Decimal:
        return sum((a.amount for a in self.all_adjustments if a.group == "PR"), ZERO)


def reversal_of(original: Adjudication, *, received_on: date | None = None) -> Adjudication:
    """The payer takes back a claim payment: CLP02 22, the same payer claim number, every
    charge, payment and adjustment amount negated, the original's group and reason codes."""
    if original.reversal:
        raise ValueError("a reversal cannot be reversed; reverse the claim it corrected")
    return replace(
        original,
        status=REVERSAL,
        lines=tuple(
            replace(
                line,
                allowed=-line.allowed,
                paid=-line.paid,
                adjustments=tuple(a.negated() for a in line.adjustments),
                negated=True,
            )
            for line in original.lines
        ),
        claim_adjustments=tuple(a.negated() for a in original.claim_adjustments),
        received_on=received_on or original.received_on,
        benefit_use=tuple(
            BenefitUse(u.year, -u.deductible, -u.out_of_pocket) for u in original.benefit_use
        ),
    )
