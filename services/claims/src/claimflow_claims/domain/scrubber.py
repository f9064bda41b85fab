"""The claim scrubber: pre-submission edits a payer would otherwise reject or deny on."""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path

from claimflow_claims.domain.model import Claim
from claimflow_claims.domain.tables import DATA_DIR, RuleTableError, read_rule_table
from claimflow_shared.codes import ProcedureCodeSystem, money, npi_check_digit
from claimflow_shared.events.models import ClaimLine

MAX_DIAGNOSES = 12
MAX_LINES = 50
MAX_POINTERS = 4


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class ScrubEdit(StrEnum):
    CLAIM_LIMITS = "claim-limits"
    NPI = "npi"
    DIAGNOSIS_POINTER = "diagnosis-pointer"
    SUBSCRIBER = "subscriber"
    PAYER = "payer"
    BILLING_PROVIDER_ADDRESS = "billing-provider-address"
    ORIGINAL_CLAIM = "original-claim"
    MUE = "mue"
    NCCI_PTP = "ncci-ptp"
    SERVICE_DATE = "service-date"
    TIMELY_FILING = "timely-filing"
    DUPLICATE_LINE = "duplicate-line"
    CHARGES = "charges"


@dataclass(frozen=True)
class ScrubFinding:
    edit: ScrubEdit
    field: str
    message: str
    severity: Severity = Severity.ERROR


class ModifierScope(StrEnum):
    """Which column-2 codes an NCCI-associated modifier may bypass a pair for."""

    EVALUATION_AND_MANAGEMENT = "evaluation-and-management"
    PROCEDURE = "procedure"


@dataclass(frozen=True)
class NcciPair:
    column1: str
    column2: str
    modifier_indicator: str
    effective: date
    deleted: date | None = None

    def in_force(self, on: date) -> bool:
        active = self.effective <= on and (self.deleted is None or on <= self.deleted)
        return active and self.modifier_indicator != "9"


@dataclass(frozen=True)
class ScrubRules:
    """The rule tables and limits the edits read; per-payer overrides are other instances."""

    mue: Mapping[str, int]
    ncci_pairs: Mapping[tuple[str, str], tuple[NcciPair, ...]]
    bypass_modifiers: Mapping[str, ModifierScope]
    timely_filing_months: int = 12
    timely_filing_warning_days: int = 30

    @classmethod
    def load(cls, data_dir: Path | None = None) -> ScrubRules:
        """Load the MUE, NCCI PTP and bypass-modifier tables (default: the shipped samples)."""
        data_dir = data_dir or DATA_DIR
        return cls(
            mue=_load_mue(data_dir / "mue_sample.csv"),
            ncci_pairs=_load_ncci_pairs(data_dir / "ncci_ptp_sample.csv"),
            bypass_modifiers=_load_bypass_modifiers(data_dir / "ncci_bypass_modifiers.csv"),
        )


@cache
def default_rules() -> ScrubRules:
    return ScrubRules.load()


def _load_mue(path: Path) -> dict[str, int]:
    limits: dict[str, int] = {}
    for number, row in enumerate(read_rule_table(path, columns=("code", "max_units_per_day")), 2):
        try:
            limit = int(row["max_units_per_day"])
        except ValueError as exc:
            raise RuleTableError(f"{path.name} row {number}: {exc}") from exc
        code = row["code"].upper()
        if limit < 1 or code in limits:
            raise RuleTableError(f"{path.name} row {number}: bad or duplicate limit for {code}")
        limits[code] = limit
    return limits


