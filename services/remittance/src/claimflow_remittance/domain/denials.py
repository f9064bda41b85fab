"""Denial categories, recommended actions and appeal windows, from data tables.

`data/carc_categories.csv` gives each CARC one of the eight categories a denial report is
cut by, a finer subcategory, the action that usually resolves it and our own plain wording
of the reason (never the published CARC text). RARCs that change the picture (MA130:
unprocessable, no appeal rights) come from `data/rarc_overrides.csv`; how long a payer allows
for an appeal from `data/appeal_windows.csv`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from claimflow_remittance.domain.era_model import Adjustment

DATA = Path(__file__).resolve().parent / "data"

CATEGORIES = (
    "registration-eligibility",
    "authorization",
    "coding",
    "medical-necessity",
    "bundling",
    "timely-filing",
    "duplicate",
    "other",
)
DenialAction = Literal[
    "correct-and-resubmit", "appeal", "write-off", "bill-patient", "bill-other-payer",
    "review", "none",
]  # fmt: skip
ACTIONS = frozenset(DenialAction.__args__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CarcRule:
    carc: str
    category: str
    subcategory: str
    denial: bool
    appealable: bool
    action: DenialAction
    recommended_action: str
    plain_reason: str


@dataclass(frozen=True)
class DenialCategory:
    """Why a claim was denied and what to do next; `carc`/`group` name the primary reason."""

    category: str
    recommended_action: str
    appealable: bool
    carc: str | None = None
    group: str | None = None
    subcategory: str = "unclassified"
    action: DenialAction = "review"


UNCLASSIFIED = CarcRule(
    carc="",
    category="other",
    subcategory="unclassified",
    # An unknown reason is treated as a denial so that someone looks at it.
    denial=True,
    appealable=True,
    action="review",
    recommended_action="Reason code not in our table: read the remark codes and work it by hand",
    plain_reason="the payer gave a reason code we do not know",
)


class RuleTableError(ValueError):
    """A data table row that the code cannot use; names the file, row and field."""


@cache
def carc_rules() -> Mapping[str, CarcRule]:
    rules = {}
    for number, row in enumerate(_rows("carc_categories.csv"), start=2):
        _check(row["category"] in CATEGORIES, "carc_categories.csv", number, "category")
        _check(row["action"] in ACTIONS, "carc_categories.csv", number, "action")
        _check(row["denial"] in ("yes", "no"), "carc_categories.csv", number, "denial")
        _check(row["appealable"] in ("yes", "no"), "carc_categories.csv", number, "appealable")
        rules[row["carc"]] = CarcRule(
            carc=row["carc"],
            category=row["category"],
            subcategory=row["subcategory"],
            denial=row["denial"] == "yes",
            appealable=row["appealable"] == "yes",
            action=row["action"],  # type: ignore[arg-type]
            recommended_action=row["recommended_action"],
            plain_reason=row["plain_reason"],
        )
    return rules


@cache
def rarc_overrides() -> Mapping[str, Mapping[str, str]]:
    overrides = {}
    for number, row in enumerate(_rows("rarc_overrides.csv"), start=2):
        _check(row["category"] in ("", *CATEGORIES), "rarc_overrides.csv", number, "category")
        _check(row["action"] in ("", *ACTIONS), "rarc_overrides.csv", number, "action")
        overrides[row["rarc"]] = row
    return overrides


@cache
def appeal_windows() -> Mapping[tuple[str, str], int]:
    windows = {}
    for number, row in enumerate(_rows("appeal_windows.csv"), start=2):
        _check(row["days"].isdigit(), "appeal_windows.csv", number, "days")
        windows[(row["key_type"], row["key"])] = int(row["days"])
    _check(("default", "*") in windows, "appeal_windows.csv", 0, "default row")
    return windows


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _check(ok: bool, table: str, row: int, field: str) -> None:
    if not ok:
        raise RuleTableError(f"{table} row {row}: {field} is not a value the code knows")


def carc_rule(carc: str) -> CarcRule:
    """The rule for a CARC; unknown codes get the `unclassified` rule."""
    code = carc.strip().upper()
    return carc_rules().get(code) or replace(UNCLASSIFIED, carc=code)


def is_denial(adjustment: Adjustment) -> bool:
    """A non-patient adjustment whose CARC refuses payment (not a contractual write-down)."""
    return adjustment.group != "PR" and carc_rule(adjustment.reason).denial


def primary_denial_reason(adjustments: Iterable[Adjustment]) -> Adjustment | None:
    """The largest non-PR adjustment other than CARC 45, preferring real denial reasons."""
    candidates = [a for a in adjustments if a.group != "PR" and a.reason.strip() != "45"]
    denials = [a for a in candidates if carc_rule(a.reason).denial]
    # Reversals carry negated amounts, so compare magnitudes.
    return max(denials or candidates, key=lambda a: abs(a.amount), default=None)


def categorize_denial(
    adjustments: Iterable[Adjustment], rarcs: Iterable[str] = ()
) -> DenialCategory:
    """Category, recommended action and appealability of a denial from its CARCs and RARCs."""
    adjustments = list(adjustments)
    primary = primary_denial_reason(adjustments) or max(
        adjustments, key=lambda a: abs(a.amount), default=None
    )
    rule = carc_rule(primary.reason) if primary else UNCLASSIFIED
    category = DenialCategory(
        category=rule.category,
        recommended_action=rule.recommended_action,
        appealable=rule.appealable,
        carc=primary.reason if primary else None,
        group=primary.group if primary else None,
        subcategory=rule.subcategory,
        action=rule.action,
    )
    overrides = rarc_overrides()
    for rarc in rarcs:
        override = overrides.get(rarc.strip().upper())
        if override is not None:
            category = _apply_override(category, override)
    return category


def _apply_override(category: DenialCategory, override: Mapping[str, str]) -> DenialCategory:
    appealable = category.appealable and override["appealable"] != "no"
    action = override["action"] or category.action
    if action == "appeal" and not appealable:
        action = "review"
    return replace(
        category,
        category=override["category"] or category.category,
        subcategory=override["subcategory"] or category.subcategory,
        recommended_action=override["recommended_action"] or category.recommended_action,
        # A remark can take appeal rights away (N211, MA130) but never grant them.
        appealable=appealable,
        action=action,  # type: ignore[arg-type]
    )


def appeal_window_days(*, payer_id: str | None = None, filing_indicator: str = "") -> int:
    """Days the payer allows for a first-level appeal: per payer, else per CLP06, else default."""
    windows = appeal_windows()
    for key in (("payer", payer_id or ""), ("filing-indicator", filing_indicator.strip())):
        if key in windows:
            return windows[key]
    return windows[("default", "*")]


def appeal_deadline(
    denied_on: date, *, payer_id: str | None = None, filing_indicator: str = ""
) -> date:
    """The last day to file a first-level appeal of a denial dated `denied_on`."""
    days = appeal_window_days(payer_id=payer_id, filing_indicator=filing_indicator)
    return denied_on + timedelta(days=days)


def plain_reasons(carcs: Iterable[str]) -> list[str]:
    """Each CARC in our own words, for letters a payer reads (never the published text)."""
    return [f"{carc_rule(c).plain_reason} (reason code {c.strip().upper()})" for c in carcs]
