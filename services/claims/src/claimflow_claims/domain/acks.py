"""Readers for the acknowledgments of a submitted 837: the 999 and the 277CA."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache

from claimflow_claims.domain.tables import DATA_DIR, read_rule_table
from claimflow_shared.x12 import Segment, X12Error, read_segments


class AckStatus(StrEnum):
    """The verdict of a 999 on a transaction set (IK501) or a functional group (AK901)."""

    ACCEPTED = "accepted"
    ACCEPTED_WITH_ERRORS = "accepted-with-errors"
    PARTIALLY_ACCEPTED = "partially-accepted"
    REJECTED = "rejected"


# M, W and X are rejections for security/decryption reasons; P only appears in AK9.
_ACK_CODES = {
    "A": AckStatus.ACCEPTED,
    "E": AckStatus.ACCEPTED_WITH_ERRORS,
    "P": AckStatus.PARTIALLY_ACCEPTED,
    "R": AckStatus.REJECTED,
    "M": AckStatus.REJECTED,
    "W": AckStatus.REJECTED,
    "X": AckStatus.REJECTED,
}


class ClaimOutcome(StrEnum):
    """What a 277CA says about one claim."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PENDING = "pending"


@cache
def _code_meanings() -> dict[tuple[str, str], tuple[str, str]]:
    rows = read_rule_table(DATA_DIR / "x12_ack_codes.csv", columns=("kind", "code", "meaning"))
    return {(row["kind"], row["code"]): (row["outcome"], row["meaning"]) for row in rows}


def _meaning(kind: str, code: str) -> str | None:
    known = _code_meanings().get((kind, code))
    return known[1] if known else None


def describe_code(kind: str, code: str) -> str:
    """`code` followed by its meaning when we know it, e.g. `3 (required segment missing)`."""
    meaning = _meaning(kind, code)
    return f"{code} ({meaning})" if meaning else code


@dataclass(frozen=True)
class ElementError:
    """IK4: which element of the segment is wrong and how."""

    position: str
    data_element: str
    error_code: str
    bad_value: str = ""


@dataclass(frozen=True)
class SegmentError:
    """IK3 (with its CTX and IK4s): a segment of the submitted file that is wrong."""

    segment_id: str
    position: str
    loop_id: str
    error_code: str
    claim_id: str | None = None
    element_errors: tuple[ElementError, ...] = ()

    def describe(self) -> str:
        where = f"{self.segment_id} (segment {self.position}"
        where += f", loop {self.loop_id})" if self.loop_id else ")"
        parts = [f"{where}: {describe_code('ik3', self.error_code)}"]
        for element in self.element_errors:
            value = f" value {element.bad_value!r}" if element.bad_value else ""
            parts.append(
                f"element {element.position}: {describe_code('ik4', element.error_code)}{value}"
            )
        return "; ".join(parts)