def _load_ncci_pairs(path: Path) -> dict[tuple[str, str], tuple[NcciPair, ...]]:
    columns = ("column1", "column2", "modifier_indicator", "effective_date", "deletion_date")
    pairs: defaultdict[tuple[str, str], list[NcciPair]] = defaultdict(list)
    for number, row in enumerate(read_rule_table(path, columns=columns), start=2):
        if row["modifier_indicator"] not in {"0", "1", "9"}:
            raise RuleTableError(f"{path.name} row {number}: modifier indicator must be 0, 1 or 9")
        try:
            pair = NcciPair(
                column1=row["column1"].upper(),
                column2=row["column2"].upper(),
                modifier_indicator=row["modifier_indicator"],
                effective=date.fromisoformat(row["effective_date"]),
                deleted=date.fromisoformat(row["deletion_date"]) if row["deletion_date"] else None,
            )
        except ValueError as exc:
            raise RuleTableError(f"{path.name} row {number}: {exc}") from exc
        pairs[(pair.column1, pair.column2)].append(pair)
    return {key: tuple(value) for key, value in pairs.items()}


def _load_bypass_modifiers(path: Path) -> dict[str, ModifierScope]:
    rows = read_rule_table(path, columns=("modifier", "column2_kind"))
    try:
        return {row["modifier"].upper(): ModifierScope(row["column2_kind"]) for row in rows}
    except ValueError as exc:
        raise RuleTableError(f"{path.name}: {exc}") from exc


Edit = Callable[[Claim, date, ScrubRules], Iterable[ScrubFinding]]


def scrub_claim(
    claim: Claim, *, today: date, rules: ScrubRules | None = None
) -> list[ScrubFinding]:
    """Run every edit on the claim; an empty list (or warnings only) means it may be submitted."""
    rules = rules or default_rules()
    return [finding for edit in EDITS for finding in edit(claim, today, rules)]


def is_clean(findings: Iterable[ScrubFinding]) -> bool:
    """True when no finding blocks submission (warnings do not)."""
    return all(finding.severity is not Severity.ERROR for finding in findings)


def check_claim_limits(claim: Claim, today: date, rules: ScrubRules) -> Iterator[ScrubFinding]:
    if not 1 <= len(claim.diagnoses) <= MAX_DIAGNOSES:
        yield ScrubFinding(
            ScrubEdit.CLAIM_LIMITS,
            "diagnoses",
            f"an 837P claim carries 1 to {MAX_DIAGNOSES} diagnoses, this one has "
            f"{len(claim.diagnoses)}",
        )
    if not 1 <= len(claim.lines) <= MAX_LINES:
        yield ScrubFinding(
            ScrubEdit.CLAIM_LIMITS,
            "lines",
            f"an 837P claim carries 1 to {MAX_LINES} service lines, this one has "
            f"{len(claim.lines)}",
        )


def is_valid_npi(npi: str) -> bool:
    return len(npi) == 10 and npi.isdigit() and npi_check_digit(npi[:9]) == int(npi[9])


def check_npis(claim: Claim, today: date, rules: ScrubRules) -> Iterator[ScrubFinding]:
    providers = claim.providers
    npis = {
        "providers.billing.npi": providers.billing.npi,
        "providers.rendering.npi": providers.rendering.npi,
        "providers.facility_npi": providers.facility_npi,
    }
    for field, npi in npis.items():
        if npi is not None and not is_valid_npi(npi):
            yield ScrubFinding(
                ScrubEdit.NPI, field, f"NPI {npi!r} is not 10 digits with a valid check digit"
            )


def check_diagnosis_pointers(
    claim: Claim, today: date, rules: ScrubRules
) -> Iterator[ScrubFinding]:
    count = len(claim.diagnoses)
    for index, line in enumerate(claim.lines):
        field = f"lines[{index}].diagnosis_pointers"
        pointers = line.diagnosis_pointers
        if not pointers:
            yield ScrubFinding(
                ScrubEdit.DIAGNOSIS_POINTER,
                field,
                f"line {line.line_number} points at no diagnosis",
            )
        if len(pointers) > MAX_POINTERS:
            yield ScrubFinding(
                ScrubEdit.DIAGNOSIS_POINTER,
                field,
                f"line {line.line_number} has {len(pointers)} diagnosis pointers; "
                f"at most {MAX_POINTERS} are allowed",
            )
        repeated = sorted(p for p, n in Counter(pointers).items() if n > 1)
        if repeated:
            yield ScrubFinding(
                ScrubEdit.DIAGNOSIS_POINTER,
                field,
                f"line {line.line_number} repeats diagnosis pointer(s) {repeated}",
            )
        for pointer in sorted({p for p in pointers if not 1 <= p <= count}):
            yield ScrubFinding(
                ScrubEdit.DIAGNOSIS_POINTER,
                field,
                f"line {line.line_number} points at diagnosis {pointer}, "
                f"but the claim has {count} diagnosis code(s)",
            )


