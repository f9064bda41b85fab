"""A/R aging buckets, one definition for patient statements and payer KPIs alike."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

BUCKETS = ("0-30", "31-60", "61-90", "91-120", "120+")
_UPPER_BOUNDS = ((30, "0-30"), (60, "31-60"), (90, "61-90"), (120, "91-120"))


def aging_bucket(days: int) -> str:
    """Days outstanding -> bucket; a date in the future (negative days) counts as current."""
    for upper, name in _UPPER_BOUNDS:
        if days <= upper:
            return name
    return "120+"


def age_in_days(since: date, as_of: date) -> int:
    return (as_of - since).days


def aging_totals(items: Iterable[tuple[date, Decimal]], as_of: date) -> dict[str, Decimal]:
    """(since, amount) pairs summed per bucket; every bucket present, zero when empty."""
    totals = {name: Decimal("0.00") for name in BUCKETS}
    for since, amount in items:
        totals[aging_bucket(age_in_days(since, as_of))] += amount
    return totals
