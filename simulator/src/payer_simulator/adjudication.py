"""Deterministic, table-driven adjudication: the same seed, tables, member state and claim
always give the same remittance.

In order: claim checks (unprocessable, no diagnosis, no primary payment on a secondary,
duplicate) and the random claim denial deny the whole claim; line checks (timely filing,
procedure code, prior authorization, medical policy, bundling) and the random line denial
deny single lines; the other lines are priced under the payer's contract and the member pays
a share under the benefit plan, or, on a secondary claim, the payer pays what the primary
left to the patient. Every amount is Decimal cents and balances as an 835 must: per line
charge - sum(CAS) = paid, per claim CLP03 - sum(CAS) = CLP04, CLP05 = sum(PR).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from payer_simulator import benefits, cob
from payer_simulator.draws import draw, pick, pick_one
from payer_simulator.model import (
    DENIED,
    FORWARDED,
    PROCESSED_AS_PRIMARY,
    REVERSAL,
    ZERO,
    Adjudication,
    Adjustment,
    BenefitUse,
    Denial,
    LineAdjudication,
    reversal_of,
)
from payer_simulator.payer_policy import (
    PolicyContext,
    claim_denial,
    later_payers,
    line_denials,
    payer_rank,
)
from payer_simulator.pricing import HUNDRED, allowed_amount, contract_for
from payer_simulator.reader837 import SubmittedClaim
from payer_simulator.tables import Carrier, DenialReason, PayerTables, load_tables

__all__ = [
    "DENIED",
    "REVERSAL",
    "Adjudication",
    "Adjustment",
    "BenefitUse",
    "LineAdjudication",
    "PayerContext",
    "adjudicate",
    "denial_reasons",
    "draw",
    "payer_claim_number",
    "reprocess",
    "reversal_of",
]

# CLP02 for a processed claim follows the payer's place in coordination of benefits (SBR01).
_PROCESSED_AS = {"P": "1", "S": "2", "T": "3"}
# The patient cannot be identified as the payer's insured: the one denial reported as CLP02 4.
PATIENT_NOT_RECOGNIZED = frozenset({"31"})
# Remark on a claim crossed over: its information was forwarded to the supplemental insurer.
CROSSOVER_REMARK = "MA18"
CONTRACTUAL = "45"


@dataclass(frozen=True)
class PayerContext:
    """Everything besides the claim that adjudication depends on, as plain data."""

    tables: PayerTables = field(default_factory=load_tables)
    received_on: date | None = None  # None: timely filing is not checked
    benefit_states: Mapping[int, benefits.BenefitState] = field(default_factory=dict)
    is_duplicate: bool = False
    line_denial_rate: float = 0.0
    crossover_rate: float = 0.0
    pricing_percent: Decimal = HUNDRED


def denial_reasons() -> tuple[DenialReason, ...]:
    """The packaged draw table of random whole-claim denials."""
    return load_tables().claim_reasons()


def payer_claim_number(seed: int, claim_id: str, generation: int = 0) -> str:
    """CLP07: the payer's claim control number; a reprocessing gets a new one."""
    key = f"{seed}\x1ficn\x1f{claim_id}" + (f"\x1f{generation}" if generation else "")
    digest = hashlib.sha256(key.encode()).hexdigest()
    return str(int(digest[:15], 16) % 10**14).zfill(14)


