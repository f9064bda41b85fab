"""The member's share of an allowed amount under the member's benefit plan: a copay per visit
type (PR-3), the yearly deductible (PR-1), then coinsurance (PR-2), capped by the yearly
out-of-pocket maximum; preventive care costs the member nothing. The state carried from claim
to claim is how much of the deductible and of the out-of-pocket maximum is met per year."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from payer_simulator.draws import draw, pick, pick_one
from payer_simulator.model import ZERO, Adjustment, BenefitUse
from payer_simulator.pricing import HUNDRED, money
from payer_simulator.reader837 import ServiceLine, SubmittedClaim
from payer_simulator.tables import BenefitPlan, PayerTables

DEDUCTIBLE = "1"
COINSURANCE = "2"
COPAY = "3"


@dataclass(frozen=True)
class BenefitState:
    """How much of one year's deductible and out-of-pocket maximum the member has met."""

    deductible_met: Decimal = ZERO
    out_of_pocket_met: Decimal = ZERO

    def after(self, use: BenefitUse) -> BenefitState:
        return BenefitState(
            self.deductible_met + use.deductible, self.out_of_pocket_met + use.out_of_pocket
        )


@dataclass(frozen=True)
class PricedLine:
    """A payable line with its allowed amount, in the plan year of its date of service."""

    index: int
    line: ServiceLine
    allowed: Decimal
    year: int


def member_key(claim: SubmittedClaim) -> str:
    """Who the accumulators belong to: the patient under this member id at this payer.
    Hashed, so the simulator's tables do not hold names as keys."""
    parts = (
        claim.payer_id,
        claim.member_id,
        claim.patient_last_name.upper(),
        claim.patient_first_name.upper(),
        str(claim.patient_birth_date or ""),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def member_plan(tables: PayerTables, claim: SubmittedClaim, *, seed: int) -> BenefitPlan:
    """The plan members.csv configures for the member, else one the seed draws from the
    payer's plans, the same for every claim of the member."""
    configured = tables.members.get((claim.payer_id, claim.member_id))
    if configured is not None and configured.plan:
        return tables.plans[configured.plan]
    plans = tables.plans_for(claim.payer_id)
    return pick(plans, draw(seed, claim.payer_id, claim.member_id, "plan"))


def service_year(line: ServiceLine, claim: SubmittedClaim, received_on: date | None) -> int:
    """The plan year a line counts in: the calendar year of its (first) date of service."""
    served = line.service_date or claim.statement_from or received_on
    return served.year if served else 0


def states_before(
    claim: SubmittedClaim,
    plan: BenefitPlan,
    stored: Mapping[int, BenefitState],
    *,
    seed: int,
    received_on: date | None,
) -> dict[int, BenefitState]:
    """The member's state in every year the claim touches: what is on file, else the
    seeded starting state of a member first seen that year."""
    member = member_key(claim)
    years = {service_year(line, claim, received_on) for line in claim.service_lines}
    return {
        year: stored.get(year) or starting_state(plan, seed=seed, member=member, year=year)
        for year in years
    }


def starting_state(plan: BenefitPlan, *, seed: int, member: str, year: int) -> BenefitState:
    """The state of a member the simulator has not seen in `year`: part of the deductible may
    be met already (met elsewhere earlier in the year), and counts towards out of pocket."""
    percents = [str(p) for p in plan.starting_met_percents]
    share = Decimal(pick_one(percents, draw(seed, member, year, "deductible-met")))
    met = money(plan.deductible * share / HUNDRED)
    return BenefitState(deductible_met=met, out_of_pocket_met=met)


def cost_share(
    priced: Sequence[PricedLine],
    *,
    claim: SubmittedClaim,
    plan: BenefitPlan,
    tables: PayerTables,
    states: Mapping[int, BenefitState],
) -> tuple[dict[int, tuple[Adjustment, ...]], tuple[BenefitUse, ...]]:
    """The PR adjustments of each priced line (by index) and what the claim adds to the
    member's accumulators; `states` holds the state before this claim for every year."""
    current = dict(states)
    start = dict(states)
    copays_taken: set[str] = set()
    shares: dict[int, tuple[Adjustment, ...]] = {}
    for item in priced:
        state = current[item.year]
        out_of_pocket_left = max(ZERO, plan.out_of_pocket_max - state.out_of_pocket_met)
        visit = tables.visit_type(item.line.procedure_code, claim.place_of_service)
        copay = tables.copays.get((plan.plan, visit.visit_type)) if visit is not None else None
        adjustments: list[Adjustment] = []
        deductible = ZERO
        if visit is not None and visit.cost_share == "none":
            pass  # preventive care: no member cost share
        elif copay is not None:
            # One copay per visit type and claim; a second line of the visit is covered by it.
            if visit.visit_type not in copays_taken:
                copays_taken.add(visit.visit_type)
                amount = min(copay, item.allowed, out_of_pocket_left)
                adjustments.append(Adjustment("PR", COPAY, amount))
        else:
            deductible_left = max(ZERO, plan.deductible - state.deductible_met)
            deductible = min(deductible_left, item.allowed, out_of_pocket_left)
            coinsurance = money((item.allowed - deductible) * plan.coinsurance_percent / HUNDRED)
            coinsurance = min(coinsurance, out_of_pocket_left - deductible)
            adjustments += [
                Adjustment("PR", DEDUCTIBLE, deductible),
                Adjustment("PR", COINSURANCE, coinsurance),
            ]
        adjustments = [a for a in adjustments if a.amount]
        shares[item.index] = tuple(adjustments)
        spent = sum((a.amount for a in adjustments), ZERO)
        current[item.year] = BenefitState(
            state.deductible_met + deductible, state.out_of_pocket_met + spent
        )
    use = tuple(
        BenefitUse(
            year,
            current[year].deductible_met - start[year].deductible_met,
            current[year].out_of_pocket_met - start[year].out_of_pocket_met,
        )
        for year in sorted(current)
        if current[year] != start[year]
    )
    return shares, use