def check_subscriber_and_payer(
    claim: Claim, today: date, rules: ScrubRules
) -> Iterator[ScrubFinding]:
    coverage = claim.coverage
    if not coverage.member_id.strip():
        yield ScrubFinding(ScrubEdit.SUBSCRIBER, "coverage.member_id", "member id is missing")
    if not claim.patient_is_subscriber and claim.subscriber is None:
        yield ScrubFinding(
            ScrubEdit.SUBSCRIBER,
            "subscriber",
            f"patient is a dependent (relationship {coverage.relationship.value}) "
            "but the subscriber's name is missing",
        )
    if not coverage.payer.payer_id.strip():
        yield ScrubFinding(ScrubEdit.PAYER, "coverage.payer.payer_id", "payer id is missing")
    if not coverage.payer.name.strip():
        yield ScrubFinding(ScrubEdit.PAYER, "coverage.payer.name", "payer name is missing")


def check_billing_provider_address(
    claim: Claim, today: date, rules: ScrubRules
) -> Iterator[ScrubFinding]:
    # 837P 2010AA N403: the billing provider's ZIP must be the full nine digits.
    postal_code = claim.providers.billing.address.postal_code
    if len(postal_code) != 9:
        yield ScrubFinding(
            ScrubEdit.BILLING_PROVIDER_ADDRESS,
            "providers.billing.address.postal_code",
            f"billing provider ZIP {postal_code!r} must be ZIP+4 (9 digits)",
        )


def check_original_claim(claim: Claim, today: date, rules: ScrubRules) -> Iterator[ScrubFinding]:
    if claim.frequency_code in {"7", "8"} and not claim.original_claim_number:
        yield ScrubFinding(
            ScrubEdit.ORIGINAL_CLAIM,
            "original_claim_number",
            f"a frequency {claim.frequency_code} claim must name the payer's claim number "
            "of the claim it replaces or voids",
        )


def check_mue(claim: Claim, today: date, rules: ScrubRules) -> Iterator[ScrubFinding]:
    units: Counter[tuple[str, date]] = Counter()
    first_line: dict[tuple[str, date], int] = {}
    for index, line in enumerate(claim.lines):
        key = (line.code, line.service_date)
        units[key] += line.units
        first_line.setdefault(key, index)
    for (code, service_date), total in units.items():
        limit = rules.mue.get(code)
        if limit is not None and total > limit:
            yield ScrubFinding(
                ScrubEdit.MUE,
                f"lines[{first_line[(code, service_date)]}].units",
                f"{total} units of {code} on {service_date.isoformat()} exceed the "
                f"medically unlikely edit limit of {limit} per day",
            )


def is_evaluation_and_management(line: ClaimLine) -> bool:
    code = line.code
    return (
        line.code_system is ProcedureCodeSystem.CPT
        and code.isdigit()
        and 99202 <= int(code) <= 99499
    )


def _bypasses_pair(line: ClaimLine, rules: ScrubRules) -> bool:
    wanted = (
        ModifierScope.EVALUATION_AND_MANAGEMENT
        if is_evaluation_and_management(line)
        else ModifierScope.PROCEDURE
    )
    return any(rules.bypass_modifiers.get(modifier) is wanted for modifier in line.modifiers)


