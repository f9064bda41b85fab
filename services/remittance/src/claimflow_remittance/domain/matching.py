"""Which claim and which submitted lines an 835 claim payment belongs to.

CLP01 echoes our claim id, but payers upper-case it, strip its dashes or cut it short; SVC
lines come back with modifiers dropped, several lines bundled into one or one line split.
Whatever cannot be matched becomes a `WorkItem` with its reason, never silently dropped.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from claimflow_remittance.domain.era_model import ClaimPayment, Procedure, ServicePayment

# Payers that cut CLP01 short keep at least this many characters (some keep 14, some 17 or 20).
MIN_TRUNCATED_CLAIM_ID = 12
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")

WorkItemKind = Literal[
    "unmatched-claim", "ambiguous-claim", "unmatched-line", "reversal-without-original"
]
LineMatchMethod = Literal[
    "control-number",
    "exact",
    "dropped-modifiers",
    "changed-modifiers",
    "original-code",
    "charge-and-date",
    "merged",
]


@dataclass(frozen=True)
class WorkItem:
    """A payment (or part of one) a person must place: why, where in the file, how much."""

    kind: WorkItemKind
    claim_id: str
    position: int
    reason: str
    amount: Decimal


@dataclass(frozen=True)
class SubmittedLine:
    """One line as we billed it (from `claim.submitted`)."""

    line_number: int
    code: str
    modifiers: tuple[str, ...]
    units: Decimal
    service_date: date | None
    charge: Decimal
    # REF*6R we sent, if any; payers echo it in the 835 and it beats every other clue.
    control_number: str | None = None


@dataclass(frozen=True)
class SubmittedClaim:
    tenant_id: str
    claim_id: str
    total_charge: Decimal
    lines: tuple[SubmittedLine, ...] = ()
    payer_id: str | None = None

    @classmethod
    def from_event(cls, tenant_id: str, event) -> SubmittedClaim:
        """From a `claim.submitted` payload (`claimflow_shared.events.ClaimSubmitted`)."""
        return cls(
            tenant_id=tenant_id,
            claim_id=event.claim_id,
            total_charge=event.total_charge,
            payer_id=getattr(event.payer, "payer_id", None),
            lines=tuple(
                SubmittedLine(
                    line_number=line.line_number,
                    code=line.code,
                    modifiers=tuple(str(m) for m in line.modifiers),
                    units=Decimal(line.units),
                    service_date=line.service_date,
                    charge=line.charge,
                )
                for line in event.lines
            ),
        )


def claim_key(claim_id: str) -> str:
    """CLP01 as payers mangle it: upper case, letters and digits only."""
    return _NOT_ALNUM.sub("", claim_id.upper())


@dataclass(frozen=True)
class ClaimMatch:
    claim: SubmittedClaim
    method: Literal["exact", "normalised", "truncated"]


class ClaimIndex:
    """One tenant's submitted claims, findable by CLP01 exactly, normalised or cut short."""

    def __init__(self, claims: Iterable[SubmittedClaim]) -> None:
        self._exact: dict[str, SubmittedClaim] = {}
        self._by_key: dict[str, list[SubmittedClaim]] = {}
        for claim in claims:
            self._exact[claim.claim_id] = claim
            self._by_key.setdefault(claim_key(claim.claim_id), []).append(claim)
        self._keys = sorted(self._by_key)

    def find(self, payment: ClaimPayment) -> ClaimMatch | WorkItem:
        clp01 = payment.claim_id.strip()
        if not clp01:
            return _unmatched(payment, "unmatched-claim", "CLP01 is blank")
        if clp01 in self._exact:
            return ClaimMatch(self._exact[clp01], "exact")
        key = claim_key(clp01)
        found = self._by_key.get(key, [])
        if len(found) == 1:
            return ClaimMatch(found[0], "normalised")
        if len(found) > 1:
            return _unmatched(payment, "ambiguous-claim", "CLP01 matches several claims")
        if len(key) >= MIN_TRUNCATED_CLAIM_ID:
            start = bisect.bisect_left(self._keys, key)
            prefixed = []
            for candidate in self._keys[start:]:
                if not candidate.startswith(key):
                    break
                prefixed.extend(self._by_key[candidate])
            if len(prefixed) == 1:
                return ClaimMatch(prefixed[0], "truncated")
            if prefixed:
                return _unmatched(payment, "ambiguous-claim", "shortened CLP01 fits several claims")
        return _unmatched(payment, "unmatched-claim", "no claim with this CLP01 for the tenant")


def _unmatched(payment: ClaimPayment, kind: WorkItemKind, reason: str) -> WorkItem:
    return WorkItem(kind, payment.claim_id, payment.position, reason, payment.paid)


