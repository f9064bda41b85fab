"""The simulated payers' rule tables: contracts, fee schedules, benefit plans, medical
policy, bundling, prior authorization and denial codes, loaded from the CSV files in
`data/` (synthetic, see each file's header). A folder given as `SIMULATOR_TABLES_DIR` may
hold replacements for any of them, so a test or a demo can seed its own payer."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib.resources import files
from pathlib import Path

ANY_PAYER = "*"
# The content-driven rules of payer_policy.py; denial_rules.csv must give codes for each.
DENIAL_RULES = frozenset(
    {
        "unprocessable",
        "missing_diagnosis",
        "invalid_procedure_code",
        "primary_payment_missing",
        "duplicate_claim",
        "timely_filing",
        "no_prior_authorization",
        "not_medically_necessary",
        "bundled_procedure",
    }
)
RECOVERY_METHODS = frozenset({"immediate", "delayed"})
COST_SHARES = frozenset({"none", "copay"})
DENIAL_SCOPES = frozenset({"claim", "line"})


class TableError(ValueError):
    """A rule table that cannot be used: names the file, the line and the column."""


@dataclass(frozen=True)
class Carrier:
    """A payer a claim is crossed over to (NM1*TT of the 835)."""

    payer_id: str
    name: str


@dataclass(frozen=True)
class PayerTerms:
    payer_id: str
    contract: str  # empty: drawn by the seed from contracts.csv
    timely_filing_days: int
    interest_percent: Decimal
    overpayment_recovery: str  # immediate | delayed
    crossover_carrier: Carrier | None


@dataclass(frozen=True)
class Contract:
    contract: str
    weight: int
    professional_percent: Decimal
    institutional_percent: Decimal


@dataclass(frozen=True)
class BenefitPlan:
    payer_id: str
    plan: str
    weight: int
    deductible: Decimal
    coinsurance_percent: Decimal
    out_of_pocket_max: Decimal
    starting_met_percents: tuple[int, ...]


@dataclass(frozen=True)
class CodeRange:
    code_from: str
    code_to: str

    def holds(self, code: str) -> bool:
        return len(code) == len(self.code_from) and self.code_from <= code <= self.code_to


@dataclass(frozen=True)
class VisitType:
    visit_type: str
    codes: CodeRange
    places_of_service: frozenset[str]
    cost_share: str  # none | copay


@dataclass(frozen=True)
class CoverageRule:
    procedure_code: str
    diagnosis_prefixes: tuple[str, ...]
    rarc: str


@dataclass(frozen=True)
class BundledPair:
    column_1: str
    column_2: str
    modifier_allowed: bool


@dataclass(frozen=True)
class DenialRule:
    rule: str
    group: str
    carc: str
    rarcs: tuple[str, ...]
    claim_remarks: tuple[str, ...]


@dataclass(frozen=True)
class DenialReason:
    carc: str
    rarcs: tuple[str, ...]
    claim_remarks: tuple[str, ...]
    scope: str  # claim | line
    weight: int
    meaning: str


@dataclass(frozen=True)
class ReprocessingReason:
    reason: str
    weight: int
    allowed_percent: Decimal
    meaning: str


@dataclass(frozen=True)
class MemberConfig:
    payer_id: str
    member_id: str
    plan: str
    crossover_carrier: Carrier | None


@dataclass(frozen=True)
class PayerTables:
    payers: Mapping[str, PayerTerms]
    contracts: Mapping[str, Contract]
    fee_schedule: Mapping[tuple[str, str], Decimal]
    modifier_percent: Mapping[str, Decimal]
    plans: Mapping[str, BenefitPlan]
    copays: Mapping[tuple[str, str], Decimal]
    visit_types: tuple[VisitType, ...]
    medical_policy: Mapping[str, CoverageRule]
    bundled: Mapping[str, tuple[BundledPair, ...]]  # by column-2 code
    bypass_modifiers: frozenset[str]
    prior_authorization: Mapping[str, tuple[CodeRange, ...]]  # by payer id, "*" for all
    denial_rules: Mapping[str, DenialRule]
    denial_reasons: tuple[DenialReason, ...]
    reprocessing_reasons: tuple[ReprocessingReason, ...]
    members: Mapping[tuple[str, str], MemberConfig] = field(default_factory=dict)

    def terms_for(self, payer_id: str) -> PayerTerms:
        return self.payers.get(payer_id) or self.payers[ANY_PAYER]

    def plans_for(self, payer_id: str) -> tuple[BenefitPlan, ...]:
        own = tuple(p for p in self.plans.values() if p.payer_id == payer_id)
        return own or tuple(p for p in self.plans.values() if p.payer_id == ANY_PAYER)

    def needs_prior_authorization(self, payer_id: str, code: str) -> bool:
        ranges = (
            *self.prior_authorization.get(ANY_PAYER, ()),
            *self.prior_authorization.get(payer_id, ()),
        )
        return any(r.holds(code) for r in ranges)

    def visit_type(self, code: str, place_of_service: str) -> VisitType | None:
        for row in self.visit_types:
            if row.codes.holds(code) and (
                not row.places_of_service or place_of_service in row.places_of_service
            ):
                return row
        return None

    def claim_reasons(self) -> tuple[DenialReason, ...]:
        return tuple(r for r in self.denial_reasons if r.scope == "claim")

    def line_reasons(self) -> tuple[DenialReason, ...]:
        return tuple(r for r in self.denial_reasons if r.scope == "line")


class _Rows:
    """The data rows of one CSV table (lines starting with # are comments), each checked
    field by field so that an error names the file, the line and the column."""

    def __init__(self, name: str, text: str, columns: tuple[str, ...]) -> None:
        self.name = name
        numbered = [
            (number, line)
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not numbered:
            raise TableError(f"{name}: no header row")
        header = next(csv.reader([numbered[0][1]]))
        missing = [c for c in columns if c not in header]
        if missing:
            raise TableError(f"{name}: columns {', '.join(missing)} missing from the header")
        self.rows = [
            (number, dict(zip(header, values, strict=False)))
            for number, values in zip(
                (n for n, _ in numbered[1:]),
                csv.reader(line for _, line in numbered[1:]),
                strict=True,
            )
        ]

    def __iter__(self):
        return iter(self.rows)

    def error(self, number: int, column: str, reason: str) -> TableError:
        return TableError(f"{self.name} line {number}, column {column}: {reason}")

    def text(self, number: int, row: dict[str, str], column: str, *, required: bool = True) -> str:
        value = (row.get(column) or "").strip()
        if required and not value:
            raise self.error(number, column, "is empty")
        return value

    def decimal(self, number: int, row: dict[str, str], column: str) -> Decimal:
        raw = self.text(number, row, column)
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise self.error(number, column, "is not a number") from None
        if not value.is_finite() or value < 0:
            raise self.error(number, column, "must be a number of zero or more")
        return value

    def integer(self, number: int, row: dict[str, str], column: str) -> int:
        raw = self.text(number, row, column)
        if not raw.isdigit():
            raise self.error(number, column, "is not a whole number of zero or more")
        return int(raw)

    def choice(self, number: int, row: dict[str, str], column: str, allowed: frozenset[str]) -> str:
        value = self.text(number, row, column)
        if value not in allowed:
            raise self.error(number, column, f"must be one of {', '.join(sorted(allowed))}")
        return value

    def words(self, row: dict[str, str], column: str) -> tuple[str, ...]:
        return tuple((row.get(column) or "").split())


def _read(name: str, folder: Path | None, columns: tuple[str, ...]) -> _Rows:
    if folder is not None and (folder / name).is_file():
        text = (folder / name).read_text(encoding="utf-8")
    else:
        text = files("payer_simulator").joinpath("data", name).read_text(encoding="utf-8")
    return _Rows(name, text, columns)


def _carrier(rows: _Rows, number: int, row: dict[str, str]) -> Carrier | None:
    payer_id = rows.text(number, row, "crossover_carrier_id", required=False)
    if not payer_id:
        return None
    return Carrier(payer_id, rows.text(number, row, "crossover_carrier_name"))


def _payers(folder: Path | None) -> dict[str, PayerTerms]:
    rows = _read(
        "payers.csv",
        folder,
        ("payer_id", "contract", "timely_filing_days", "interest_percent", "overpayment_recovery"),
    )
    found = {}
    for n, row in rows:
        payer_id = rows.text(n, row, "payer_id")
        found[payer_id] = PayerTerms(
            payer_id=payer_id,
            contract=rows.text(n, row, "contract", required=False),
            timely_filing_days=rows.integer(n, row, "timely_filing_days"),
            interest_percent=rows.decimal(n, row, "interest_percent"),
            overpayment_recovery=rows.choice(n, row, "overpayment_recovery", RECOVERY_METHODS),
            crossover_carrier=_carrier(rows, n, row),
        )
    if ANY_PAYER not in found:
        raise TableError('payers.csv: a row for payer_id "*" (every other payer) is required')
    return found


def _contracts(folder: Path | None) -> dict[str, Contract]:
    rows = _read(
        "contracts.csv",
        folder,
        ("contract", "weight", "professional_percent_of_charge", "institutional_percent_of_charge"),
    )
    return {
        rows.text(n, row, "contract"): Contract(
            contract=rows.text(n, row, "contract"),
            weight=rows.integer(n, row, "weight"),
            professional_percent=rows.decimal(n, row, "professional_percent_of_charge"),
            institutional_percent=rows.decimal(n, row, "institutional_percent_of_charge"),
        )
        for n, row in rows
    }


def _plans(folder: Path | None) -> dict[str, BenefitPlan]:
    rows = _read(
        "benefit_plans.csv",
        folder,
        (
            "payer_id",
            "plan",
            "weight",
            "deductible",
            "coinsurance_percent",
            "out_of_pocket_max",
            "deductible_met_at_first_claim_percent",
        ),
    )
    found: dict[str, BenefitPlan] = {}
    for n, row in rows:
        plan = rows.text(n, row, "plan")
        if plan in found:
            raise rows.error(n, "plan", f"plan {plan} is defined twice")
        starting = rows.words(row, "deductible_met_at_first_claim_percent") or ("0",)
        if not all(s.isdigit() and int(s) <= 100 for s in starting):
            raise rows.error(
                n, "deductible_met_at_first_claim_percent", "must list whole percents 0-100"
            )
        found[plan] = BenefitPlan(
            payer_id=rows.text(n, row, "payer_id"),
            plan=plan,
            weight=rows.integer(n, row, "weight"),
            deductible=rows.decimal(n, row, "deductible"),
            coinsurance_percent=rows.decimal(n, row, "coinsurance_percent"),
            out_of_pocket_max=rows.decimal(n, row, "out_of_pocket_max"),
            starting_met_percents=tuple(int(s) for s in starting),
        )
    return found


def _code_range(rows: _Rows, n: int, row: dict[str, str]) -> CodeRange:
    low, high = rows.text(n, row, "procedure_from"), rows.text(n, row, "procedure_to")
    if len(low) != len(high) or low > high:
        raise rows.error(
            n, "procedure_to", "must be a code of the same length, not below the start"
        )
    return CodeRange(low, high)


def _visit_types(folder: Path | None) -> tuple[VisitType, ...]:
    rows = _read(
        "visit_types.csv",
        folder,
        ("visit_type", "procedure_from", "procedure_to", "places_of_service", "cost_share"),
    )
    return tuple(
        VisitType(
            visit_type=rows.text(n, row, "visit_type"),
            codes=_code_range(rows, n, row),
            places_of_service=frozenset(rows.words(row, "places_of_service")),
            cost_share=rows.choice(n, row, "cost_share", COST_SHARES),
        )
        for n, row in rows
    )


def _prior_authorization(folder: Path | None) -> dict[str, tuple[CodeRange, ...]]:
    rows = _read("prior_authorization.csv", folder, ("payer_id", "procedure_from", "procedure_to"))
    found: dict[str, list[CodeRange]] = {}
    for n, row in rows:
        found.setdefault(rows.text(n, row, "payer_id"), []).append(_code_range(rows, n, row))
    return {payer: tuple(ranges) for payer, ranges in found.items()}


def _bundled(folder: Path | None) -> dict[str, tuple[BundledPair, ...]]:
    rows = _read("bundled_procedures.csv", folder, ("column_1", "column_2", "modifier_indicator"))
    found: dict[str, list[BundledPair]] = {}
    for n, row in rows:
        pair = BundledPair(
            column_1=rows.text(n, row, "column_1"),
            column_2=rows.text(n, row, "column_2"),
            modifier_allowed=rows.choice(n, row, "modifier_indicator", frozenset({"0", "1"}))
            == "1",
        )
        found.setdefault(pair.column_2, []).append(pair)
    return {code: tuple(pairs) for code, pairs in found.items()}


def _denial_reasons(folder: Path | None) -> tuple[DenialReason, ...]:
    rows = _read(
        "denial_reasons.csv", folder, ("carc", "rarcs", "claim_remarks", "scope", "weight")
    )
    return tuple(
        DenialReason(
            carc=rows.text(n, row, "carc"),
            rarcs=rows.words(row, "rarcs"),
            claim_remarks=rows.words(row, "claim_remarks"),
            scope=rows.choice(n, row, "scope", DENIAL_SCOPES),
            weight=rows.integer(n, row, "weight"),
            meaning=rows.text(n, row, "meaning", required=False),
        )
        for n, row in rows
    )


def _denial_rules(folder: Path | None) -> dict[str, DenialRule]:
    rows = _read("denial_rules.csv", folder, ("rule", "group", "carc", "rarcs", "claim_remarks"))
    return {
        rows.text(n, row, "rule"): DenialRule(
            rule=rows.text(n, row, "rule"),
            group=rows.choice(n, row, "group", frozenset({"CO", "PI", "OA", "PR"})),
            carc=rows.text(n, row, "carc"),
            rarcs=rows.words(row, "rarcs"),
            claim_remarks=rows.words(row, "claim_remarks"),
        )
        for n, row in rows
    }


def _members(folder: Path | None, plans: Mapping[str, BenefitPlan]) -> dict:
    rows = _read("members.csv", folder, ("payer_id", "member_id", "plan"))
    found = {}
    for n, row in rows:
        plan = rows.text(n, row, "plan", required=False)
        if plan and plan not in plans:
            raise rows.error(n, "plan", f"plan {plan} is not in benefit_plans.csv")
        config = MemberConfig(
            payer_id=rows.text(n, row, "payer_id"),
            member_id=rows.text(n, row, "member_id"),
            plan=plan,
            crossover_carrier=_carrier(rows, n, row),
        )
        found[(config.payer_id, config.member_id)] = config
    return found


@cache
def load_tables(folder: Path | None = None) -> PayerTables:
    """Every rule table, from `folder` where it holds the file, else the packaged one."""
    contracts = _contracts(folder)
    payers = _payers(folder)
    for terms in payers.values():
        if terms.contract and terms.contract not in contracts:
            raise TableError(
                f"payers.csv: payer {terms.payer_id} names contract {terms.contract}, "
                "which contracts.csv does not define"
            )
    if not any(c.weight for c in contracts.values()) and not all(
        t.contract for t in payers.values()
    ):
        raise TableError("contracts.csv: no contract has a weight to draw unnamed payers' from")
    fees = _read("fee_schedule.csv", folder, ("contract", "code", "amount"))
    modifiers = _read("modifier_pricing.csv", folder, ("modifier", "percent"))
    plans = _plans(folder)
    copays = _read("plan_copays.csv", folder, ("plan", "visit_type", "copay"))
    policy = _read(
        "medical_policy.csv", folder, ("procedure_code", "covered_diagnosis_prefixes", "rarc")
    )
    bypass = _read("bundling_bypass_modifiers.csv", folder, ("modifier",))
    reprocessing = _read(
        "reprocessing_reasons.csv", folder, ("reason", "weight", "allowed_percent")
    )
    denial_rules = _denial_rules(folder)
    absent = sorted(DENIAL_RULES - set(denial_rules))
    if absent:
        raise TableError(f"denial_rules.csv: rules {', '.join(absent)} have no row")
    return PayerTables(
        payers=payers,
        contracts=contracts,
        fee_schedule={
            (fees.text(n, r, "contract"), fees.text(n, r, "code")): fees.decimal(n, r, "amount")
            for n, r in fees
        },
        modifier_percent={
            modifiers.text(n, r, "modifier"): modifiers.decimal(n, r, "percent")
            for n, r in modifiers
        },
        plans=plans,
        copays={
            (copays.text(n, r, "plan"), copays.text(n, r, "visit_type")): copays.decimal(
                n, r, "copay"
            )
            for n, r in copays
        },
        visit_types=_visit_types(folder),
        medical_policy={
            policy.text(n, r, "procedure_code"): CoverageRule(
                procedure_code=policy.text(n, r, "procedure_code"),
                diagnosis_prefixes=tuple(
                    p.replace(".", "") for p in policy.words(r, "covered_diagnosis_prefixes")
                ),
                rarc=policy.text(n, r, "rarc", required=False),
            )
            for n, r in policy
        },
        bundled=_bundled(folder),
        bypass_modifiers=frozenset(bypass.text(n, r, "modifier") for n, r in bypass),
        prior_authorization=_prior_authorization(folder),
        denial_rules=denial_rules,
        denial_reasons=_denial_reasons(folder),
        reprocessing_reasons=tuple(
            ReprocessingReason(
                reason=reprocessing.text(n, r, "reason"),
                weight=reprocessing.integer(n, r, "weight"),
                allowed_percent=reprocessing.decimal(n, r, "allowed_percent"),
                meaning=reprocessing.text(n, r, "meaning", required=False),
            )
            for n, r in reprocessing
        ),
        members=_members(folder, plans),
    )
