"""The claim scrubber: pre-submission edits a payer would otherwise reject or deny on.

Each edit is a small `check_*` function over data tables (`scrub_tables.py`); per-payer
overrides change an edit's severity or the timely-filing limit. Every finding names its
edit code, the field, a message a biller understands and a hint how to fix it.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from pathlib import Path

from claimflow_claims.domain.model import Claim, ServiceLine
from claimflow_claims.domain.scrub_tables import (
    AgeSexEdit,
    ModifierScope,
    MueLimit,
    NcciPair,
    PayerRules,
    load_age_sex_edits,
    load_bypass_modifiers,
    load_medical_necessity,
    load_payer_rules,
    nucc_taxonomy_codes,
    parse_mue,
    parse_ncci_ptp,
)
from claimflow_claims.domain.states import ON_FILE, ClaimState
from claimflow_claims.domain.tables import DATA_DIR
from claimflow_shared.codes import ProcedureCodeSystem, money, npi_check_digit

MAX_DIAGNOSES = {"837P": 12, "837I": 25}
MAX_LINES = {"837P": 50, "837I": 999}
MAX_POINTERS = 4


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class ScrubEdit(StrEnum):
    """The edit codes a finding carries (stable: billers and reports filter on them)."""

    CLAIM_LIMITS = "claim-limits"
    NPI = "npi"
    TAXONOMY = "taxonomy"
    DIAGNOSIS_POINTER = "diagnosis-pointer"
    SUBSCRIBER = "subscriber"
    PAYER = "payer"
    BILLING_PROVIDER_ADDRESS = "billing-provider-address"
    ORIGINAL_CLAIM = "original-claim"
    FREQUENCY = "frequency"
    MUE = "mue"
    NCCI_PTP = "ncci-ptp"
    MEDICAL_NECESSITY = "medical-necessity"
    AGE_SEX = "age-sex"
    SERVICE_DATE = "service-date"
    TIMELY_FILING = "timely-filing"
    DUPLICATE_LINE = "duplicate-line"
    DUPLICATE_CLAIM = "duplicate-claim"
    CHARGES = "charges"
    INSTITUTIONAL = "institutional"


@dataclass(frozen=True)
class ScrubFinding:
    edit: ScrubEdit
    field: str
    message: str
    severity: Severity = Severity.ERROR
    hint: str = ""


@dataclass(frozen=True)
class ScrubRules:
    """The rule tables and limits the edits read, with every payer's overrides."""

    mue: Mapping[str, int | MueLimit]
    ncci_pairs: Mapping[tuple[str, str], tuple[NcciPair, ...]]
    bypass_modifiers: Mapping[str, ModifierScope]
    medical_necessity: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    age_sex: tuple[AgeSexEdit, ...] = ()
    payers: Mapping[str, PayerRules] = field(default_factory=dict)
    timely_filing_months: int = 12
    timely_filing_warning_days: int = 30

    @classmethod
    def load(
        cls,
        data_dir: Path | None = None,
        *,
        ncci_ptp_file: Path | None = None,
        mue_file: Path | None = None,
    ) -> ScrubRules:
        """Load every table (default: those shipped with ClaimFlow); `ncci_ptp_file` and
        `mue_file` take the CMS quarterly files in their published layout."""
        data_dir = data_dir or DATA_DIR
        ptp = ncci_ptp_file or data_dir / "ncci_ptp_practitioner.csv"
        mue = mue_file or data_dir / "mue_practitioner.csv"
        return cls(
            mue=parse_mue(mue.read_text(encoding="utf-8", errors="replace"), what=mue.name),
            ncci_pairs=parse_ncci_ptp(
                ptp.read_text(encoding="utf-8", errors="replace"), what=ptp.name
            ),
            bypass_modifiers=load_bypass_modifiers(data_dir / "ncci_bypass_modifiers.csv"),
            medical_necessity=_optional(
                data_dir / "medical_necessity.csv", load_medical_necessity, {}
            ),
            age_sex=_optional(data_dir / "age_sex_edits.csv", load_age_sex_edits, ()),
            payers=load_payer_rules(
                data_dir / "payer_rules.csv", data_dir / "payer_edit_overrides.csv"
            )
            if (data_dir / "payer_rules.csv").exists()
            else {},
        )

    def mue_limit(self, code: str) -> MueLimit | None:
        limit = self.mue.get(code)
        if isinstance(limit, int):
            return MueLimit(code, limit)
        return limit

    def for_payer(self, payer_id: str) -> PayerRules:
        return self.payers.get(payer_id, PayerRules())


