"""Revenue-cycle KPIs per tenant and payer, computed from claim facts (one per event).

Definitions (claims are counted once, by their original submission):
- clean claim rate: originals submitted in the period that no front end (scrubber, 999,
  277CA) rejected / originals submitted in the period.
- first-pass resolution: adjudicated originals whose first remittance paid them in full,
  with no rejection and no resubmission / adjudicated originals.
- initial denial rate: adjudicated originals whose first remittance denied some or all of
  the claim / adjudicated originals; by category of that first denial too.
- net collection rate: payer and patient payments on the period's originals (to `as_of`) /
  (their charges - contractual adjustments).
- A/R: per claim, charge - payer paid - contractual - written off - patient paid, as of a day;
  aged from the first submission into 0-30, 31-60, 61-90, 91-120 and 120+ days.
- days in A/R: A/R / average daily charges submitted over the trailing window (90 days).
- cost to collect: the counts and amounts a cost model needs (collected, claims, resubmissions,
  appeals, write-offs, statements); `cost_to_collect` divides a cost by what was collected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from claimflow_remittance.domain.aging import BUCKETS, aging_bucket
from claimflow_remittance.domain.denials import CATEGORIES, carc_rule, categorize_denial
from claimflow_remittance.domain.era_model import Adjustment

ZERO = Decimal("0.00")
RATE = Decimal("0.0001")
FactKind = Literal[
    "submitted",
    "resubmitted",
    "rejected",
    "remitted",
    "patient-paid",
    "written-off",
    "appealed",
    "statement-sent",
]


@dataclass(frozen=True)
class ClaimFact:
    """One event as the KPIs need it. Amounts by kind: submitted/resubmitted `amount` =
    charge; patient-paid and written-off `amount`; remitted `paid`, `contractual`, `denied`."""

    kind: FactKind
    tenant_id: str
    claim_id: str
    on: date
    payer_id: str | None = None
    amount: Decimal = ZERO
    paid: Decimal = ZERO
    contractual: Decimal = ZERO
    denied: Decimal = ZERO
    status: str | None = None  # remitted: paid, partially-paid, denied, reversed
    category: str | None = None  # remitted with a denial: its category


def remitted_fact(
    *,
    tenant_id: str,
    claim_id: str,
    on: date,
    payer_id: str | None,
    status: str,
    paid: Decimal,
    adjustments: Sequence[Adjustment],
    rarcs: Sequence[str] = (),
) -> ClaimFact:
    """A `remitted` fact from what `remittance.received` carries (claim and line CAS)."""
    contractual = sum(
        (a.amount for a in adjustments if a.group == "CO" and not carc_rule(a.reason).denial),
        ZERO,
    )
    denied = sum(
        (a.amount for a in adjustments if a.group != "PR" and carc_rule(a.reason).denial), ZERO
    )
    has_denial = status == "denied" or denied > 0
    return ClaimFact(
        kind="remitted",
        tenant_id=tenant_id,
        claim_id=claim_id,
        on=on,
        payer_id=payer_id,
        paid=paid,
        contractual=contractual,
        denied=denied,
        status=status,
        category=categorize_denial(adjustments, rarcs).category if has_denial else None,
    )


@dataclass(frozen=True)
class CostToCollectInputs:
    collected: Decimal
    claims_submitted: int
    resubmissions: int
    rejections: int
    appeals: int
    write_offs: int
    written_off: Decimal
    statements_sent: int


@dataclass(frozen=True)
class Kpis:
    tenant_id: str
    payer_id: str | None  # None: every payer of the tenant
    claims_submitted: int
    clean_claim_rate: Decimal | None
    claims_adjudicated: int
    first_pass_resolution_rate: Decimal | None
    initial_denial_rate: Decimal | None
    denial_rate_by_category: dict[str, Decimal]
    net_collection_rate: Decimal | None
    ar_total: Decimal
    ar_aging: dict[str, Decimal]
    days_in_ar: Decimal | None
    cost_to_collect: CostToCollectInputs = field(repr=False)


@dataclass
class _Claim:
    tenant_id: str
    claim_id: str
    payer_id: str | None = None
    submitted_on: date | None = None
    charge: Decimal = ZERO
    rejected: bool = False
    resubmitted: bool = False
    remits: list[ClaimFact] = field(default_factory=list)
    patient_paid: Decimal = ZERO
    written_off: Decimal = ZERO


def compute_kpis(
    facts: Iterable[ClaimFact],
    *,
    tenant_id: str,
    period_start: date,
    period_end: date,
    payer_id: str | None = None,
    as_of: date | None = None,
    ar_window_days: int = 90,
) -> Kpis:
    """The KPIs of one tenant (and optionally one payer) for claims first submitted in the
    period, with payments, A/R and aging as of `as_of` (the period's end by default)."""
    as_of = as_of or period_end
    facts = [f for f in facts if f.tenant_id == tenant_id and f.on <= as_of]
    claims = _claims(facts)
    if payer_id is not None:
        claims = {k: c for k, c in claims.items() if c.payer_id == payer_id}
        keep = set(claims)
        facts = [f for f in facts if f.claim_id in keep]
    cohort = [
        c
        for c in claims.values()
        if c.submitted_on and period_start <= c.submitted_on <= period_end
    ]
    adjudicated = [c for c in cohort if _first_remit(c) is not None]

    first_remits = [_first_remit(c) for c in adjudicated]
    denied_first = [r for r in first_remits if r is not None and _is_denial(r)]
    by_category = {category: 0 for category in CATEGORIES}
    for remit in denied_first:
        by_category[remit.category or "other"] += 1

    collected_on_cohort = sum((_paid(c) for c in cohort), ZERO)
    net_base = sum((c.charge - _contractual(c) for c in cohort), ZERO)

    aging = {bucket: ZERO for bucket in BUCKETS}
    for claim in claims.values():
        if claim.submitted_on is None:
            continue
        outstanding = _outstanding(claim)
        if outstanding > 0:
            aging[aging_bucket((as_of - claim.submitted_on).days)] += outstanding
    ar_total = sum(aging.values(), ZERO)
    window_start = as_of - timedelta(days=ar_window_days - 1)
    window_charges = sum(
        (c.charge for c in claims.values() if c.submitted_on and window_start <= c.submitted_on),
        ZERO,
    )
    daily = window_charges / ar_window_days

    in_period = [f for f in facts if period_start <= f.on <= period_end]
    return Kpis(
        tenant_id=tenant_id,
        payer_id=payer_id,
        claims_submitted=len(cohort),
        clean_claim_rate=_rate(sum(1 for c in cohort if not c.rejected), len(cohort)),
        claims_adjudicated=len(adjudicated),
        first_pass_resolution_rate=_rate(
            sum(1 for c in adjudicated if _resolved_first_pass(c)), len(adjudicated)
        ),
        initial_denial_rate=_rate(len(denied_first), len(adjudicated)),
        denial_rate_by_category={
            category: _rate(count, len(adjudicated)) or Decimal("0.0000")
            for category, count in by_category.items()
        },
        net_collection_rate=_rate(collected_on_cohort, net_base),
        ar_total=ar_total,
        ar_aging=aging,
        days_in_ar=(ar_total / daily).quantize(Decimal("0.1"), ROUND_HALF_UP) if daily else None,
        cost_to_collect=CostToCollectInputs(
            collected=sum(
                (
                    f.paid if f.kind == "remitted" else f.amount
                    for f in in_period
                    if f.kind in ("remitted", "patient-paid")
                ),
                ZERO,
            ),
            claims_submitted=sum(1 for f in in_period if f.kind == "submitted"),
            resubmissions=sum(1 for f in in_period if f.kind == "resubmitted"),
            rejections=sum(1 for f in in_period if f.kind == "rejected"),
            appeals=sum(1 for f in in_period if f.kind == "appealed"),
            write_offs=sum(1 for f in in_period if f.kind == "written-off"),
            written_off=sum((f.amount for f in in_period if f.kind == "written-off"), ZERO),
            statements_sent=sum(1 for f in in_period if f.kind == "statement-sent"),
        ),
    )


def kpis_by_payer(
    facts: Iterable[ClaimFact], *, tenant_id: str, period_start: date, period_end: date,
    as_of: date | None = None,
) -> dict[str | None, Kpis]:  # fmt: skip
    """The tenant's KPIs overall (key None) and for each payer it submitted to."""
    facts = list(facts)
    payers = sorted(
        {f.payer_id for f in facts if f.tenant_id == tenant_id and f.kind == "submitted"} - {None}
    )
    window = {"period_start": period_start, "period_end": period_end, "as_of": as_of}
    result: dict[str | None, Kpis] = {None: compute_kpis(facts, tenant_id=tenant_id, **window)}
    for payer in payers:
        result[payer] = compute_kpis(facts, tenant_id=tenant_id, payer_id=payer, **window)
    return result


def cost_to_collect(total_cost: Decimal, inputs: CostToCollectInputs) -> Decimal | None:
    """Cost of collecting as a share of what was collected (industry: 2-4%)."""
    return _rate(total_cost, inputs.collected)


def _claims(facts: Sequence[ClaimFact]) -> Mapping[str, _Claim]:
    claims: dict[str, _Claim] = {}
    for fact in sorted(facts, key=lambda f: f.on):
        claim = claims.setdefault(fact.claim_id, _Claim(fact.tenant_id, fact.claim_id))
        if fact.kind == "submitted" and claim.submitted_on is None:
            claim.submitted_on, claim.charge = fact.on, fact.amount
            claim.payer_id = fact.payer_id
        elif fact.kind == "resubmitted":
            claim.resubmitted = True
        elif fact.kind == "rejected":
            claim.rejected = True
        elif fact.kind == "remitted":
            claim.remits.append(fact)
        elif fact.kind == "patient-paid":
            claim.patient_paid += fact.amount
        elif fact.kind == "written-off":
            claim.written_off += fact.amount
    return claims


def _submitted_between(claim: _Claim, start: date, end: date) -> bool:
    return claim.submitted_on is not None and start <= claim.submitted_on <= end


def _first_remit(claim: _Claim) -> ClaimFact | None:
    return next((r for r in claim.remits if r.status != "reversed"), None)


def _is_denial(remit: ClaimFact) -> bool:
    return remit.status == "denied" or remit.denied > 0


def _resolved_first_pass(claim: _Claim) -> bool:
    first = _first_remit(claim)
    return (
        first is not None
        and first.status == "paid"
        and not _is_denial(first)
        and not claim.rejected
        and not claim.resubmitted
    )


def _paid(claim: _Claim) -> Decimal:
    return sum((r.paid for r in claim.remits), ZERO) + claim.patient_paid


def _contractual(claim: _Claim) -> Decimal:
    return sum((r.contractual for r in claim.remits), ZERO)


def _outstanding(claim: _Claim) -> Decimal:
    return claim.charge - _paid(claim) - _contractual(claim) - claim.written_off


def _rate(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATE, ROUND_HALF_UP)


def kpi_fact(
    event_type: str, *, tenant_id: str, occurred_on: date, payload, payer_id: str | None = None
) -> ClaimFact | None:
    """The KPI fact a spine event stands for, or None when it stands for none.

    `claim.submitted` (frequency 1 original, 7 replacement; 8 voids count for nothing),
    `claim.rejected` and `remittance.received`; `payer_id` defaults to the claim's payer.
    Patient payments, write-offs, appeals and statements are the remittance service's own
    records and become `ClaimFact`s directly.
    """
    claim_id = payload.claim_id
    if event_type == "claim.submitted":
        kind = {"1": "submitted", "7": "resubmitted"}.get(payload.frequency_code)
        if kind is None:
            return None
        return ClaimFact(
            kind,  # type: ignore[arg-type]
            tenant_id,
            claim_id,
            occurred_on,
            payer_id=payer_id or payload.payer.payer_id,
            amount=payload.total_charge,
        )
    if event_type == "claim.rejected":
        return ClaimFact("rejected", tenant_id, claim_id, occurred_on, payer_id=payer_id)
    if event_type == "remittance.received":
        adjustments = [
            Adjustment(str(a.group), a.carc, a.amount, None)
            for a in [
                *payload.claim_adjustments,
                *(x for ln in payload.lines for x in ln.adjustments),
            ]
        ]
        rarcs = [*payload.rarcs, *(r for line in payload.lines for r in line.rarcs)]
        return remitted_fact(
            tenant_id=tenant_id,
            claim_id=claim_id,
            on=occurred_on,
            payer_id=payer_id or payload.payment.payer_id,
            status=payload.status,
            paid=payload.paid,
            adjustments=adjustments,
            rarcs=rarcs,
        )
    return None
