"""Denial categories and recommended actions per CARC, from `data/carc_categories.csv`.

RARCs that change the picture (for example MA130: unprocessable, no appeal rights) come from
`data/rarc_overrides.csv`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from claimflow_remittance.domain.era_model import Adjustment

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class CarcRule:
    carc: str
    category: str
    denial: bool
    appealable: bool
    recommended_action: str
    description: str


@dataclass(frozen=True)
class DenialCategory:
    """Why a claim was denied and what to do next; `carc`/`group` name the primary reason."""

    category: str
    recommended_action: str
    appealable: bool
    carc: str | None = None
    group: str | None = None


UNCLASSIFIED = CarcRule(
    carc="",
    category="unclassified",
    # An unknown reason is treated as a denial so that someone looks at it.
    denial=True,
    appealable=True,
    recommended_action="Reason code not in our table: read the remark codes and work it by hand",
    description="Unknown claim adjustment reason code",
)


@cache
def carc_rules() -> Mapping[str, CarcRule]:
    with (DATA / "carc_categories.csv").open(newline="", encoding="utf-8") as f:
        return {
            row["carc"]: CarcRule(
                carc=row["carc"],
                category=row["category"],
                denial=row["denial"] == "yes",
                appealable=row["appealable"] == "yes",
                recommended_action=row["recommended_action"],
                description=row["description"],
            )
            for row in csv.DictReader(f)
        }


@cache
def rarc_overrides() -> Mapping[str, Mapping[str, str]]:
    with (DATA / "rarc_overrides.csv").open(newline="", encoding="utf-8") as f:
        return {row["rarc"]: row for row in csv.DictReader(f)}


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
    )
    overrides = rarc_overrides()
    for rarc in rarcs:
        override = overrides.get(rarc.strip().upper())
        if override is not None:
            category = _apply_override(category, override)
    return category


def _apply_override(category: DenialCategory, override: Mapping[str, str]) -> DenialCategory:
    return replace(
        category,
        category=override["category"] or category.category,
        recommended_action=override["recommended_action"] or category.recommended_action,
        # A remark can take appeal rights away (N211, MA130) but never grant them.
        appealable=category.appealable and override["appealable"] != "no",
    )
