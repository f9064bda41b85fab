"""The scrubber's rule tables and their loaders. The NCCI PTP and MUE loaders take the CMS
quarterly file layouts (CSV or tab-separated, preamble lines before the header allowed), so
a real CMS file drops in where ClaimFlow's own tables ship."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path

from claimflow_claims.domain.tables import DATA_DIR, RuleTableError, read_rule_table


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
    rationale: str = ""

    def in_force(self, on: date) -> bool:
        active = self.effective <= on and (self.deleted is None or on <= self.deleted)
        return active and self.modifier_indicator != "9"


@dataclass(frozen=True)
class MueLimit:
    code: str
    max_units: int
    per_line: bool = False  # MAI 1: the limit applies to each claim line, not each day
    rationale: str = ""


@dataclass(frozen=True)
class AgeSexEdit:
    kind: str  # diagnosis | procedure
    code_prefix: str
    sex: str  # M, F or *
    min_age: int
    max_age: int
    source: str


@dataclass(frozen=True)
class PayerRules:
    timely_filing_days: int | None = None
    severities: Mapping[str, str] = field(default_factory=dict)  # edit code -> error/warning/off
    # SBR09 / 2320 SBR09: CI commercial, MB Medicare part B, MC Medicaid, BL Blue Cross, ...
    claim_filing_indicator: str = "CI"
    # The payer forwards its claims to the later payer named in 2320 (a crossover agreement,
    # as Medicare has with supplemental carriers): we then name later payers on its claims
    # and never bill them ourselves.
    crossover: bool = False


def _cms_rows(text: str, first_header: str, what: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CMS table as {header: value}, found by its header row (which starts with
    `first_header`); copyright preamble and `#` comment lines before it are skipped."""
    lines = text.lstrip("\ufeff").splitlines()
    start, delimiter = -1, ","
    for number, line in enumerate(lines):
        if line.lstrip().startswith("#") or not line.strip():
            continue
        delimiter = "\t" if "\t" in line else ","
        cells = next(csv.reader([line], delimiter=delimiter))
        if cells and cells[0].strip().strip('"').startswith(first_header):
            start = number
            break
    if start < 0:
        raise RuleTableError(f"{what}: no header row starting with {first_header!r}")
    reader = csv.reader(io.StringIO("\n".join(lines[start:])), delimiter=delimiter)
    header = [cell.strip() for cell in next(reader)]
    for offset, cells in enumerate(reader, start=start + 2):
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            continue
        yield offset, dict(zip(header, (c.strip() for c in cells), strict=False))


def _column(row: Mapping[str, str], prefix: str, what: str, line: int) -> str:
    for name, value in row.items():
        if name.startswith(prefix):
            return value
    raise RuleTableError(f"{what} line {line}: no column starting with {prefix!r}")


def _cms_date(raw: str, what: str, line: int) -> date | None:
    raw = raw.strip()
    if raw in {"", "*"}:
        return None
    for shape in ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(raw, shape).date()
        except ValueError:
            continue
    raise RuleTableError(f"{what} line {line}: {raw!r} is not a date")


def parse_ncci_ptp(
    text: str, *, what: str = "NCCI PTP table"
) -> dict[tuple[str, str], tuple[NcciPair, ...]]:
    """Parse a CMS NCCI PTP file (Column 1, Column 2, *=in existence prior to 1996,
    Effective Date, Deletion Date, Modifier 0/1/9, PTP Edit Rationale)."""
    pairs: defaultdict[tuple[str, str], list[NcciPair]] = defaultdict(list)
    for line, row in _cms_rows(text, "Column 1", what):
        indicator = _column(row, "Modifier", what, line)[:1]
        if indicator not in {"0", "1", "9"}:
            raise RuleTableError(f"{what} line {line}: modifier indicator must be 0, 1 or 9")
        effective = _cms_date(_column(row, "Effective", what, line), what, line)
        if effective is None:
            raise RuleTableError(f"{what} line {line}: effective date missing")
        pair = NcciPair(
            column1=_column(row, "Column 1", what, line).upper(),
            column2=_column(row, "Column 2", what, line).upper(),
            modifier_indicator=indicator,
            effective=effective,
            deleted=_cms_date(_column(row, "Deletion", what, line), what, line),
            rationale=row.get("PTP Edit Rationale", ""),
        )
        pairs[(pair.column1, pair.column2)].append(pair)
    return {key: tuple(value) for key, value in pairs.items()}