@dataclass(frozen=True)
class TransactionSetAck:
    """AK2..IK5: the verdict on one transaction set (one ST..SE of our 837)."""

    transaction_set_id: str
    control_number: str
    group_control_number: str
    status: AckStatus
    error_codes: tuple[str, ...] = ()
    segment_errors: tuple[SegmentError, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status in {AckStatus.ACCEPTED, AckStatus.ACCEPTED_WITH_ERRORS}

    def reasons(self) -> list[str]:
        """Readable reasons, suitable for `ClaimRejected.reasons`."""
        return [f"999 IK5 {describe_code('ik5', code)}" for code in self.error_codes] + [
            f"999 IK3 {error.describe()}" for error in self.segment_errors
        ]


@dataclass(frozen=True)
class GroupAck:
    """AK1..AK9: the verdict on one functional group (GS..GE) of our interchange."""

    functional_id: str
    control_number: str
    version: str
    status: AckStatus
    transaction_sets: tuple[TransactionSetAck, ...]
    included: int | None = None
    received: int | None = None
    accepted: int | None = None
    error_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ack999:
    groups: tuple[GroupAck, ...]
    problems: tuple[str, ...] = ()

    @property
    def transaction_sets(self) -> tuple[TransactionSetAck, ...]:
        return tuple(ts for group in self.groups for ts in group.transaction_sets)

    def for_transaction(
        self, *, group_control_number: str, control_number: str
    ) -> TransactionSetAck | None:
        """The verdict on one of our transaction sets, matched on GS06 and ST02."""
        for ts in self.transaction_sets:
            if (ts.group_control_number, ts.control_number) == (
                str(group_control_number),
                str(control_number),
            ):
                return ts
        return None


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isdigit() else None


@dataclass
class _TransactionDraft:
    ak2: Segment
    group_control_number: str
    status_code: str = ""
    error_codes: list[str] = field(default_factory=list)
    segment_errors: list[SegmentError] = field(default_factory=list)


@dataclass
class _GroupDraft:
    ak1: Segment
    transactions: list[_TransactionDraft] = field(default_factory=list)
    ak9: Segment | None = None


def read_999(text: str) -> Ack999:
    """Read a 999; oddities (missing IK5/AK9, unknown codes) are listed in `problems`."""
    segments = list(read_segments(text))
    if not any(s.id == "ST" and s.el(1) == "999" for s in segments):
        raise X12Error("not a 999 acknowledgment: no ST*999 segment")
    problems: list[str] = []
    groups: list[_GroupDraft] = []
    for segment in segments:
        group = groups[-1] if groups else None
        transaction = group.transactions[-1] if group and group.transactions else None
        match segment.id:
            case "AK1":
                groups.append(_GroupDraft(segment))
            case "AK2" if group:
                group.transactions.append(_TransactionDraft(segment, group.ak1.el(2)))
            case "IK3" if transaction:
                transaction.segment_errors.append(
                    SegmentError(
                        segment_id=segment.el(1),
                        position=segment.el(2),
                        loop_id=segment.el(3),
                        error_code=segment.el(4),
                    )
                )
            case "CTX" if transaction and transaction.segment_errors:
                # CTX*CLM01:<patient control number> names the claim the error sits in.
                context = segment.components(1)
                if context[0] == "CLM01" and len(context) > 1:
                    last = transaction.segment_errors[-1]
                    transaction.segment_errors[-1] = replace(last, claim_id=context[1])
            case "IK4" if transaction and transaction.segment_errors:
                last = transaction.segment_errors[-1]
                element = ElementError(
                    position=segment.el(1),
                    data_element=segment.el(2),
                    error_code=segment.el(3),
                    bad_value=segment.el(4),
                )
                transaction.segment_errors[-1] = replace(
                    last, element_errors=(*last.element_errors, element)
                )
            case "IK5" if transaction:
                transaction.status_code = segment.el(1)
                transaction.error_codes = [e for e in segment.elements[2:7] if e]
            case "AK9" if group:
                group.ak9 = segment
            case "AK2" | "IK3" | "CTX" | "IK4" | "IK5" | "AK9":
                problems.append(f"segment {segment.position}: {segment.id} outside its loop")
    finished = tuple(_finish_group(group, problems) for group in groups)
    return Ack999(groups=finished, problems=tuple(problems))


def _status(code: str, what: str, problems: list[str]) -> AckStatus | None:
    status = _ACK_CODES.get(code)
    if status is None:
        problems.append(f"{what}: unknown acknowledgment code {code!r}")
    return status


def _finish_group(group: _GroupDraft, problems: list[str]) -> GroupAck:
    control = group.ak1.el(2)
    if group.ak9 is None:
        problems.append(f"group {control}: AK9 missing")
        group_status = None
    else:
        group_status = _status(group.ak9.el(1), f"group {control} AK9", problems)
    transactions = []
    for draft in group.transactions:
        what = f"transaction set {draft.ak2.el(2)}"
        status = _status(draft.status_code, f"{what} IK5", problems) if draft.status_code else None
        if not draft.status_code:
            problems.append(f"{what}: IK5 missing")
        if status is None or status is AckStatus.PARTIALLY_ACCEPTED:
            # Without its own verdict a transaction set is only as good as an all-or-nothing
            # group verdict; anything uncertain counts as rejected so a person looks at it.
            status = (
                group_status
                if group_status in {AckStatus.ACCEPTED, AckStatus.REJECTED}
                else AckStatus.REJECTED
            )
        transactions.append(
            TransactionSetAck(
                transaction_set_id=draft.ak2.el(1),
                control_number=draft.ak2.el(2),
                group_control_number=control,
                status=status,
                error_codes=tuple(draft.error_codes),
                segment_errors=tuple(draft.segment_errors),
            )
        )
    ak9 = group.ak9
    return GroupAck(
        functional_id=group.ak1.el(1),
        control_number=control,
        version=group.ak1.el(3),
        status=group_status or AckStatus.REJECTED,
        transaction_sets=tuple(transactions),
        included=_int_or_none(ak9.el(2)) if ak9 else None,
        received=_int_or_none(ak9.el(3)) if ak9 else None,
        accepted=_int_or_none(ak9.el(4)) if ak9 else None,
        error_codes=tuple(e for e in ak9.elements[5:10] if e) if ak9 else (),
    )


@dataclass(frozen=True)
class StatusCode:
    """One STC composite: category (A1..A8, ...), status code and the entity it concerns."""

    category: str
    status: str = ""
    entity: str = ""

    def __str__(self) -> str:
        return ":".join(part for part in (self.category, self.status, self.entity) if part)


@dataclass(frozen=True)
class LineStatus:
    """2220D: the status of one service line, when the payer reports lines."""

    procedure: str
    charge: Decimal | None
    line_control_number: str | None
    status_codes: tuple[StatusCode, ...]
    outcome: ClaimOutcome


@dataclass(frozen=True)
class ClaimStatus:
    """2200D: what the payer's front end did with one of our claims."""

    claim_id: str
    outcome: ClaimOutcome
    status_codes: tuple[StatusCode, ...]
    payer_claim_number: str | None = None
    status_date: date | None = None
    total_charge: Decimal | None = None
    lines: tuple[LineStatus, ...] = ()

    def reasons(self) -> list[str]:
        """Readable reasons, suitable for `ClaimRejected.reasons`."""
        reasons = []
        for code in self.status_codes:
            meaning = _meaning("stc", code.category)
            reasons.append(f"277CA STC {code}" + (f" ({meaning})" if meaning else ""))
        return reasons


def outcome_of(codes: tuple[StatusCode, ...]) -> ClaimOutcome:
    """Rejected if any category rejects, accepted if any accepts, else pending."""
    outcomes = {_code_meanings().get(("stc", code.category), ("", ""))[0] for code in codes}
    if ClaimOutcome.REJECTED.value in outcomes:
        return ClaimOutcome.REJECTED
    if ClaimOutcome.ACCEPTED.value in outcomes:
        return ClaimOutcome.ACCEPTED
    return ClaimOutcome.PENDING


def _status_codes(stc: Segment) -> list[StatusCode]:
    # STC01 is the main status; STC10 and STC11 carry up to two more.
    codes = []
    for index in (1, 10, 11):
        parts = [*stc.components(index), "", ""]
        if parts[0]:
            codes.append(StatusCode(category=parts[0], status=parts[1], entity=parts[2]))
    return codes


def _decimal(value: str) -> Decimal | None:
    try:
        return Decimal(value) if value else None
    except InvalidOperation:
        return None


def _d8(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


@dataclass
class _LineDraft:
    svc: Segment
    control_number: str | None = None
    codes: list[StatusCode] = field(default_factory=list)


@dataclass
class _ClaimDraft:
    claim_id: str = ""
    payer_claim_number: str | None = None
    codes: list[StatusCode] = field(default_factory=list)
    status_date: date | None = None
    total_charge: Decimal | None = None
    lines: list[_LineDraft] = field(default_factory=list)

    def finish(self) -> ClaimStatus:
        codes = tuple(self.codes)
        return ClaimStatus(
            claim_id=self.claim_id,
            outcome=outcome_of(codes),
            status_codes=codes,
            payer_claim_number=self.payer_claim_number,
            status_date=self.status_date,
            total_charge=self.total_charge,
            lines=tuple(
                LineStatus(
                    procedure=":".join(p for p in line.svc.components(1) if p),
                    charge=_decimal(line.svc.el(2)),
                    line_control_number=line.control_number,
                    status_codes=tuple(line.codes),
                    outcome=outcome_of(tuple(line.codes)),
                )
                for line in self.lines
            ),
        )


def read_277ca(text: str) -> list[ClaimStatus]:
    """The claim-level statuses of a 277CA, one per patient (PT) hierarchical level."""
    segments = list(read_segments(text))
    if not any(s.id == "ST" and s.el(1) == "277" for s in segments):
        raise X12Error("not a 277CA acknowledgment: no ST*277 segment")
    claims: list[_ClaimDraft] = []
    current: _ClaimDraft | None = None
    for segment in segments:
        if segment.id == "HL":
            # Only the patient level (HL03 = PT) is about one claim; the levels above report
            # on the whole batch and the provider.
            current = _ClaimDraft() if segment.el(3) == "PT" else None
            if current is not None:
                claims.append(current)
            continue
        if current is None:
            continue
        line = current.lines[-1] if current.lines else None
        match segment.id, segment.el(1):
            case "TRN", "2":
                current.claim_id = segment.el(2)
            case "STC", _ if line is not None:
                line.codes.extend(_status_codes(segment))
            case "STC", _:
                current.codes.extend(_status_codes(segment))
                current.status_date = current.status_date or _d8(segment.el(2))
                current.total_charge = current.total_charge or _decimal(segment.el(4))
            case "REF", "1K" if line is None:
                current.payer_claim_number = segment.el(2)
            case "REF", "FJ" if line is not None:
                line.control_number = segment.el(2)
            case "SVC", _:
                current.lines.append(_LineDraft(segment))
    return [claim.finish() for claim in claims]