def check_ncci_pairs(claim: Claim, today: date, rules: ScrubRules) -> Iterator[ScrubFinding]:
    for column1 in claim.lines:
        for index, column2 in enumerate(claim.lines):
            if column1 is column2 or column1.service_date != column2.service_date:
                continue
            pairs = rules.ncci_pairs.get((column1.code, column2.code), ())
            pair = next((p for p in pairs if p.in_force(column1.service_date)), None)
            if pair is None:
                continue
            if pair.modifier_indicator == "1" and _bypasses_pair(column2, rules):
                continue
            remedy = (
                "no modifier allows the pair"
                if pair.modifier_indicator == "0"
                else "add an NCCI-associated modifier to it if the service was distinct"
            )
            yield ScrubFinding(
                ScrubEdit.NCCI_PTP,
                f"lines[{index}].code",
                f"{column2.code} (line {column2.line_number}) is bundled into {column1.code} "
                f"(line {column1.line_number}) on the same date; {remedy}",
            )


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (Feb 29 -> Feb 28)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def check_service_dates(claim: Claim, today: date, rules: ScrubRules) -> Iterator[ScrubFinding]:
    for index, line in enumerate(claim.lines):
        field = f"lines[{index}].service_date"
        if line.service_date > today:
            yield ScrubFinding(
                ScrubEdit.SERVICE_DATE,
                field,
                f"line {line.line_number} is dated {line.service_date.isoformat()}, in the future",
            )
            continue
        # Medicare's limit is one calendar year from the date of service; late claims deny
        # CO-29 and cannot be appealed, so they must never leave the building.
        deadline = add_months(line.service_date, rules.timely_filing_months)
        if today > deadline:
            yield ScrubFinding(
                ScrubEdit.TIMELY_FILING,
                field,
                f"line {line.line_number} ({line.service_date.isoformat()}) is past the "
                f"timely-filing limit of {rules.timely_filing_months} months "
                f"(deadline {deadline.isoformat()})",
            )
        elif deadline - today <= timedelta(days=rules.timely_filing_warning_days):
            yield ScrubFinding(
                ScrubEdit.TIMELY_FILING,
                field,
                f"line {line.line_number} must reach the payer by {deadline.isoformat()}",
                Severity.WARNING,
            )


def check_duplicate_lines(claim: Claim, today: date, rules: ScrubRules) -> Iterator[ScrubFinding]:
    seen: dict[tuple[object, ...], int] = {}
    for index, line in enumerate(claim.lines):
        key = (line.code_system, line.code, tuple(sorted(line.modifiers)), line.service_date)
        if key in seen:
            yield ScrubFinding(
                ScrubEdit.DUPLICATE_LINE,
                f"lines[{index}]",
                f"line {line.line_number} repeats line {claim.lines[seen[key]].line_number} "
                f"({line.code} on {line.service_date.isoformat()}); bill units on one line "
                "or mark a true repeat with modifier 76, 77 or 91",
            )
        else:
            seen[key] = index


def check_charges(claim: Claim, today: date, rules: ScrubRules) -> Iterator[ScrubFinding]:
    for index, line in enumerate(claim.lines):
        if line.charge <= 0:
            yield ScrubFinding(
                ScrubEdit.CHARGES,
                f"lines[{index}].charge",
                f"line {line.line_number} has charge {line.charge}; charges must be positive",
            )
    total = money(sum((line.charge for line in claim.lines), start=money(0)))
    if total != claim.total_charge:
        yield ScrubFinding(
            ScrubEdit.CHARGES,
            "total_charge",
            f"total charge {claim.total_charge} is not the sum of the line charges ({total})",
        )


EDITS: tuple[Edit, ...] = (
    check_claim_limits,
    check_npis,
    check_diagnosis_pointers,
    check_subscriber_and_payer,
    check_billing_provider_address,
    check_original_claim,
    check_mue,
    check_ncci_pairs,
    check_service_dates,
    check_duplicate_lines,
    check_charges,
)
