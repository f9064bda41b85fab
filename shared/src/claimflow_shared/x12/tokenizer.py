"""Reading X12 text into segments: delimiters from the ISA header, forgiving of line breaks.

Delimiters come from the ISA segment (element separator at byte 3, repetition at ISA11,
component at ISA16, segment terminator right after ISA16). Real files carry line breaks,
BOMs and trailing junk: the reader strips them instead of failing. Anything that cannot be
read at all raises `X12Error` and nothing else: never an IndexError on a short ISA.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


class X12Error(ValueError):
    """The text is not X12 we can read; the message says where and why."""


@dataclass(frozen=True)
class Delimiters:
    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"

    def __post_init__(self) -> None:
        chosen = (self.element, self.component, self.repetition, self.segment)
        if any(len(d) != 1 or d.isalnum() or d == " " for d in chosen):
            raise X12Error("each delimiter is one character that is neither a letter nor a digit")
        if len(set(chosen)) != len(chosen):
            raise X12Error("the element, component, repetition and segment delimiters must differ")

    def as_set(self) -> frozenset[str]:
        return frozenset((self.element, self.component, self.repetition, self.segment))


DEFAULT_DELIMITERS = Delimiters()
# The whitespace around segment terminators that files carry for readability.
_LAYOUT = "\r\n\t "
_ISA_LENGTH = 106


@dataclass(frozen=True)
class Segment:
    """One segment; `el(1)` is the first element after the segment id (X12 numbering)."""

    elements: tuple[str, ...]
    position: int
    delimiters: Delimiters = field(default=DEFAULT_DELIMITERS, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.elements[0]

    def el(self, index: int, default: str = "") -> str:
        return self.elements[index] if 0 <= index < len(self.elements) else default

    def components(self, index: int) -> list[str]:
        return self.el(index).split(self.delimiters.component)

    def component(self, index: int, sub: int, default: str = "") -> str:
        """Component `sub` (1-based) of composite element `index`."""
        parts = self.components(index)
        return parts[sub - 1] if 0 < sub <= len(parts) else default

    def repetitions(self, index: int) -> list[str]:
        return self.el(index).split(self.delimiters.repetition)


def detect_delimiters(text: str) -> Delimiters:
    """The delimiters the interchange declares; `X12Error` when they cannot be found."""
    text = text.lstrip("\ufeff" + _LAYOUT)
    if not text.startswith("ISA"):
        return _guess_without_isa(text)
    if len(text) < _ISA_LENGTH:
        raise X12Error("file does not start with a complete ISA segment (106 characters)")
    element = text[3]
    if element.isalnum() or element in _LAYOUT:
        raise X12Error("ISA: the element separator (4th character) is a letter, digit or space")
    parts = text.split(element, 16)
    if len(parts) < 17:
        raise X12Error("ISA segment has fewer than 16 elements")
    isa16 = parts[16]
    if len(isa16) < 2:
        raise X12Error("ISA16: no component separator and segment terminator after it")
    component, terminator = isa16[0], isa16[1]
    if terminator.isalnum() or terminator == " ":
        raise X12Error("cannot find the segment terminator after ISA16")
    # ISA11 is the repetition separator in 5010 and the letter U (standards id) in 4010.
    isa11 = parts[11]
    repetition = isa11 if len(isa11) == 1 and not isa11.isalnum() else ""
    taken = {element, component, terminator}
    if not repetition or repetition in taken:
        repetition = next(c for c in "^{}!|" if c not in taken)
    try:
        return Delimiters(
            element=element, component=component, repetition=repetition, segment=terminator
        )
    except X12Error as exc:
        raise X12Error(f"ISA declares unusable delimiters: {exc}") from None


def _guess_without_isa(text: str) -> Delimiters:
    """Some payers' sample files start at ST with no envelope: guess from the first segment."""
    head = text[:4]
    sep_at = 2 if len(head) > 2 and not head[2].isalnum() else 3
    if (
        len(text) <= sep_at
        or not text[:sep_at].isalnum()
        or text[:sep_at] != text[:sep_at].upper()
        or text[sep_at].isalnum()
        or text[sep_at] in _LAYOUT
    ):
        raise X12Error("file starts with neither an ISA segment nor a segment id")
    element = text[sep_at]
    terminator = "~" if "~" in text[:4096] and element != "~" else "\n"
    component = next(c for c in ":>^|" if c not in {element, terminator})
    repetition = next(c for c in "^{}!" if c not in {element, terminator, component})
    return Delimiters(
        element=element, component=component, repetition=repetition, segment=terminator
    )


def read_segments(text: str) -> Iterator[Segment]:
    """Yield the segments of an X12 interchange, tolerating line breaks around terminators."""
    text = text.lstrip("\ufeff" + _LAYOUT)
    delims = detect_delimiters(text)
    element = delims.element
    for position, raw in enumerate(text.split(delims.segment), start=1):
        raw = raw.strip(_LAYOUT)
        if raw:
            yield Segment(tuple(raw.split(element)), position, delims)
