"""X12 element types, both ways: domain values to element text and element text back.

One rule for text (`text`) serves every writer, so a name cannot break one transaction and
pass in another. Numbers follow the X12 syntax: R (decimal) values carry no insignificant
trailing zeros, count only digits toward their maximum length, and use ASCII digits only;
Python's `Decimal()` and `int()` would also take `1_000`, `1e3`, `NaN` and Arabic-Indic
digits, so readers parse through these functions instead.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from claimflow_shared.x12.tokenizer import DEFAULT_DELIMITERS, Delimiters, X12Error

# 5010 R elements for money (CLM02, SV102, CLP03, ...) are 1/18 digits; quantities 1/15.
AMOUNT_DIGITS = 18
QUANTITY_DIGITS = 15

_DECIMAL = re.compile(r"^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_INTEGER = re.compile(r"^-?[0-9]+$")
_D8 = re.compile(r"^[0-9]{8}$")
_TIME = re.compile(r"^[0-9]{4}(?:[0-9]{2}(?:[0-9]{1,2})?)?$")
_SPACES = re.compile(r"\s+")


class Composite(tuple[str, ...]):
    """A composite element; rendered with the component separator, trailing empties dropped."""

    def __new__(cls, *parts: str) -> Composite:
        values = list(parts)
        while values and values[-1] == "":
            values.pop()
        return super().__new__(cls, values)


# ---- text ---------------------------------------------------------------------------------


def text(
    value: object,
    *,
    max_length: int | None = None,
    upper: bool = False,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
) -> str:
    """Element text that cannot break an interchange: ASCII, printable, no delimiter inside.

    Accents are transliterated (José -> Jose), delimiters and control characters become a
    space, runs of spaces collapse, and the ends are trimmed. `upper` is for names; never for
    identifiers such as CLM01, which come back in 999/277CA/835 and must match as sent.
    """
    raw = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    forbidden = delimiters.as_set()
    cleaned = "".join(" " if ch in forbidden or not ch.isprintable() else ch for ch in raw)
    cleaned = _SPACES.sub(" ", cleaned).strip()
    if upper:
        cleaned = cleaned.upper()
    if max_length is not None:
        cleaned = cleaned[:max_length].rstrip()
    return cleaned


def digits(value: object) -> str:
    """Only the ASCII digits of a value: phone numbers, ZIP codes, tax ids."""
    return "".join(ch for ch in str(value) if "0" <= ch <= "9")


# ---- numbers ------------------------------------------------------------------------------


def _decimal_text(value: Decimal, max_digits: int, what: str) -> str:
    if not value.is_finite():
        raise X12Error(f"{what} must be a finite number")
    rendered = f"{value:f}"
    if "." in rendered:
        rendered = rendered.rstrip("0").rstrip(".")
    if rendered in {"", "-", "-0"}:
        rendered = "0"
    count = sum(ch.isdigit() for ch in rendered)
    if count > max_digits:
        raise X12Error(f"{what} {rendered} has more than {max_digits} digits")
    return rendered


def amount(value: Decimal | int | str, *, max_digits: int = AMOUNT_DIGITS) -> str:
    """A monetary R element: 100.00 -> 100, 40.50 -> 40.5, -3.10 -> -3.1."""
    return _decimal_text(Decimal(value), max_digits, "amount")


def quantity(value: Decimal | int | str, *, max_digits: int = QUANTITY_DIGITS) -> str:
    """A quantity R element (units, days): 1.00 -> 1, 2.5 -> 2.5."""
    return _decimal_text(Decimal(value), max_digits, "quantity")


# An R element holds at most 18 digits and an N0 element at most 15 (X12 5010 maximums for
# the amounts and counts we read); anything longer is not a value, whatever it claims.
_MAX_DECIMAL_CHARS = 20
_MAX_INTEGER_CHARS = 16


def parse_decimal(raw: str) -> Decimal | None:
    """An R element's value, or None when it is not one (empty, letters, exponent, too many
    digits, ...)."""
    raw = raw.strip()
    if len(raw) > _MAX_DECIMAL_CHARS or not _DECIMAL.match(raw):
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        return None


def parse_amount(raw: str) -> Decimal | None:
    """A monetary R element as Decimal cents (rounded half up), or None."""
    value = parse_decimal(raw)
    return value.quantize(Decimal("0.01")) if value is not None else None


def parse_integer(raw: str) -> int | None:
    """An N0 element (ASCII digits, optional minus sign), or None."""
    raw = raw.strip()
    return int(raw) if len(raw) <= _MAX_INTEGER_CHARS and _INTEGER.match(raw) else None


# ---- dates and times ----------------------------------------------------------------------


def d8(value: date) -> str:
    """DT element, CCYYMMDD."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def rd8(start: date, end: date) -> str:
    """A date range (DTP qualifier RD8): CCYYMMDD-CCYYMMDD."""
    return f"{d8(start)}-{d8(end)}"


def d6(value: date) -> str:
    """ISA09: YYMMDD."""
    return d8(value)[2:]


def tm(value: time | datetime, *, seconds: bool = False) -> str:
    """TM element: HHMM, or HHMMSS."""
    text_ = f"{value.hour:02d}{value.minute:02d}"
    return text_ + f"{value.second:02d}" if seconds else text_


def parse_d8(raw: str) -> date | None:
    """A CCYYMMDD date, or None when it is not a real calendar date."""
    raw = raw.strip()
    if not _D8.match(raw):
        return None
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return None


def parse_date_or_range(raw: str) -> tuple[date, date] | None:
    """A D8 date or an RD8 range as (first, last); None when neither."""
    first, dash, last = raw.strip().partition("-")
    start = parse_d8(first)
    end = parse_d8(last) if dash else start
    if start is None or end is None:
        return None
    return start, end


def parse_tm(raw: str) -> time | None:
    """HHMM[SS[d..]] as a time, or None."""
    raw = raw.strip()
    if not _TIME.match(raw):
        return None
    try:
        second = int(raw[4:6]) if len(raw) >= 6 else 0
        return time(int(raw[:2]), int(raw[2:4]), second)
    except ValueError:
        return None