def adjudicate(
    claim: SubmittedClaim,
    *,
    seed: int,
    denial_rate: float,
    context: PayerContext | None = None,
) -> Adjudication:
    """Adjudicate one claim; see the module docstring for the order of the rules."""
    ctx = context or PayerContext()
    tables = ctx.tables
    cid = claim.claim_id
    policy = PolicyContext(tables, received_on=ctx.received_on, is_duplicate=ctx.is_duplicate)
    contract = contract_for(tables, claim.payer_id, seed=seed)
    processed_as = _PROCESSED_AS.get(claim.payer_responsibility, PROCESSED_AS_PRIMARY)
    base = Adjudication(
        claim=claim,
        status=processed_as,
        payer_claim_number=payer_claim_number(seed, cid),
        lines=(),
        received_on=ctx.received_on,
        contract=contract.contract,
    )
    denial = claim_denial(claim, policy)
    if denial is None and draw(seed, cid, "denial") < denial_rate:
        denial = _drawn_denial(tables.claim_reasons(), seed, cid, "denial")
    if denial is not None:
        return _deny_claim(base, denial)

    denials = line_denials(claim, policy)
    denials.update(_random_line_denial(claim, denials, ctx, seed))
    if len(denials) == len(claim.service_lines):
        first = denials[0]
        lines = tuple(_denied_line(line, denials[i]) for i, line in enumerate(claim.service_lines))
        remarks = _unique(r for d in denials.values() for r in d.claim_remarks)
        return replace(base, lines=lines, denial_reason=first.carc, claim_remarks=remarks)

    allowed = {
        index: allowed_amount(line, claim, contract, tables, percent=ctx.pricing_percent)
        for index, line in enumerate(claim.service_lines)
        if index not in denials
    }
    if payer_rank(claim.payer_responsibility) > 1:
        paid_lines, use, plan = _pay_as_later_payer(claim, allowed), (), ""
    else:
        paid_lines, use, plan = _pay_as_primary(claim, allowed, ctx, seed)
    lines = tuple(
        paid_lines[index] if index in paid_lines else _denied_line(line, denials[index])
        for index, line in enumerate(claim.service_lines)
    )
    status = processed_as
    remarks = [r for d in denials.values() for r in d.claim_remarks]
    carrier = crossover_carrier(claim, ctx, seed)
    if carrier is not None:
        status = FORWARDED.get(status, status)
        remarks.append(CROSSOVER_REMARK)
    return replace(
        base,
        status=status,
        lines=lines,
        claim_remarks=_unique(remarks),
        crossover_carrier=carrier,
        benefit_use=use,
        plan=plan,
    )


def crossover_carrier(claim: SubmittedClaim, ctx: PayerContext, seed: int) -> Carrier | None:
    """Where the claim goes next: the next payer the 837 names (2320/2330B ranked after this
    one), else the member's configured crossover, else, for a seeded share of members, the
    payer's supplemental carrier."""
    later = sorted(later_payers(claim), key=lambda o: payer_rank(o.responsibility))
    if later:
        nxt = later[0]
        return Carrier(nxt.payer_id, nxt.payer_name or nxt.payer_id)
    configured = ctx.tables.members.get((claim.payer_id, claim.member_id))
    if configured is not None and configured.crossover_carrier is not None:
        return configured.crossover_carrier
    seeded = draw(seed, claim.payer_id, claim.member_id, "crossover") < ctx.crossover_rate
    if payer_rank(claim.payer_responsibility) == 1 and seeded:
        return ctx.tables.terms_for(claim.payer_id).crossover_carrier
    return None


def reprocess(
    original: Adjudication,
    *,
    seed: int,
    denial_rate: float,
    context: PayerContext,
) -> tuple[Adjudication, Adjudication]:
    """The payer reprocesses a paid claim: the reversal of the original and the corrected
    adjudication (repriced per a reprocessing reason, a new payer claim number, REF*F8 naming
    the original's). `context` must hold the member state the original was adjudicated with."""
    claim = original.claim
    reason = pick(context.tables.reprocessing_reasons, draw(seed, claim.claim_id, "reprocess"))
    corrected = adjudicate(
        claim,
        seed=seed,
        denial_rate=denial_rate,
        context=replace(context, pricing_percent=reason.allowed_percent),
    )
    corrected = replace(
        corrected,
        payer_claim_number=payer_claim_number(seed, claim.claim_id, generation=1),
        original_claim_number=original.payer_claim_number,
    )
    return reversal_of(original, received_on=context.received_on), corrected


# ---- pieces -------------------------------------------------------------------------------


