"""The payer's content-driven denials, as small `check_*` functions over the rule tables.

Claim checks deny the whole claim (it cannot be processed, or is a duplicate); line checks
deny single lines (timely filing, prior authorization, medical policy, bundling), so a claim
may be paid in part. The group code, CARC and RARCs of each rule are in denial_rules.csv.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from payer_simulator.model import Denial
from payer_simulator.reader837 import ServiceLine, SubmittedClaim
from payer_simulator.tables import PayerTables

# CPT (five digits, or four and F/T/U for categories II, III and lab analyses) or HCPCS
# Level II (a letter and four digits).
_PROCEDURE_CODE = re.compile(r"^(?:\d{4}[0-9FTU]|[A-V]\d{4})$")
# SBR01 ranks: the order in which payers pay; U (unknown) sorts last.
_PAYER_RANK = {code: rank for rank, code in enumerate("PSTABCDEFGH", start=1)}
ORIGINAL_FREQUENCIES = frozenset({"1", ""})


@dataclass(frozen=True)
class PolicyContext:
    tables: PayerTables
    received_on: date | None = None
    is_duplicate: bool = False

    def deny(self, rule: str, *, rarc: str = "") -> Denial:
        row = self.tables.denial_rules[rule]
        return Denial(
            rule=rule,
            group=row.group,
            carc=row.carc,
            rarcs=(rarc,) if rarc else row.rarcs,
            claim_remarks=row.claim_remarks,
        )


def payer_rank(responsibility: str) -> int:
    return _PAYER_RANK.get(responsibility, 99)


def prior_payers(claim: SubmittedClaim):
    """The other payers of a COB claim that pay before this one (SBR01 of 2320 ranks first)."""
    own = payer_rank(claim.payer_responsibility)
    return tuple(o for o in claim.other_payers if payer_rank(o.responsibility) < own)


def later_payers(claim: SubmittedClaim):
    """The other payers of a COB claim that pay after this one: crossover candidates."""
    own = payer_rank(claim.payer_responsibility)
    return tuple(
        o for o in claim.other_payers if own < payer_rank(o.responsibility) < 99 and o.payer_id
    )


# ---- claim checks -------------------------------------------------------------------------


def check_processable(claim: SubmittedClaim, ctx: PolicyContext) -> Denial | None:
    if claim.service_lines and claim.line_charge_total == claim.total_charge:
        return None
    return ctx.deny("unprocessable")


def check_diagnosis_present(claim: SubmittedClaim, ctx: PolicyContext) -> Denial | None:
    return None if claim.diagnoses else ctx.deny("missing_diagnosis")


def check_primary_payment_reported(claim: SubmittedClaim, ctx: PolicyContext) -> Denial | None:
    """A secondary (or later) claim must say what the earlier payers paid: AMT*D in 2320 or
    SVD in 2430; without it the payer cannot coordinate benefits."""
    if payer_rank(claim.payer_responsibility) == 1:
        return None
    earlier = prior_payers(claim)
    reported = any(o.paid is not None for o in earlier) or any(
        line.prior_payments for line in claim.service_lines
    )
    return None if earlier and reported else ctx.deny("primary_payment_missing")


def check_not_duplicate(claim: SubmittedClaim, ctx: PolicyContext) -> Denial | None:
    return ctx.deny("duplicate_claim") if ctx.is_duplicate else None


CLAIM_CHECKS: tuple[Callable[[SubmittedClaim, PolicyContext], Denial | None], ...] = (
    check_processable,
    check_diagnosis_present,
    check_primary_payment_reported,
    check_not_duplicate,
)


def claim_denial(claim: SubmittedClaim, ctx: PolicyContext) -> Denial | None:
    """The first claim check that fails, if any: the whole claim is denied for it."""
    for check in CLAIM_CHECKS:
        denial = check(claim, ctx)
        if denial is not None:
            return denial
    return None


# ---- line checks --------------------------------------------------------------------------


def service_date(line: ServiceLine, claim: SubmittedClaim) -> date | None:
    return line.service_date or claim.statement_from


def last_service_date(line: ServiceLine, claim: SubmittedClaim) -> date | None:
    return line.service_end_date or line.service_date or claim.statement_to


def check_timely_filing(line: ServiceLine, claim: SubmittedClaim, ctx: PolicyContext):
    """Received later than the payer's limit after the (last) date of service: CO-29. Only
    originals: a replacement or void is filed against the original's timely receipt."""
    if ctx.received_on is None or claim.frequency_code not in ORIGINAL_FREQUENCIES:
        return None
    served = last_service_date(line, claim)
    limit = ctx.tables.terms_for(claim.payer_id).timely_filing_days
    if served is None or served + timedelta(days=limit) >= ctx.received_on:
        return None
    return ctx.deny("timely_filing")


