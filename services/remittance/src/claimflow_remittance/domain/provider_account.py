"""PLB provider-level adjustments posted to the provider's account with the payer: interest,
offsets of earlier overpayments, forward balances and the rest, kind from `data/plb_reasons.csv`.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from claimflow_remittance.domain.era_model import Remittance

DATA = Path(__file__).resolve().parent / "data"
UNKNOWN_KIND = "unclassified"


@dataclass(frozen=True)
class PlbReason:
    code: str
    kind: str
    note: str


@cache
def plb_reasons() -> Mapping[str, PlbReason]:
    with (DATA / "plb_reasons.csv").open(newline="", encoding="utf-8") as f:
        return {row["code"]: PlbReason(**row) for row in csv.DictReader(f)}


def plb_reason(code: str) -> PlbReason:
    code = code.strip().upper()
    return plb_reasons().get(code) or PlbReason(code, UNKNOWN_KIND, "Reason code not in our table")


@dataclass(frozen=True)
class ProviderAccountEntry:
    """One PLB amount as the provider's account sees it: `amount` is money to the provider.

    PLB amounts are signed from the payer's side (positive reduces the payment), so interest
    paid arrives negative and becomes a positive entry here; a recouped overpayment the reverse.
    """

    payer_id: str | None
    payer_name: str
    provider_id: str
    fiscal_period_end: date | None
    reason: str
    kind: str
    reference: str
    amount: Decimal
    trace_number: str
    position: int


def provider_account_entries(remittance: Remittance) -> tuple[ProviderAccountEntry, ...]:
    """Every PLB pair of one transaction as a provider account entry, in file order."""
    return tuple(
        ProviderAccountEntry(
            payer_id=remittance.payer.payer_id,
            payer_name=remittance.payer.name,
            provider_id=plb.provider_id,
            fiscal_period_end=plb.fiscal_period_end,
            reason=plb.reason,
            kind=plb_reason(plb.reason).kind,
            reference=plb.reference,
            amount=-plb.amount,
            trace_number=remittance.trace.number,
            position=plb.position,
        )
        for plb in remittance.provider_adjustments
    )


def balance_by_kind(entries: list[ProviderAccountEntry]) -> dict[str, Decimal]:
    """What the entries add up to per kind (interest, offset, forward-balance, ...)."""
    totals: dict[str, Decimal] = {}
    for entry in entries:
        totals[entry.kind] = totals.get(entry.kind, Decimal("0.00")) + entry.amount
    return totals
