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


@dataclass(frozen=True)
class FrontEndContext:
    received_on: date
    # Whether a payer claim number names a claim on file that may still be replaced or
    # voided; None when the caller has no claims on file to look in.
    original_on_file: Callable[[str], bool] | None = None


def _billing_npi(claim: SubmittedClaim, ctx: FrontEndContext) -> FrontEndRejection | None:
    npi = claim.billing_provider_npi
    if (
        len(npi) == 10
        and npi.isascii()
        and npi.isdigit()
        and npi_check_digit(npi[:9]) == int(npi[9])
    ):
        return None
    # 562: entity's National Provider Identifier; 85: billing provider.
    return FrontEndRejection(("A7", "562", "85"), "billing provider NPI fails the check digit")


def _charges_balance(claim: SubmittedClaim, ctx: FrontEndContext) -> FrontEndRejection | None:
    if claim.line_charge_total == claim.total_charge:
        return None
    # 400: claim is out of balance.
    return FrontEndRejection(
        ("A7", "400"),
        f"service lines add up to {claim.line_charge_total}, CLM02 says {claim.total_charge}",
    )


def _no_future_dates(claim: SubmittedClaim, ctx: FrontEndContext) -> FrontEndRejection | None:
    latest = max(
        (
            d
            for line in claim.service_lines
            for d in (line.service_date, line.service_end_date)
            if d
        ),
        default=None,
    )
    if latest is None or latest <= ctx.received_on:
        return None
    # 187: date(s) of service.
    return FrontEndRejection(("A7", "187"), "date of service is after the date received")


def _original_claim(claim: SubmittedClaim, ctx: FrontEndContext) -> FrontEndRejection | None:
    """A replacement (7) or void (8) must name, in REF*F8, the payer claim number of a claim
    the payer has on file and that was not voided or replaced already."""
    if claim.frequency_code not in {"7", "8"}:
        return None
    number = claim.original_claim_number
    # 464: payer assigned claim control number.
    if not number:
        return FrontEndRejection(
            ("A6", "464"), "a replacement or void needs the original's payer claim number"
        )
    if ctx.original_on_file is not None and not ctx.original_on_file(number):
        return FrontEndRejection(
            ("A7", "464"),
            "REF*F8 names no claim on file that can still be replaced or voided",
        )
    return None


FRONT_END_EDITS: tuple[
    Callable[[SubmittedClaim, FrontEndContext], FrontEndRejection | None], ...
] = (
    _billing_npi,
    _charges_balance,
    _no_future_dates,
    _original_claim,
)


def front_end_edits(
    claim: SubmittedClaim,
    *,
    received_on: date,
    original_on_file: Callable[[str], bool] | None = None,
) -> list[FrontEndRejection]:
    """Every front-end edit the claim fails; an empty list lets it into adjudication."""
    ctx = FrontEndContext(received_on, original_on_file)
    found = (edit(claim, ctx) for edit in FRONT_END_EDITS)
    return [rejection for rejection in found if rejection is not None]