def parse_mue(text: str, *, what: str = "MUE table") -> dict[str, MueLimit]:
    """Parse a CMS MUE file (HCPCS/CPT Code, Practitioner [or Outpatient Hospital or DME]
    Services MUE Values, MUE Adjudication Indicator, MUE Rationale)."""
    limits: dict[str, MueLimit] = {}
    for line, row in _cms_rows(text, "HCPCS/CPT Code", what):
        code = _column(row, "HCPCS/CPT Code", what, line).upper()
        raw = next((v for k, v in row.items() if k.endswith("MUE Values")), "")
        if not raw.isdigit() or int(raw) < 1:
            raise RuleTableError(f"{what} line {line}: MUE value {raw!r} is not a positive number")
        if code in limits:
            raise RuleTableError(f"{what} line {line}: {code} is listed twice")
        indicator = row.get("MUE Adjudication Indicator", "")[:1]
        limits[code] = MueLimit(
            code=code,
            max_units=int(raw),
            per_line=indicator == "1",
            rationale=row.get("MUE Rationale", ""),
        )
    return limits


def load_bypass_modifiers(path: Path) -> dict[str, ModifierScope]:
    rows = read_rule_table(path, columns=("modifier", "column2_kind"))
    try:
        return {row["modifier"].upper(): ModifierScope(row["column2_kind"]) for row in rows}
    except ValueError as exc:
        raise RuleTableError(f"{path.name}: {exc}") from exc


def load_medical_necessity(path: Path) -> dict[str, tuple[str, ...]]:
    rows = read_rule_table(path, columns=("code", "diagnosis_prefixes"))
    return {row["code"].upper(): tuple(row["diagnosis_prefixes"].upper().split()) for row in rows}


def load_age_sex_edits(path: Path) -> tuple[AgeSexEdit, ...]:
    columns = ("kind", "code_prefix", "sex", "min_age", "max_age", "source")
    edits = []
    for number, row in enumerate(read_rule_table(path, columns=columns), start=2):
        if row["kind"] not in {"diagnosis", "procedure"} or row["sex"] not in {"M", "F", "*"}:
            raise RuleTableError(f"{path.name} row {number}: kind or sex not understood")
        try:
            low, high = int(row["min_age"]), int(row["max_age"])
        except ValueError as exc:
            raise RuleTableError(f"{path.name} row {number}: {exc}") from exc
        edits.append(
            AgeSexEdit(
                row["kind"], row["code_prefix"].upper(), row["sex"], low, high, row["source"]
            )
        )
    return tuple(edits)


def load_payer_rules(rules_path: Path, overrides_path: Path) -> dict[str, PayerRules]:
    payers: dict[str, PayerRules] = {}
    for number, row in enumerate(
        read_rule_table(rules_path, columns=("payer_id", "timely_filing_days")), start=2
    ):
        days = row["timely_filing_days"]
        if days and not days.isdigit():
            raise RuleTableError(f"{rules_path.name} row {number}: days must be a whole number")
        indicator = (row.get("claim_filing_indicator") or "CI").upper()
        if not (len(indicator) == 2 and indicator.isalnum()):
            raise RuleTableError(
                f"{rules_path.name} row {number}: claim_filing_indicator must be 2 characters"
            )
        crossover = (row.get("crossover") or "N").upper()
        if crossover not in {"Y", "N"}:
            raise RuleTableError(f"{rules_path.name} row {number}: crossover must be Y or N")
        payers[row["payer_id"]] = PayerRules(
            timely_filing_days=int(days) if days else None,
            claim_filing_indicator=indicator,
            crossover=crossover == "Y",
        )
    for number, row in enumerate(
        read_rule_table(overrides_path, columns=("payer_id", "edit", "severity")), start=2
    ):
        if row["severity"] not in {"error", "warning", "off"}:
            raise RuleTableError(f"{overrides_path.name} row {number}: severity error/warning/off")
        current = payers.get(row["payer_id"], PayerRules())
        severities = {**current.severities, row["edit"]: row["severity"]}
        payers[row["payer_id"]] = replace(current, severities=severities)
    return payers


@cache
def nucc_taxonomy_codes() -> frozenset[str]:
    rows = read_rule_table(DATA_DIR / "nucc_taxonomy.csv", columns=("code",))
    return frozenset(row["code"] for row in rows)
