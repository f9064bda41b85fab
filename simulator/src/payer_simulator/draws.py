"""Seeded draws: every random choice of the simulator is a SHA-256 of (seed, what it is
about, what is drawn), never Python's per-process randomised `hash()`, so the same seed and
the same inputs give the same files after a restart and in another process."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol, TypeVar


class Weighted(Protocol):
    @property
    def weight(self) -> int: ...


W = TypeVar("W", bound=Weighted)


def draw(seed: int, subject: str, *what: object) -> float:
    """A uniform number in [0, 1) fixed by the seed, the subject (a claim id, a member,
    a payer) and what is being drawn."""
    key = "\x1f".join(str(part) for part in (seed, subject, *what)).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64


def pick(rows: Sequence[W], u: float) -> W:
    """The row a uniform draw `u` lands on when each row takes a share of its weight."""
    if not rows:
        raise ValueError("nothing to pick from: the table has no rows with a weight")
    target = u * sum(row.weight for row in rows)
    for row in rows:
        target -= row.weight
        if target < 0:
            return row
    return rows[-1]


def pick_one(values: Sequence[str], u: float) -> str:
    return values[min(int(u * len(values)), len(values) - 1)]
