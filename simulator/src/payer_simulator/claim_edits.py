"""Front-end edits a payer runs on each claim of an accepted 837 before adjudicating it.

A claim failing one is rejected on the 277CA (never paid, never denied on an 835), so the
provider can correct and resubmit it under the same claim id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from claimflow_shared.codes import npi_check_digit
from payer_simulator.reader837 import SubmittedClaim


@dataclass(frozen=True)
class FrontEndRejection:
    status: tuple[str, ...]  # 277CA STC01: category code, status code, entity code
    message: str


def _billing_npi(claim: SubmittedClaim, received_on: date) -> FrontEndRejection | None:
    npi = claim.billing_provider_npi
    if len(npi) == 10 and npi.isdigit() and npi_check_digit(npi[:9]) == int(npi[9]):
        return None
    # 562: entity's National Provider Identifier; 85: billing provider.
    return FrontEndRejection(("A7", "562", "85"), "billing provider NPI fails the check digit")


def _charges_balance(claim: SubmittedClaim, received_on: date) -> FrontEndRejection | None:
    if claim.line_charge_total == claim.total_charge:
        return None
    # 400: claim is out of balance.
    return FrontEndRejection(
        ("A7", "400"),
        f"service lines add up to {claim.line_charge_total}, CLM02 says {claim.total_charge}",
    )


def _no_future_dates(claim: SubmittedClaim, received_on: date) -> FrontEndRejection | None:
    latest = max(
        (
            d
            for line in claim.service_lines
            for d in (line.service_date, line.service_end_date)
            if d
        ),
        default=None,
    )
    if latest is None or latest <= received_on:
        return None
    # 187: date(s) of service.
    return FrontEndRejection(("A7", "187"), "date of service is after the date received")


FRONT_END_EDITS: tuple[Callable[[SubmittedClaim, date], FrontEndRejection | None], ...] = (
    _billing_npi,
    _charges_balance,
    _no_future_dates,
)


def front_end_edits(claim: SubmittedClaim, *, received_on: date) -> list[FrontEndRejection]:
    """Every front-end edit the claim fails; an empty list lets it into adjudication."""
    found = (edit(claim, received_on) for edit in FRONT_END_EDITS)
    return [rejection for rejection in found if rejection is not None]
