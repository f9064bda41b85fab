"""Deterministic adjudication: the same seed and claim id always give the same remittance.

Every draw comes from SHA-256 over (seed, claim id, what is drawn), never from Python's
per-process randomised `hash()`, so a restarted simulator pays a claim exactly as before.
All amounts are Decimal cents and balance the way an 835 must: per line
charge - sum(CAS) = paid, per claim CLP03 - sum(CAS) = CLP04, CLP05 = sum(PR).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import Protocol, TypeVar

from claimflow_shared.codes import money
from payer_simulator.reader837 import ServiceLine, SubmittedClaim

ZERO = Decimal("0.00")
DENIED = "4"
# CLP02 for a processed claim follows the payer's place in coordination of benefits (SBR01).
_PROCESSED_AS = {"P": "1", "S": "2", "T": "3"}
# The share of a line's charge the simulated fee schedule allows, in basis points.
_ALLOWED_MIN_BP = 5500
_ALLOWED_SPAN_BP = 3000
_COINSURANCE_AFTER_DEDUCTIBLE_PCT = 20
# Unprocessable: claim totals disagree with the lines, or there are no lines.
_UNPROCESSABLE_CARC = "16"
_UNPROCESSABLE_RARC = "MA130"


@dataclass(frozen=True)
class Adjustment:
    group: str  # CAS01: CO contractual, PR patient responsibility
    reason: str  # CARC
    amount: Decimal


@dataclass(frozen=True)
class LineAdjudication:
    line: ServiceLine
    allowed: Decimal
    paid: Decimal
    adjustments: tuple[Adjustment, ...]
    remarks: tuple[str, ...] = ()  # RARCs, sent as LQ*HE

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
    denial_reason: str = ""  # the CARC a denied claim was denied for

    @property
    def denied(self) -> bool:
        return self.status == DENIED

    @property
    def charge(self) -> Decimal:
        return self.claim.total_charge

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


class _Weighted(Protocol):
    @property
    def weight(self) -> int: ...


_W = TypeVar("_W", bound=_Weighted)


@dataclass(frozen=True)
class DenialReason:
    carc: str
    rarcs: tuple[str, ...]
    weight: int
    meaning: str


@dataclass(frozen=True)
class BenefitDesign:
    design: str  # none, copay, coinsurance, deductible
    amounts: tuple[Decimal, ...]
    weight: int
    meaning: str


def _read_table(name: str) -> list[dict[str, str]]:
    text = files("payer_simulator").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def denial_reasons() -> tuple[DenialReason, ...]:
    return tuple(
        DenialReason(row["carc"], tuple(row["rarcs"].split()), int(row["weight"]), row["meaning"])
        for row in _read_table("denial_reasons.csv")
    )


@cache
def benefit_designs() -> tuple[BenefitDesign, ...]:
    return tuple(
        BenefitDesign(
            row["design"],
            tuple(money(a) for a in row["amounts"].split()),
            int(row["weight"]),
            row["meaning"],
        )
        for row in _read_table("benefit_designs.csv")
    )


def draw(seed: int, claim_id: str, *what: object) -> float:
    """A uniform number in [0, 1) fixed by the seed, the claim id and what is being drawn."""
    key = "\x1f".join(str(part) for part in (seed, claim_id, *what)).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64


def _pick(rows: Sequence[_W], u: float) -> _W:
    target = u * sum(row.weight for row in rows)
    for row in rows:
        target -= row.weight
        if target < 0:
            return row
    return rows[-1]


def payer_claim_number(seed: int, claim_id: str) -> str:
    digest = hashlib.sha256(f"{seed}\x1ficn\x1f{claim_id}".encode()).hexdigest()
    return str(int(digest[:15], 16) % 10**14).zfill(14)


def adjudicate(claim: SubmittedClaim, *, seed: int, denial_rate: float) -> Adjudication:
    """Deny a `denial_rate` share of claims in full; pay the rest per line under a fee schedule."""
    icn = payer_claim_number(seed, claim.claim_id)
    if not claim.service_lines or claim.line_charge_total != claim.total_charge:
        return _deny(claim, icn, _UNPROCESSABLE_CARC, (_UNPROCESSABLE_RARC,))
    if draw(seed, claim.claim_id, "denial") < denial_rate:
        reason = _pick(denial_reasons(), draw(seed, claim.claim_id, "denial-reason"))
        rarcs = reason.rarcs
        if rarcs:
            rarcs = (rarcs[int(draw(seed, claim.claim_id, "rarc") * len(rarcs))],)
        return _deny(claim, icn, reason.carc, rarcs)
    return _pay(claim, icn, seed)


def _deny(claim: SubmittedClaim, icn: str, carc: str, rarcs: tuple[str, ...]) -> Adjudication:
    lines = tuple(
        LineAdjudication(
            line=line,
            allowed=ZERO,
            paid=ZERO,
            adjustments=(Adjustment("CO", carc, line.charge),) if line.charge else (),
            remarks=rarcs,
        )
        for line in claim.service_lines
    )
    unmatched = claim.total_charge - claim.line_charge_total
    claim_adjustments = (Adjustment("CO", carc, unmatched),) if unmatched else ()
    return Adjudication(
        claim=claim,
        status=DENIED,
        payer_claim_number=icn,
        lines=lines,
        claim_adjustments=claim_adjustments,
        denial_reason=carc,
    )


def _pay(claim: SubmittedClaim, icn: str, seed: int) -> Adjudication:
    cid = claim.claim_id
    design = _pick(benefit_designs(), draw(seed, cid, "benefit-design"))
    amount = (
        design.amounts[int(draw(seed, cid, "benefit-amount") * len(design.amounts))]
        if design.amounts
        else ZERO
    )
    deductible_left = amount if design.design == "deductible" else ZERO
    copay_left = amount if design.design == "copay" else ZERO
    lines = []
    for index, line in enumerate(claim.service_lines):
        share_bp = _ALLOWED_MIN_BP + int(draw(seed, cid, "allowed", index) * (_ALLOWED_SPAN_BP + 1))
        allowed = max(ZERO, money(line.charge * share_bp / 10_000))
        patient: list[Adjustment] = []
        if design.design == "copay" and copay_left and allowed:
            copay = min(copay_left, allowed)
            copay_left -= copay
            patient.append(Adjustment("PR", "3", copay))
        elif design.design == "coinsurance":
            patient.append(Adjustment("PR", "2", money(allowed * amount / 100)))
        elif design.design == "deductible":
            deductible = min(deductible_left, allowed)
            deductible_left -= deductible
            coinsurance = money((allowed - deductible) * _COINSURANCE_AFTER_DEDUCTIBLE_PCT / 100)
            patient.extend([Adjustment("PR", "1", deductible), Adjustment("PR", "2", coinsurance)])
        patient = [a for a in patient if a.amount]
        contractual = line.charge - allowed
        adjustments = ((Adjustment("CO", "45", contractual),) if contractual else ()) + tuple(
            patient
        )
        paid = allowed - sum((a.amount for a in patient), ZERO)
        lines.append(
            LineAdjudication(line=line, allowed=allowed, paid=paid, adjustments=adjustments)
        )
    return Adjudication(
        claim=claim,
        status=_PROCESSED_AS.get(claim.payer_responsibility, "1"),
        payer_claim_number=icn,
        lines=tuple(lines),
    )