def _optional(path: Path, loader: Callable[[Path], object], empty: object):  # type: ignore[no-untyped-def]
    return loader(path) if path.exists() else empty


@cache
def default_rules() -> ScrubRules:
    return ScrubRules.load()


@dataclass(frozen=True)
class PriorClaim:
    """A claim already on file for duplicate and frequency checks (the caller's query)."""

    claim_id: str
    patient_mrn: str
    payer_id: str
    billing_npi: str
    state: ClaimState
    service_dates: frozenset[date]
    procedure_codes: frozenset[str]
    total_charge: Decimal
    payer_claim_number: str | None = None
    frequency_code: str = "1"


@dataclass(frozen=True)
class ScrubContext:
    today: date
    rules: ScrubRules
    payer: PayerRules
    prior_claims: Sequence[PriorClaim] = ()


Edit = Callable[[Claim, ScrubContext], Iterable[ScrubFinding]]


def scrub_claim(
    claim: Claim,
    *,
    today: date,
    rules: ScrubRules | None = None,
    prior_claims: Sequence[PriorClaim] = (),
) -> list[ScrubFinding]:
    """Run every edit on the claim with its payer's overrides; an empty list (or warnings
    only) means it may be submitted. `prior_claims` are the tenant's claims for the same
    patient, for the duplicate-claim and void checks."""
    rules = rules or default_rules()
    payer = rules.for_payer(claim.coverage.payer.payer_id)
    context = ScrubContext(today=today, rules=rules, payer=payer, prior_claims=prior_claims)
    findings = []
    for edit in EDITS:
        for finding in edit(claim, context):
            severity = payer.severities.get(finding.edit.value)
            if severity == "off":
                continue
            if severity is not None:
                finding = replace(finding, severity=Severity(severity))
            findings.append(finding)
    return findings


def is_clean(findings: Iterable[ScrubFinding]) -> bool:
    """True when no finding blocks submission (warnings do not)."""
    return all(finding.severity is not Severity.ERROR for finding in findings)


