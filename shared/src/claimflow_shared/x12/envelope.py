"""Writing X12: segments to text, and the ISA/GS/ST envelopes with their counts.

Writers build segments as lists of elements (plain strings or `Composite`s) and never see the
delimiters; `render` joins them and refuses an element that still holds a delimiter, so a
writer bug can never send a file whose segments split in the wrong place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from claimflow_shared.x12.elements import Composite, d6, d8, tm
from claimflow_shared.x12.tokenizer import DEFAULT_DELIMITERS, Delimiters, X12Error

Element = str | Composite
SegmentElements = Sequence[Element]
MAX_CONTROL_NUMBER = 999_999_999


@dataclass(frozen=True)
class Envelope:
    """ISA/GS identities and control numbers for one interchange with one functional group."""

    sender_id: str
    receiver_id: str
    interchange_control_number: int
    group_control_number: int
    functional_id: str  # HC 837, HP 835, FA 999, HN 277
    version: str  # GS08, e.g. 005010X222A1
    created_at: datetime
    usage: str = "P"  # ISA15: P production, T test
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"

    def __post_init__(self) -> None:
        for name in ("interchange_control_number", "group_control_number"):
            number = getattr(self, name)
            if not 1 <= number <= MAX_CONTROL_NUMBER:
                raise X12Error(f"{name} must be 1 to {MAX_CONTROL_NUMBER}, got {number}")
        if self.usage not in {"P", "T"}:
            raise X12Error("ISA15 usage must be P (production) or T (test)")
        for name in ("sender_id", "receiver_id"):
            if not 1 <= len(getattr(self, name).strip()) <= 15:
                raise X12Error(f"{name} must be 1 to 15 characters")


def transaction_control_number(number: int) -> str:
    """ST02/SE02: at least four digits, unique within the functional group."""
    if not 1 <= number <= MAX_CONTROL_NUMBER:
        raise X12Error(f"transaction set control number must be 1 to {MAX_CONTROL_NUMBER}")
    return f"{number:04d}"


def _element_text(element: Element, delims: Delimiters, forbidden: frozenset[str]) -> str:
    if isinstance(element, Composite):
        parts = list(element)
        for part in parts:
            if forbidden.intersection(part):
                raise X12Error(f"component {part!r} holds a delimiter")
        return delims.component.join(parts)
    if forbidden.intersection(element):
        raise X12Error(f"element {element!r} holds a delimiter")
    return element


def render(
    segments: Sequence[SegmentElements],
    delims: Delimiters = DEFAULT_DELIMITERS,
    newline: bool = True,
) -> str:
    """Join segments into X12 text, dropping trailing empty elements (required by 5010).

    ISA is written as given (its elements 11 and 16 are the delimiters themselves).
    """
    forbidden = delims.as_set()
    out = []
    for segment in segments:
        if segment[0] == "ISA":
            elements = [str(e) for e in segment]
        else:
            elements = [_element_text(e, delims, forbidden) for e in segment]
            while len(elements) > 1 and elements[-1] == "":
                elements.pop()
        out.append(delims.element.join(elements) + delims.segment)
    joiner = "\n" if newline else ""
    return joiner.join(out) + joiner


def isa_segment(envelope: Envelope, delims: Delimiters = DEFAULT_DELIMITERS) -> list[str]:
    e = envelope
    return [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        e.sender_qualifier,
        e.sender_id.strip().ljust(15)[:15],
        e.receiver_qualifier,
        e.receiver_id.strip().ljust(15)[:15],
        d6(e.created_at.date()),
        tm(e.created_at),
        delims.repetition,
        "00501",
        f"{e.interchange_control_number:09d}",
        "0",
        e.usage,
        delims.component,
    ]


def wrap_interchange(
    envelope: Envelope,
    transactions: Sequence[Sequence[SegmentElements]],
    delims: Delimiters = DEFAULT_DELIMITERS,
) -> list[SegmentElements]:
    """Wrap transaction sets (each starting with ST, without SE) in ST/SE, GS/GE and ISA/IEA.

    SE01 counts the set's segments including ST and SE; GE01 counts the sets; IEA01 the groups.
    """
    if not transactions:
        raise X12Error("an interchange needs at least one transaction set")
    e = envelope
    gs = [
        "GS",
        e.functional_id,
        e.sender_id.strip(),
        e.receiver_id.strip(),
        d8(e.created_at.date()),
        tm(e.created_at),
        str(e.group_control_number),
        "X",
        e.version,
    ]
    segments: list[SegmentElements] = [isa_segment(e, delims), gs]
    seen: set[str] = set()
    for body in transactions:
        if not body or body[0][0] != "ST":
            raise X12Error("a transaction set starts with ST")
        st_control = str(body[0][2])
        if st_control in seen:
            raise X12Error(f"transaction set control number {st_control} repeats in the group")
        seen.add(st_control)
        segments.extend(body)
        segments.append(["SE", str(len(body) + 1), st_control])
    segments.append(["GE", str(len(transactions)), str(e.group_control_number)])
    segments.append(["IEA", "1", f"{e.interchange_control_number:09d}"])
    return segments


def write_interchange(
    envelope: Envelope,
    transactions: Sequence[Sequence[SegmentElements]],
    *,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_breaks: bool = True,
) -> str:
    """The whole interchange as text: envelopes, counts and all."""
    return render(wrap_interchange(envelope, transactions, delimiters), delimiters, line_breaks)
