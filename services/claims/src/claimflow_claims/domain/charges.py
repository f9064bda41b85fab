"""Charge capture: the original claim of a coded encounter. Which form (837P or 837I), the
facility details an 837I needs, the fee schedule's prices, the payer's filing indicator, and
which of the patient's other coverages the claim names."""

from __future__ import annotations

from dataclasses import dataclass

from claimflow_claims.domain.cob import rank
from claimflow_claims.domain.fee_schedule import FeeSchedule
from claimflow_claims.domain.institutional import choose_claim_type, default_institutional_details
from claimflow_claims.domain.model import Claim, OtherPayer, build_claim, primary_coverage
from claimflow_claims.domain.scrub_tables import PayerRules
from claimflow_shared.events.models import Coverage, EncounterCoded


@dataclass(frozen=True)
class ChargedEncounter:
    claim: Claim
    # The patient's coverages that pay after the billed one, in order: the claims to the
    # next payers follow from them once this one is adjudicated.
    later_coverages: tuple[Coverage, ...]


def later_coverages(billed: Coverage, coverages: list[Coverage]) -> tuple[Coverage, ...]:
    return tuple(
        sorted(
            (c for c in coverages if c is not billed and rank(c) > rank(billed)),
            key=rank,
        )
    )


def charge_encounter(
    coded: EncounterCoded,
    *,
    claim_id: str,
    tenant_id: str,
    encounter_id: str,
    fee_schedule: FeeSchedule,
    payer_rules: PayerRules,
) -> ChargedEncounter:
    """The encounter's original claim to its primary payer, priced line by line.

    Later payers are named in 2320/2330B only for a payer that crosses claims over to them;
    any other payer would be billed after the primary adjudicates, with its payment. A line
    the fee schedule has no price for is charged 0.00, which the scrubber holds."""
    providers = coded.providers
    claim_type = choose_claim_type(
        encounter_class=coded.encounter_class,
        place_of_service=coded.place_of_service,
        billing_npi=providers.billing.npi,
        facility_npi=providers.facility_npi,
    )
    institutional = (
        default_institutional_details(
            encounter_class=coded.encounter_class, attending=providers.rendering
        )
        if claim_type == "837I"
        else None
    )
    coverage = primary_coverage(coded.coverages)
    later = later_coverages(coverage, coded.coverages)
    named = (
        tuple(OtherPayer(coverage=c, claim_filing_indicator="CI") for c in later)
        if payer_rules.crossover
        else ()
    )
    claim = build_claim(
        claim_id=claim_id,
        tenant_id=tenant_id,
        encounter_id=encounter_id,
        coded=coded,
        fee_schedule=fee_schedule,
        claim_type=claim_type,
        institutional=institutional,
        coverage=coverage,
        claim_filing_indicator=payer_rules.claim_filing_indicator,
        other_payers=named,
        unpriced_as_zero=True,
    )
    return ChargedEncounter(claim, later)