def check_claim_limits(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    kind = claim.claim_type
    max_dx, max_lines = MAX_DIAGNOSES[kind], MAX_LINES[kind]
    if not 1 <= len(claim.diagnoses) <= max_dx:
        yield ScrubFinding(
            ScrubEdit.CLAIM_LIMITS,
            "diagnoses",
            f"an {kind} claim carries 1 to {max_dx} diagnoses, this one has {len(claim.diagnoses)}",
            hint="keep the diagnoses the services point at; split the claim if it is longer",
        )
    if not 1 <= len(claim.lines) <= max_lines:
        yield ScrubFinding(
            ScrubEdit.CLAIM_LIMITS,
            "lines",
            f"an {kind} claim carries 1 to {max_lines} service lines, this one has "
            f"{len(claim.lines)}",
            hint="split the services over more than one claim",
        )


def is_valid_npi(npi: str) -> bool:
    return len(npi) == 10 and npi.isdigit() and npi_check_digit(npi[:9]) == int(npi[9])


def _people(claim: Claim) -> Iterator[tuple[str, str, str | None]]:
    """(field, NPI, taxonomy) of every provider named on the claim."""
    providers = claim.providers
    yield "providers.billing.npi", providers.billing.npi, None
    yield "providers.rendering.npi", providers.rendering.npi, providers.rendering.taxonomy
    if providers.facility_npi is not None:
        yield "providers.facility_npi", providers.facility_npi, None
    if claim.institutional is not None:
        yield (
            "institutional.attending.npi",
            claim.institutional.attending.npi,
            (claim.institutional.attending.taxonomy),
        )
        if claim.institutional.operating is not None:
            operating = claim.institutional.operating
            yield "institutional.operating.npi", operating.npi, operating.taxonomy


def check_npis(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    for field_name, npi, _ in _people(claim):
        if not is_valid_npi(npi):
            yield ScrubFinding(
                ScrubEdit.NPI,
                field_name,
                "the NPI is not 10 digits with a valid check digit",
                hint="copy the NPI from the NPPES registry; a typo breaks the check digit",
            )


def check_taxonomies(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    known = nucc_taxonomy_codes()
    for field_name, _, taxonomy in _people(claim):
        if taxonomy and taxonomy not in known:
            yield ScrubFinding(
                ScrubEdit.TAXONOMY,
                field_name.replace(".npi", ".taxonomy"),
                f"taxonomy {taxonomy} is not in the NUCC taxonomy code set",
                hint="use the taxonomy code the provider registered with NPPES",
            )


def check_diagnosis_pointers(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    if claim.claim_type == "837I":
        return  # institutional lines carry no pointers: the claim's diagnoses cover all
    count = len(claim.diagnoses)
    hint = "point each line at 1 to 4 of the claim's diagnoses, most relevant first"
    for index, line in enumerate(claim.lines):
        field_name = f"lines[{index}].diagnosis_pointers"
        pointers = line.diagnosis_pointers
        if not pointers:
            yield ScrubFinding(
                ScrubEdit.DIAGNOSIS_POINTER,
                field_name,
                f"line {line.line_number} points at no diagnosis",
                hint=hint,
            )
        if len(pointers) > MAX_POINTERS:
            yield ScrubFinding(
                ScrubEdit.DIAGNOSIS_POINTER,
                field_name,
                f"line {line.line_number} has {len(pointers)} diagnosis pointers; "
                f"at most {MAX_POINTERS} are allowed",
                hint=hint,
            )
        repeated = sorted(p for p, n in Counter(pointers).items() if n > 1)
        if repeated:
            yield ScrubFinding(
                ScrubEdit.DIAGNOSIS_POINTER,
                field_name,
                f"line {line.line_number} repeats diagnosis pointer(s) {repeated}",
                hint=hint,
            )
        for pointer in sorted({p for p in pointers if not 1 <= p <= count}):
            yield ScrubFinding(
                ScrubEdit.DIAGNOSIS_POINTER,
                field_name,
                f"line {line.line_number} points at diagnosis {pointer}, "
                f"but the claim has {count} diagnosis code(s)",
                hint=hint,
            )


def check_subscriber_and_payer(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    coverage = claim.coverage
    if not coverage.member_id.strip():
        yield ScrubFinding(
            ScrubEdit.SUBSCRIBER,
            "coverage.member_id",
            "member id is missing",
            hint="copy the member id from the insurance card or the eligibility response",
        )
    if not claim.patient_is_subscriber and claim.subscriber is None:
        yield ScrubFinding(
            ScrubEdit.SUBSCRIBER,
            "subscriber",
            f"patient is a dependent (relationship {coverage.relationship.value}) "
            "but the subscriber's name is missing",
            hint="add the policy holder's name as it appears on the card",
        )
    if not coverage.payer.payer_id.strip():
        yield ScrubFinding(
            ScrubEdit.PAYER,
            "coverage.payer.payer_id",
            "payer id is missing",
            hint="pick the payer from the clearinghouse payer list",
        )
    if not coverage.payer.name.strip():
        yield ScrubFinding(
            ScrubEdit.PAYER, "coverage.payer.name", "payer name is missing", hint="add the payer"
        )
    for index, other in enumerate(claim.other_payers):
        if other.coverage.payer.payer_id == coverage.payer.payer_id:
            yield ScrubFinding(
                ScrubEdit.PAYER,
                f"other_payers[{index}].coverage.payer.payer_id",
                "the other payer is the payer this claim goes to",
                hint="list only the other plans in coordination of benefits",
            )
        if other.coverage.relationship.value != "18" and other.subscriber is None:
            yield ScrubFinding(
                ScrubEdit.SUBSCRIBER,
                f"other_payers[{index}].subscriber",
                "the other plan's subscriber name is missing",
                hint="add the other plan's policy holder",
            )


def check_billing_provider_address(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    # 837P/837I 2010AA N403: the billing provider's ZIP must be the full nine digits.
    postal_code = claim.providers.billing.address.postal_code
    if len(postal_code) != 9:
        yield ScrubFinding(
            ScrubEdit.BILLING_PROVIDER_ADDRESS,
            "providers.billing.address.postal_code",
            f"billing provider ZIP {postal_code!r} must be ZIP+4 (9 digits)",
            hint="add the 4-digit ZIP extension from the USPS lookup",
        )


def check_original_claim(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    if claim.frequency_code in {"7", "8"} and not claim.original_claim_number:
        yield ScrubFinding(
            ScrubEdit.ORIGINAL_CLAIM,
            "original_claim_number",
            f"a frequency {claim.frequency_code} claim must name the payer's claim number "
            "of the claim it replaces or voids",
            hint="copy the payer claim number (ICN) from the 277CA or the 835 of the original",
        )


_HISTORY = frozenset({ClaimState.VOIDED, ClaimState.CORRECTED})


def check_frequency(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    """A void (8) or replacement (7) refers to a claim the payer has on file and that no
    earlier void or replacement has taken its place."""
    if claim.frequency_code not in {"7", "8"} or not claim.original_claim_number:
        return
    originals = [
        prior
        for prior in ctx.prior_claims
        if prior.payer_claim_number == claim.original_claim_number
    ]
    if not originals:
        if ctx.prior_claims:
            yield ScrubFinding(
                ScrubEdit.FREQUENCY,
                "original_claim_number",
                f"no claim on file carries payer claim number {claim.original_claim_number}",
                hint="check the number against the original claim's 835",
            )
        return
    if not any(p.state in ON_FILE or p.state in _HISTORY for p in originals):
        yield ScrubFinding(
            ScrubEdit.FREQUENCY,
            "frequency_code",
            f"a frequency {claim.frequency_code} claim needs an original the payer has on "
            "file (accepted or adjudicated)",
            hint="wait for the original's 277CA or 835, or fix and resend a rejected original",
        )
    if any(p.state is ClaimState.VOIDED for p in originals):
        yield ScrubFinding(
            ScrubEdit.FREQUENCY,
            "frequency_code",
            "the original claim was already voided",
            hint="send a new original claim (frequency 1) instead",
        )
    elif any(p.state is ClaimState.CORRECTED for p in originals):
        yield ScrubFinding(
            ScrubEdit.FREQUENCY,
            "original_claim_number",
            "a replacement already took the original claim's place",
            hint="correct or void the replacement, under its own payer claim number",
        )


def check_mue(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    units: Counter[tuple[str, date]] = Counter()
    first_line: dict[tuple[str, date], int] = {}
    for index, line in enumerate(claim.lines):
        if not line.code:
            continue
        limit = ctx.rules.mue_limit(line.code)
        if limit is not None and limit.per_line and line.units > limit.max_units:
            yield _mue_finding(
                f"lines[{index}].units", line.units, line.code, line.service_date, limit
            )
        key = (line.code, line.service_date)
        units[key] += line.units
        first_line.setdefault(key, index)
    for (code, service_date), total in units.items():
        limit = ctx.rules.mue_limit(code)
        if limit is not None and not limit.per_line and total > limit.max_units:
            field_name = f"lines[{first_line[(code, service_date)]}].units"
            yield _mue_finding(field_name, total, code, service_date, limit)


def _mue_finding(field_name: str, units: int, code: str, on: date, limit: MueLimit) -> ScrubFinding:
    scope = "on one line" if limit.per_line else "per day"
    return ScrubFinding(
        ScrubEdit.MUE,
        field_name,
        f"{units} units of {code} on {on.isoformat()} exceed the medically unlikely edit "
        f"limit of {limit.max_units} {scope}",
        hint="check the units against the documentation; bill only what was done",
    )


def is_evaluation_and_management(line: ServiceLine) -> bool:
    code = line.code or ""
    return (
        line.code_system is ProcedureCodeSystem.CPT
        and code.isdigit()
        and 99202 <= int(code) <= 99499
    )


def _bypasses_pair(line: ServiceLine, rules: ScrubRules) -> bool:
    wanted = (
        ModifierScope.EVALUATION_AND_MANAGEMENT
        if is_evaluation_and_management(line)
        else ModifierScope.PROCEDURE
    )
    return any(rules.bypass_modifiers.get(modifier) is wanted for modifier in line.modifiers)


def check_ncci_pairs(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    for column1 in claim.lines:
        for index, column2 in enumerate(claim.lines):
            if column1 is column2 or column1.service_date != column2.service_date:
                continue
            pairs = ctx.rules.ncci_pairs.get((column1.code or "", column2.code or ""), ())
            pair = next((p for p in pairs if p.in_force(column1.service_date)), None)
            if pair is None:
                continue
            if pair.modifier_indicator == "1" and _bypasses_pair(column2, ctx.rules):
                continue
            remedy = (
                "no modifier allows the pair"
                if pair.modifier_indicator == "0"
                else "add an NCCI-associated modifier to it if the service was distinct"
            )
            hint = (
                "remove the bundled line"
                if pair.modifier_indicator == "0"
                else "if separately documented, add 25 (E/M) or 59/XE/XS/XP/XU (procedure)"
            )
            yield ScrubFinding(
                ScrubEdit.NCCI_PTP,
                f"lines[{index}].code",
                f"{column2.code} (line {column2.line_number}) is bundled into {column1.code} "
                f"(line {column1.line_number}) on the same date; {remedy}",
                hint=hint,
            )


def _pointed_diagnoses(claim: Claim, line: ServiceLine) -> list[str]:
    if claim.claim_type == "837I" or not line.diagnosis_pointers:
        return list(claim.diagnoses)
    return [
        claim.diagnoses[p - 1] for p in line.diagnosis_pointers if 1 <= p <= len(claim.diagnoses)
    ]


def check_medical_necessity(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    for index, line in enumerate(claim.lines):
        covered = ctx.rules.medical_necessity.get(line.code or "")
        if not covered:
            continue
        diagnoses = _pointed_diagnoses(claim, line)
        if not any(code.startswith(covered) for code in diagnoses):
            yield ScrubFinding(
                ScrubEdit.MEDICAL_NECESSITY,
                f"lines[{index}].diagnosis_pointers",
                f"{line.code} (line {line.line_number}) is not covered for the diagnoses it "
                "points at",
                hint="point the line at the diagnosis that made the service necessary, or get "
                "an advance beneficiary notice (modifier GA) before the service",
            )


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def check_age_and_sex(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    patient = claim.patient
    age = age_on(patient.birth_date, claim.period_start)
    coded = [("diagnosis", f"diagnoses[{i}]", code) for i, code in enumerate(claim.diagnoses)]
    coded += [
        ("procedure", f"lines[{i}].code", line.code)
        for i, line in enumerate(claim.lines)
        if line.code
    ]
    for kind, field_name, code in coded:
        for edit in ctx.rules.age_sex:
            if edit.kind != kind or not code.startswith(edit.code_prefix):
                continue
            if (
                edit.sex != "*"
                and patient.sex.value in {"M", "F"}
                and patient.sex.value != edit.sex
            ):
                yield ScrubFinding(
                    ScrubEdit.AGE_SEX,
                    field_name,
                    f"{code} is for {'female' if edit.sex == 'F' else 'male'} patients, the "
                    f"patient's sex is {patient.sex.value}",
                    hint="check the code and the patient's recorded sex",
                )
            if not edit.min_age <= age <= edit.max_age:
                yield ScrubFinding(
                    ScrubEdit.AGE_SEX,
                    field_name,
                    f"{code} is for ages {edit.min_age} to {edit.max_age}, the patient is {age}",
                    hint="check the code and the patient's birth date",
                )
            break


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (Feb 29 -> Feb 28)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _filing_deadline(service_date: date, ctx: ScrubContext) -> tuple[date, str]:
    days = ctx.payer.timely_filing_days
    if days is not None:
        return service_date + timedelta(days=days), f"{days} days"
    months = ctx.rules.timely_filing_months
    return add_months(service_date, months), f"{months} months"


def check_service_dates(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    for index, line in enumerate(claim.lines):
        field_name = f"lines[{index}].service_date"
        if line.service_date > ctx.today:
            yield ScrubFinding(
                ScrubEdit.SERVICE_DATE,
                field_name,
                f"line {line.line_number} is dated {line.service_date.isoformat()}, in the future",
                hint="correct the date of service; bill services once they are done",
            )
            continue
        # Late claims deny CO-29 and cannot be appealed, so they must never leave the building.
        deadline, limit = _filing_deadline(line.service_date, ctx)
        if ctx.today > deadline:
            yield ScrubFinding(
                ScrubEdit.TIMELY_FILING,
                field_name,
                f"line {line.line_number} ({line.service_date.isoformat()}) is past the "
                f"payer's timely-filing limit of {limit} (deadline {deadline.isoformat()})",
                hint="send proof of timely filing if an earlier claim was on time; "
                "otherwise write the line off",
            )
        elif deadline - ctx.today <= timedelta(days=ctx.rules.timely_filing_warning_days):
            yield ScrubFinding(
                ScrubEdit.TIMELY_FILING,
                field_name,
                f"line {line.line_number} must reach the payer by {deadline.isoformat()}",
                Severity.WARNING,
                hint="submit this claim first",
            )


def check_duplicate_lines(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    seen: dict[tuple[object, ...], int] = {}
    for index, line in enumerate(claim.lines):
        key = (
            line.revenue_code,
            line.code_system,
            line.code,
            tuple(sorted(line.modifiers)),
            line.service_date,
        )
        if key in seen:
            yield ScrubFinding(
                ScrubEdit.DUPLICATE_LINE,
                f"lines[{index}]",
                f"line {line.line_number} repeats line {claim.lines[seen[key]].line_number} "
                f"({line.code or line.revenue_code} on {line.service_date.isoformat()})",
                hint="bill the units on one line, or mark a true repeat with modifier 76, 77 or 91",
            )
        else:
            seen[key] = index


_NOT_ON_FILE = frozenset({ClaimState.VOIDED, ClaimState.REJECTED, ClaimState.CORRECTED})


def find_duplicate_claims(claim: Claim, prior_claims: Iterable[PriorClaim]) -> list[PriorClaim]:
    """Earlier claims (other ids) for the same patient, payer, billing provider and dates that
    bill a code this claim bills too; voided, rejected and replaced claims do not count."""
    dates = frozenset(line.service_date for line in claim.lines)
    codes = frozenset(line.code or line.revenue_code or "" for line in claim.lines)
    return [
        prior
        for prior in prior_claims
        if prior.claim_id != claim.claim_id
        and prior.state not in _NOT_ON_FILE
        and prior.patient_mrn == claim.patient.mrn
        and prior.payer_id == claim.coverage.payer.payer_id
        and prior.billing_npi == claim.providers.billing.npi
        and prior.service_dates & dates
        and prior.procedure_codes & codes
        # The claim a replacement or void names is its original, not a duplicate of it.
        and not (
            claim.original_claim_number and prior.payer_claim_number == claim.original_claim_number
        )
    ]


def check_duplicate_claims(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    if claim.frequency_code != "1":
        return
    for prior in find_duplicate_claims(claim, ctx.prior_claims):
        yield ScrubFinding(
            ScrubEdit.DUPLICATE_CLAIM,
            "claim_id",
            f"claim {prior.claim_id} already bills these services to this payer "
            f"({prior.state.value})",
            hint="correct the earlier claim with a replacement (frequency 7) instead of "
            "sending a new one; the payer would deny a duplicate CO-18",
        )


def check_charges(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    for index, line in enumerate(claim.lines):
        if line.charge <= 0:
            code = line.code or line.revenue_code
            yield ScrubFinding(
                ScrubEdit.CHARGES,
                f"lines[{index}].charge",
                f"line {line.line_number} ({code}) has no charge: the fee schedule has no "
                "price for it",
                hint=f"add {code} to the tenant's or the payer's fee schedule (claimflow fees "
                "import), then correct the claim to price it again",
            )
    total = money(sum((line.charge for line in claim.lines), start=money(0)))
    if total != claim.total_charge:
        yield ScrubFinding(
            ScrubEdit.CHARGES,
            "total_charge",
            f"total charge {claim.total_charge} is not the sum of the line charges ({total})",
            hint="recompute the total from the lines",
        )


def check_institutional(claim: Claim, ctx: ScrubContext) -> Iterator[ScrubFinding]:
    details = claim.institutional
    if claim.claim_type == "837P":
        return
    if details is None:
        yield ScrubFinding(
            ScrubEdit.INSTITUTIONAL,
            "institutional",
            "an institutional claim needs its type of bill, status and attending provider",
            hint="complete the facility details of the encounter",
        )
        return
    for index, line in enumerate(claim.lines):
        if not line.revenue_code:
            yield ScrubFinding(
                ScrubEdit.INSTITUTIONAL,
                f"lines[{index}].revenue_code",
                f"line {line.line_number} has no revenue code",
                hint="map the charge to its revenue code in the chargemaster",
            )
    if details.inpatient and (details.admitted_at is None or details.admission_type is None):
        yield ScrubFinding(
            ScrubEdit.INSTITUTIONAL,
            "institutional.admitted_at",
            "an inpatient claim needs the admission date, hour and type",
            hint="take them from the ADT admission record",
        )


EDITS: tuple[Edit, ...] = (
    check_claim_limits,
    check_npis,
    check_taxonomies,
    check_diagnosis_pointers,
    check_subscriber_and_payer,
    check_billing_provider_address,
    check_original_claim,
    check_frequency,
    check_mue,
    check_ncci_pairs,
    check_medical_necessity,
    check_age_and_sex,
    check_service_dates,
    check_duplicate_lines,
    check_duplicate_claims,
    check_charges,
    check_institutional,
)
