"""A small, forgiving X12 5010 tokenizer and envelope writer shared by every X12 reader/writer.

Delimiters come from the ISA segment (element separator at byte 3, repetition at ISA11,
component at ISA16, segment terminator right after ISA16). Real files carry line breaks,
BOMs and trailing junk: the reader strips them instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime


class X12Error(ValueError):
    """The text is not X12 we can read; the message says where and why."""


@dataclass(frozen=True)
class Delimiters:
    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"


@dataclass(frozen=True)
class Segment:
    """One segment; `el(1)` is the first element after the segment id (X12 numbering)."""

    elements: tuple[str, ...]
    position: int
    delimiters: Delimiters = field(default=Delimiters(), repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.elements[0]

    def el(self, index: int, default: str = "") -> str:
        return self.elements[index] if index < len(self.elements) else default

    def components(self, index: int) -> list[str]:
        return self.el(index).split(self.delimiters.component)


def detect_delimiters(text: str) -> Delimiters:
    text = text.lstrip("\ufeff \r\n\t")
    if not text.startswith("ISA"):
        return _guess_without_isa(text)
    if len(text) < 106:
        raise X12Error("file does not start with a complete ISA segment")
    element = text[3]
    parts = text.split(element, 16)
    if len(parts) < 17:
        raise X12Error("ISA segment has fewer than 16 elements")
    isa16 = parts[16]
    component = isa16[0]
    terminator = isa16[1:2]
    if not terminator or terminator.isalnum():
        raise X12Error("cannot find the segment terminator after ISA16")
    repetition = parts[11] if len(parts[11]) == 1 and not parts[11].isalnum() else "^"
    return Delimiters(
        element=element, component=component, repetition=repetition, segment=terminator
    )


def _guess_without_isa(text: str) -> Delimiters:
    """Some payers' sample files start at ST with no envelope: guess from the first segment."""
    head = text[:3]
    sep_at = 2 if len(head) > 2 and not head[2].isalnum() else 3
    if len(text) <= sep_at or text[:sep_at] != text[:sep_at].upper() or text[sep_at].isalnum():
        raise X12Error("file starts with neither an ISA segment nor a segment id")
    element = text[sep_at]
    terminator = "~" if "~" in text[:4096] else "\n"
    return Delimiters(element=element, segment=terminator)


def read_segments(text: str) -> Iterator[Segment]:
    """Yield the segments of an X12 interchange, tolerating line breaks around terminators."""
    text = text.lstrip("\ufeff \r\n\t")
    delims = detect_delimiters(text)
    for position, raw in enumerate(text.split(delims.segment), start=1):
        raw = raw.strip("\r\n\t ")
        if not raw:
            continue
        yield Segment(tuple(raw.split(delims.element)), position, delims)


def render(
    segments: list[list[str]], delims: Delimiters = Delimiters(), newline: bool = True
) -> str:
    """Join segments into X12 text, dropping trailing empty elements (required by 5010)."""
    out = []
    for seg in segments:
        elements = list(seg)
        while len(elements) > 1 and elements[-1] == "":
            elements.pop()
        out.append(delims.element.join(elements) + delims.segment)
    return ("\n" if newline else "").join(out) + ("\n" if newline else "")


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


def wrap_interchange(
    envelope: Envelope, transactions: list[list[list[str]]], delims: Delimiters = Delimiters()
) -> list[list[str]]:
    """Wrap transaction sets (each starting with ST, without SE) in ST/SE, GS/GE and ISA/IEA."""
    e = envelope
    isa = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        e.sender_qualifier,
        e.sender_id.ljust(15)[:15],
        e.receiver_qualifier,
        e.receiver_id.ljust(15)[:15],
        e.created_at.strftime("%y%m%d"),
        e.created_at.strftime("%H%M"),
        delims.repetition,
        "00501",
        f"{e.interchange_control_number:09d}",
        "0",
        e.usage,
        delims.component,
    ]
    gs = [
        "GS",
        e.functional_id,
        e.sender_id.strip(),
        e.receiver_id.strip(),
        e.created_at.strftime("%Y%m%d"),
        e.created_at.strftime("%H%M"),
        str(e.group_control_number),
        "X",
        e.version,
    ]
    segments: list[list[str]] = [isa, gs]
    for body in transactions:
        st_control = body[0][2]
        segments.extend(body)
        segments.append(["SE", str(len(body) + 1), st_control])
    segments.append(["GE", str(len(transactions)), str(e.group_control_number)])
    segments.append(["IEA", "1", f"{e.interchange_control_number:09d}"])
    return segments
