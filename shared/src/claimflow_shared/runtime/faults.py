"""Fault injection for the failure tests: named points where a test makes a process die at
the dangerous moment (as SIGKILL would: no cleanup, no flush) or a handler fail.

Off unless `CLAIMFLOW_FAULTS` is set, which only the tests do: `point=arg;point=arg`.
- `crash:<point>=N` kills the process the N-th time it reaches `<point>`.
- `poison=<prefix>` makes the handler fail for every event of an encounter id with that prefix.
"""

from __future__ import annotations

import os
import sys
from collections import Counter

from claimflow_shared.runtime.db import SafeError

_SPEC = os.environ.get("CLAIMFLOW_FAULTS", "")
FAULTS: dict[str, str] = dict(
    item.split("=", 1) for item in filter(None, _SPEC.split(";")) if "=" in item
)
_reached: Counter[str] = Counter()


class InjectedFault(SafeError, RuntimeError):
    """A failure a test asked for."""


def crash_point(point: str) -> None:
    """Die here if a test asked for it (the N-th time this point is reached)."""
    wanted = FAULTS.get(f"crash:{point}")
    if wanted is None:
        return
    _reached[point] += 1
    if _reached[point] == int(wanted):
        print(f"fault injection: crashing at {point}", file=sys.stderr, flush=True)
        os._exit(137)


def poison_check(encounter_id: str) -> None:
    """Fail like a bug would for the encounters a test poisoned."""
    prefix = FAULTS.get("poison")
    if prefix and encounter_id.startswith(prefix):
        raise InjectedFault("injected poison")
