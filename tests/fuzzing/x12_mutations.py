"""Seeded mutations of X12 text for fuzzing readers: the damage real files carry (cut
short, delimiters swapped, segments doubled or dropped) and the damage attackers try (huge
numbers, non-ASCII digits, control characters, an ISA with nothing after it)."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

_NASTY = (
    "²",
    "٣",
    "9" * 5000,
    "1" * 40 + ".99",
    "\x00",
    "\ufeff",
    "*" * 30,
    "~~~",
    ":::",
    "-" * 20,
    "20261399",
    "99999999999999999999999999999999.99",
)


def mutate(text: str, rng: random.Random) -> str:
    """One to four random edits of `text`."""
    for _ in range(rng.randrange(1, 5)):
        text = _EDITS[rng.randrange(len(_EDITS))](text, rng)
    return text


def mutations(samples: Sequence[str], count: int, *, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    for _ in range(count):
        yield mutate(rng.choice(samples), rng)


def _cut(text: str, rng: random.Random) -> str:
    return text[: rng.randrange(0, len(text) + 1)]


def _delete(text: str, rng: random.Random) -> str:
    start = rng.randrange(0, len(text) + 1)
    return text[:start] + text[start + rng.randrange(1, 40) :]


def _insert(text: str, rng: random.Random) -> str:
    at = rng.randrange(0, len(text) + 1)
    return text[:at] + rng.choice(_NASTY) + text[at:]


def _flip(text: str, rng: random.Random) -> str:
    if not text:
        return text
    at = rng.randrange(len(text))
    return text[:at] + chr(rng.randrange(0, 0x2FF)) + text[at + 1 :]


def _segments(text: str, rng: random.Random) -> str:
    parts = text.split("~")
    if len(parts) < 2:
        return text
    i = rng.randrange(len(parts))
    choice = rng.randrange(3)
    if choice == 0:
        parts.insert(i, parts[rng.randrange(len(parts))])
    elif choice == 1:
        del parts[i]
    else:
        j = rng.randrange(len(parts))
        parts[i], parts[j] = parts[j], parts[i]
    return "~".join(parts)


def _element(text: str, rng: random.Random) -> str:
    parts = text.split("*")
    if len(parts) < 2:
        return text
    parts[rng.randrange(1, len(parts))] = rng.choice(_NASTY)
    return "*".join(parts)


def _delimiters(text: str, rng: random.Random) -> str:
    a, b = rng.sample(["*", "~", ":", "^", "|", "\n"], 2)
    return text.replace(a, "\x01").replace(b, a).replace("\x01", b)


def _bare_isa(text: str, rng: random.Random) -> str:
    return rng.choice(["ISA", "ISA*", "ISA*00*", text[:105], text[:106] + "~", "IEA*1~"])


_EDITS = (_cut, _delete, _insert, _flip, _segments, _element, _delimiters, _bare_isa)