def check_procedure_code(line: ServiceLine, claim: SubmittedClaim, ctx: PolicyContext):
    if not line.procedure_code or _PROCEDURE_CODE.match(line.procedure_code):
        return None
    return ctx.deny("invalid_procedure_code")


def check_prior_authorization(line: ServiceLine, claim: SubmittedClaim, ctx: PolicyContext):
    code = line.procedure_code
    if not code or not ctx.tables.needs_prior_authorization(claim.payer_id, code):
        return None
    if claim.prior_authorization or line.prior_authorization:
        return None
    return ctx.deny("no_prior_authorization")


def line_diagnoses(line: ServiceLine, claim: SubmittedClaim) -> tuple[str, ...]:
    """The diagnoses a line is billed for: its SV107 pointers, else every claim diagnosis."""
    pointed = tuple(
        claim.diagnoses[p - 1] for p in line.diagnosis_pointers if 0 < p <= len(claim.diagnoses)
    )
    return tuple(d.replace(".", "").upper() for d in (pointed or claim.diagnoses))


def check_medical_necessity(line: ServiceLine, claim: SubmittedClaim, ctx: PolicyContext):
    rule = ctx.tables.medical_policy.get(line.procedure_code)
    if rule is None:
        return None
    diagnoses = line_diagnoses(line, claim)
    if any(d.startswith(rule.diagnosis_prefixes) for d in diagnoses):
        return None
    return ctx.deny("not_medically_necessary", rarc=rule.rarc)


LINE_CHECKS = (
    check_timely_filing,
    check_procedure_code,
    check_prior_authorization,
    check_medical_necessity,
)


def check_bundling(
    index: int, lines: Sequence[ServiceLine], claim: SubmittedClaim, ctx: PolicyContext
) -> Denial | None:
    """A column-2 code billed on the same date as its column-1 partner (among the lines not
    denied otherwise) is a component of it: CO-97, unless the pair allows a modifier and one
    of the two lines carries a bypass modifier."""
    line = lines[index]
    for pair in ctx.tables.bundled.get(line.procedure_code, ()):
        for other_index, other in enumerate(lines):
            if other_index == index or other.procedure_code != pair.column_1:
                continue
            if service_date(other, claim) != service_date(line, claim):
                continue
            modifiers = set(line.modifiers) | set(other.modifiers)
            if pair.modifier_allowed and modifiers & ctx.tables.bypass_modifiers:
                continue
            return ctx.deny("bundled_procedure")
    return None


def line_denials(claim: SubmittedClaim, ctx: PolicyContext) -> dict[int, Denial]:
    """The lines (by index) the payer's policy denies. Bundling runs last, over the lines
    still payable, so a denied column-1 line does not take its component down with it."""
    denials: dict[int, Denial] = {}
    for index, line in enumerate(claim.service_lines):
        for check in LINE_CHECKS:
            denial = check(line, claim, ctx)
            if denial is not None:
                denials[index] = denial
                break
    payable = [i for i in range(len(claim.service_lines)) if i not in denials]
    survivors = [claim.service_lines[i] for i in payable]
    for position, index in enumerate(payable):
        denial = check_bundling(position, survivors, claim, ctx)
        if denial is not None:
            denials[index] = denial
    return denials