@dataclass(frozen=True)
class LineMatch:
    """One SVC and the submitted line(s) it pays; `split` when other SVCs pay the same line."""

    service: ServicePayment
    line_numbers: tuple[int, ...]
    method: LineMatchMethod
    split: bool = False


@dataclass(frozen=True)
class LineMatching:
    matched: tuple[LineMatch, ...]
    unmatched: tuple[WorkItem, ...]
    # Submitted lines no SVC spoke of: paid in another CLP of a split claim, or skipped.
    unpaid_line_numbers: tuple[int, ...]


def match_lines(payment: ClaimPayment, submitted: SubmittedClaim) -> LineMatching:
    """Pair every SVC of the payment with the submitted line(s) it pays."""
    lines = submitted.lines
    used: dict[int, int] = {}  # line number -> how many SVCs matched it
    results: list[tuple[ServicePayment, tuple[int, ...], LineMatchMethod]] = []
    unmatched: list[WorkItem] = []
    for service in payment.service_lines:
        found = _match_one(service, lines, used)
        if found is None:
            unmatched.append(
                WorkItem(
                    "unmatched-line",
                    payment.claim_id,
                    service.position,
                    f"no submitted line for {service.procedure.code or 'a blank code'}"
                    " on that date",
                    service.paid,
                )
            )
            continue
        numbers, method = found
        for number in numbers:
            used[number] = used.get(number, 0) + 1
        results.append((service, numbers, method))
    matched = tuple(
        LineMatch(service, numbers, method, split=any(used[n] > 1 for n in numbers))
        for service, numbers, method in results
    )
    unpaid = tuple(line.line_number for line in lines if line.line_number not in used)
    return LineMatching(matched, tuple(unmatched), unpaid)


def _match_one(
    service: ServicePayment, lines: Sequence[SubmittedLine], used: Mapping[int, int]
) -> tuple[tuple[int, ...], LineMatchMethod] | None:
    if service.control_number:
        for line in lines:
            if line.control_number and line.control_number == service.control_number:
                return (line.line_number,), "control-number"
    # SVC06 is the procedure as submitted when the payer paid under another code (IG 2110).
    billed = service.original_procedure or service.procedure
    recoded = service.original_procedure is not None and (
        service.original_procedure.code != service.procedure.code
    )
    on_date = [line for line in lines if _same_day(line, service)]
    same_code = [line for line in on_date if line.code == billed.code]
    for method, fits in (
        ("exact", _same_modifiers),
        ("dropped-modifiers", _modifiers_dropped),
        ("changed-modifiers", lambda _line, _proc: True),
    ):
        candidates = [line for line in same_code if fits(line, billed)]
        if not candidates:
            continue
        fresh = [line for line in candidates if line.line_number not in used]
        merged = _merged(service, fresh)
        if merged:
            return merged, "merged"
        chosen = _closest(service, fresh or candidates)
        return (chosen.line_number,), ("original-code" if recoded else method)  # type: ignore[return-value]
    # Recoded without SVC06 (against the guide, but it happens): one line of that day and charge.
    same_charge = [line for line in on_date if line.charge == service.charge and service.charge]
    fresh = [line for line in same_charge if line.line_number not in used]
    if len(fresh) == 1:
        return (fresh[0].line_number,), "charge-and-date"
    return None


def _same_day(line: SubmittedLine, service: ServicePayment) -> bool:
    if line.service_date is None or service.service_date is None:
        return True
    end = service.service_end_date or service.service_date
    return service.service_date <= line.service_date <= end


def _same_modifiers(line: SubmittedLine, billed: Procedure) -> bool:
    return set(line.modifiers) == set(billed.modifiers)


def _modifiers_dropped(line: SubmittedLine, billed: Procedure) -> bool:
    return set(billed.modifiers) < set(line.modifiers)


def _closest(service: ServicePayment, lines: Sequence[SubmittedLine]) -> SubmittedLine:
    """Among equal candidates the one whose charge and units are nearest the SVC's."""
    return min(
        lines,
        key=lambda line: (
            abs(line.charge - service.charge),
            abs(line.units - service.units),
            line.line_number,
        ),
    )


def _merged(service: ServicePayment, fresh: Sequence[SubmittedLine]) -> tuple[int, ...]:
    """Several identical submitted lines paid as one SVC: units and charge add up to it."""
    if len(fresh) < 2 or any(line.charge == service.charge for line in fresh):
        return ()
    units = sum((line.units for line in fresh), Decimal())
    charge = sum((line.charge for line in fresh), Decimal())
    if units == service.units and charge == service.charge:
        return tuple(line.line_number for line in fresh)
    return ()
