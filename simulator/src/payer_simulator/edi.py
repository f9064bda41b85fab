"""The simulator's own X12 text handling: splitting an interchange into segments and writing
envelopes. Deliberately not the services' codec, so the simulator stays an independent check
on what the services send and read."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime


class X12Error(ValueError):
    """The text is not an X12 interchange the simulator can read."""


@dataclass(frozen=True)
class Delimiters:
    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"


@dataclass(frozen=True)
class Segment:
    """One segment; `el(1)` is the first element after the id, as X12 numbers them."""

    elements: tuple[str, ...]
    position: int
    delimiters: Delimiters = field(default=Delimiters(), repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.elements[0]

    def el(self, index: int, default: str = "") -> str:
        return self.elements[index] if 0 <= index < len(self.elements) else default

    def components(self, index: int) -> list[str]:
        return self.el(index).split(self.delimiters.component)


_BLANKS = " \t\r\n"


def _delimiters(text: str) -> Delimiters:
    if text.startswith("ISA"):
        # The ISA is fixed width: separator at offset 3, ISA16 at 104, terminator at 105.
        # Hand-edited files break the widths, so count separators instead of offsets.
        if len(text) < 4:
            raise X12Error("ISA segment is cut short")
        sep = text[3]
        if sep.isalnum() or sep in _BLANKS:
            raise X12Error("ISA element separator is a letter, digit or blank")
        fields = text.split(sep, 16)
        if len(fields) < 17 or len(fields[16]) < 2:
            raise X12Error("ISA segment is cut short before ISA16 and its terminator")
        component, terminator = fields[16][0], fields[16][1]
        if terminator.isalnum() or terminator == " " or terminator in {sep, component}:
            raise X12Error("no usable segment terminator after ISA16")
        repetition = fields[11] if len(fields[11]) == 1 and not fields[11].isalnum() else "^"
        if repetition in {sep, component, terminator}:
            repetition = "{"
        return Delimiters(sep, component, repetition, terminator)
    # Files that start at ST (no envelope): take the separator after the segment id.
    for width in (2, 3):
        if len(text) > width and text[:width].isalnum() and not text[width].isalnum():
            sep = text[width]
            if sep in _BLANKS:
                break
            terminator = "~" if "~" in text[:4096] and sep != "~" else "\n"
            component = ":" if ":" not in {sep, terminator} else ">"
            return Delimiters(sep, component, "^" if sep != "^" else "{", terminator)
    raise X12Error("text starts with neither ISA nor a segment id")


def read_segments(text: str) -> Iterator[Segment]:
    text = text.lstrip("\ufeff" + _BLANKS)
    delims = _delimiters(text)
    for position, raw in enumerate(text.split(delims.segment), start=1):
        raw = raw.strip(_BLANKS)
        if raw:
            yield Segment(tuple(raw.split(delims.element)), position, delims)


def render(segments: Sequence[Sequence[str]], delims: Delimiters = Delimiters()) -> str:
    """Segments joined with our delimiters, trailing empty elements dropped, one per line."""
    lines = []
    for segment in segments:
        elements = list(segment)
        while len(elements) > 1 and elements[-1] == "":
            elements.pop()
        lines.append(delims.element.join(elements) + delims.segment)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Envelope:
    sender_id: str
    receiver_id: str
    interchange_control_number: int
    group_control_number: int
    functional_id: str
    version: str
    created_at: datetime
    usage: str = "P"


def wrap_interchange(
    envelope: Envelope, transactions: Sequence[list[list[str]]], delims: Delimiters = Delimiters()
) -> list[list[str]]:
    """ISA/GS around the transaction sets, each closed by an SE that counts its segments."""
    e = envelope
    icn = f"{e.interchange_control_number % 1_000_000_000:09d}"
    gcn = str(e.group_control_number % 1_000_000_000 or 1)
    out = [
        [
            "ISA", "00", " " * 10, "00", " " * 10,
            "ZZ", e.sender_id[:15].ljust(15), "ZZ", e.receiver_id[:15].ljust(15),
            e.created_at.strftime("%y%m%d"), e.created_at.strftime("%H%M"),
            delims.repetition, "00501", icn, "0", e.usage, delims.component,
        ],
        [
            "GS", e.functional_id, e.sender_id.strip(), e.receiver_id.strip(),
            e.created_at.strftime("%Y%m%d"), e.created_at.strftime("%H%M"), gcn, "X", e.version,
        ],
    ]  # fmt: skip
    for body in transactions:
        out.extend(body)
        out.append(["SE", str(len(body) + 1), body[0][2]])
    out.append(["GE", str(len(transactions)), gcn])
    out.append(["IEA", "1", icn])
    return out
