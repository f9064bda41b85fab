"""Problem kinds and what each does to a file (post, post and flag, hold), from
`data/problem_policies.csv`; `file_policy` is the strictest policy a file's problems ask for."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from claimflow_remittance.domain.era_model import Policy, Problem

DATA = Path(__file__).resolve().parent / "data"
_SEVERITY: dict[str, int] = {"post": 0, "flag": 1, "hold": 2}


@cache
def problem_policies() -> Mapping[str, Policy]:
    """Kind -> policy; a row whose policy is not post, flag or hold is a broken table."""
    with (DATA / "problem_policies.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    policies: dict[str, Policy] = {}
    for row in rows:
        policy = row["policy"]
        if policy not in _SEVERITY:
            raise ValueError(f"problem_policies.csv: kind {row['kind']!r} has policy {policy!r}")
        policies[row["kind"]] = policy  # type: ignore[assignment]
    return policies


def problem(kind: str, position: int, segment_id: str, message: str) -> Problem:
    """A problem with the policy its kind has in the table; an unknown kind is a bug."""
    try:
        policy = problem_policies()[kind]
    except KeyError:
        raise ValueError(f"problem kind {kind!r} is not in problem_policies.csv") from None
    return Problem(kind, position, segment_id, message, policy)


def file_policy(problems: Iterable[Problem]) -> Policy:
    """The strictest policy among the problems: hold beats flag beats post."""
    worst: Policy = "post"
    for item in problems:
        if _SEVERITY[item.policy] > _SEVERITY[worst]:
            worst = item.policy
            if worst == "hold":
                break
    return worst