def _drawn_denial(reasons: tuple[DenialReason, ...], seed: int, subject: str, what: str) -> Denial:
    reason = pick(reasons, draw(seed, subject, f"{what}-reason"))
    rarcs = (pick_one(reason.rarcs, draw(seed, subject, f"{what}-rarc")),) if reason.rarcs else ()
    return Denial(f"random_{reason.scope}_denial", "CO", reason.carc, rarcs, reason.claim_remarks)


def _random_line_denial(
    claim: SubmittedClaim, denials: Mapping[int, Denial], ctx: PayerContext, seed: int
) -> dict[int, Denial]:
    """A seeded share of claims with two or more payable lines has one of them denied."""
    cid = claim.claim_id
    payable = [i for i in range(len(claim.service_lines)) if i not in denials]
    if len(payable) < 2 or draw(seed, cid, "line-denial") >= ctx.line_denial_rate:
        return {}
    reasons = ctx.tables.line_reasons()
    if not reasons:
        return {}
    index = payable[min(int(draw(seed, cid, "line-denial-line") * len(payable)), len(payable) - 1)]
    return {index: _drawn_denial(reasons, seed, cid, "line-denial")}


def _deny_claim(base: Adjudication, denial: Denial) -> Adjudication:
    claim = base.claim
    lines = tuple(_denied_line(line, denial) for line in claim.service_lines)
    unmatched = claim.total_charge - claim.line_charge_total
    claim_adjustments = (Adjustment(denial.group, denial.carc, unmatched),) if unmatched else ()
    return replace(
        base,
        status=DENIED if denial.carc in PATIENT_NOT_RECOGNIZED else base.status,
        lines=lines,
        claim_adjustments=claim_adjustments,
        denial_reason=denial.carc,
        claim_remarks=denial.claim_remarks,
    )


def _denied_line(line, denial: Denial) -> LineAdjudication:
    adjustments = (Adjustment(denial.group, denial.carc, line.charge),) if line.charge else ()
    return LineAdjudication(
        line=line,
        allowed=ZERO,
        paid=ZERO,
        adjustments=adjustments,
        remarks=denial.rarcs,
        denial=denial.carc,
    )


def _paid_line(line, allowed: Decimal, paid: Decimal, others: tuple[Adjustment, ...]):
    contractual = line.charge - allowed
    adjustments = ((Adjustment("CO", CONTRACTUAL, contractual),) if contractual else ()) + others
    return LineAdjudication(line=line, allowed=allowed, paid=paid, adjustments=adjustments)


def _pay_as_primary(
    claim: SubmittedClaim, allowed: Mapping[int, Decimal], ctx: PayerContext, seed: int
) -> tuple[dict[int, LineAdjudication], tuple[BenefitUse, ...], str]:
    tables = ctx.tables
    plan = benefits.member_plan(tables, claim, seed=seed)
    member = benefits.member_key(claim)
    priced = [
        benefits.PricedLine(
            index,
            claim.service_lines[index],
            amount,
            benefits.service_year(claim.service_lines[index], claim, ctx.received_on),
        )
        for index, amount in allowed.items()
    ]
    states = {
        year: ctx.benefit_states.get(year)
        or benefits.starting_state(plan, seed=seed, member=member, year=year)
        for year in {p.year for p in priced}
    }
    shares, use = benefits.cost_share(priced, claim=claim, plan=plan, tables=tables, states=states)
    paid = {}
    for item in priced:
        patient = shares[item.index]
        amount = item.allowed - sum((a.amount for a in patient), ZERO)
        paid[item.index] = _paid_line(item.line, item.allowed, amount, patient)
    return paid, use, plan.plan


def _pay_as_later_payer(
    claim: SubmittedClaim, allowed: Mapping[int, Decimal]
) -> dict[int, LineAdjudication]:
    outcomes = cob.prior_outcomes(claim)
    paid = {}
    for index, amount in allowed.items():
        line = claim.service_lines[index]
        pays, adjustments = cob.secondary_line_adjustments(line.charge, amount, outcomes[index])
        paid[index] = LineAdjudication(
            line=line, allowed=amount, paid=pays, adjustments=adjustments
        )
    return paid


def _unique(codes) -> tuple[str, ...]:
    return tuple(dict.fromkeys(codes))
