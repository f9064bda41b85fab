"""The 999 reader: the clearinghouse's syntax verdict on each transaction set we sent."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from claimflow_claims.domain.acknowledgment import (
    ACK_CODES,
    Ack999,
    AckStatus,
    ElementError,
    GroupAck,
    SegmentError,
    TransactionSetAck,
)
from claimflow_shared.x12 import Segment, X12Error, parse_integer, read_segments


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
    status = ACK_CODES.get(code)
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
        included=parse_integer(ak9.el(2)) if ak9 else None,
        received=parse_integer(ak9.el(3)) if ak9 else None,
        accepted=parse_integer(ak9.el(4)) if ak9 else None,
        error_codes=tuple(e for e in ak9.elements[5:10] if e) if ak9 else (),
    )
