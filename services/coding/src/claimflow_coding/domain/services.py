"""Procedures and services: SNOMED CT encounter types and procedures and CVX vaccines (as
Synthea and EHRs send them) to CPT/HCPCS service lines; the office/outpatient and emergency
E/M level from total time or medical decision making; preventive visits by age; modifiers 25,
50, LT/RT and XE/XS/XP/XU/59.

Rules are data (`data/service_map.csv`, `em_levels.csv`, `preventive_visits.csv`,
`procedure_rules.csv`, `ncci_pairs.csv`); CPT wording in them is our own (the AMA owns the
descriptors).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Literal

from claimflow_coding.domain.hcpcs import hcpcs_code
from claimflow_coding.domain.reasons import Reason

Mdm = Literal["minimal", "straightforward", "low", "moderate", "high"]
Family = Literal["office", "emergency"]
Side = Literal["left", "right", "bilateral"]
Distinction = Literal["session", "structure", "practitioner", "unusual", "other"]

MDM_ORDER: tuple[str, ...] = ("minimal", "straightforward", "low", "moderate", "high")
# CPT 2024+: prolonged office service (99417) for each full 15 minutes beyond the time of the
# highest level (60 min new, 40 min established), counted from 75 and 55 minutes.
PROLONGED_CODE = "99417"
PROLONGED_FROM = {"new": 75, "established": 55}
SNOMED_SYSTEMS = frozenset({"snomed", "http://snomed.info/sct", "sct", "2.16.840.1.113883.6.96"})
CVX_SYSTEMS = frozenset({"cvx", "http://hl7.org/fhir/sid/cvx", "2.16.840.1.113883.12.292"})
LOINC_SYSTEMS = frozenset({"loinc", "http://loinc.org", "2.16.840.1.113883.6.1"})
DISTINCT_MODIFIER: Mapping[str, str] = MappingProxyType(
    {
        "session": "XE",
        "structure": "XS",
        "practitioner": "XP",
        "unusual": "XU",
        "other": "59",
    }
)
ADMIN_CODES = {
    ("injection", True): "90471",
    ("injection", False): "90472",
    ("oral", True): "90473",
    ("oral", False): "90474",
}


def _table(name: str) -> list[dict[str, str]]:
    text = resources.files("claimflow_coding.domain").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@dataclass(frozen=True)
class ServiceLine:
    code_system: Literal["CPT", "HCPCS"]
    code: str
    units: int = 1
    modifiers: tuple[str, ...] = ()
    rationale: str = ""
    side: Side | None = None
    distinct: Distinction | None = None
    # Which documented item the line comes from (its position in `items`), and how it was
    # found: service-map, preventive, em-level, vaccine-administration.
    source: int | None = None
    method: str = "service-map"


@dataclass(frozen=True)
class ServicePlan:
    """Service lines for one encounter and what a coder must confirm before they go out."""

    lines: tuple[ServiceLine, ...]
    query_reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    # The kinds of service documented (preventive, vaccine, em-office, ...): some imply a
    # diagnosis (a preventive visit its general examination code, a vaccine Z23).
    services: frozenset[str] = frozenset()


@dataclass(frozen=True)
class EmLevel:
    code: str
    basis: Literal["time", "mdm"]
    reason: str
    prolonged_units: int = 0


# --- E/M level ----------------------------------------------------------------------------


@cache
def _em_rows() -> tuple[dict[str, str], ...]:
    return tuple(_table("em_levels.csv"))


def em_level(
    *,
    family: Family = "office",
    new_patient: bool = False,
    total_minutes: int | None = None,
    mdm: Mdm | None = None,
) -> EmLevel | None:
    """The E/M code from documented total time on the date of service or the level of medical
    decision making, whichever supports the higher level (2021 office guidelines). Emergency
    department visits are levelled by MDM only (2023 guidelines: time does not apply)."""
    patient = "any" if family == "emergency" else ("new" if new_patient else "established")
    rows = [r for r in _em_rows() if r["family"] == family and r["patient"] == patient]
    by_mdm = None
    if mdm is not None:
        rank = MDM_ORDER.index(mdm)
        eligible = [r for r in rows if MDM_ORDER.index(r["mdm"]) <= rank]
        if eligible:
            by_mdm = max(eligible, key=lambda r: MDM_ORDER.index(r["mdm"]))
    by_time = None
    if total_minutes is not None and family == "office":
        timed = [r for r in rows if r["min_minutes"] and total_minutes >= int(r["min_minutes"])]
        if timed:
            by_time = max(timed, key=lambda r: int(r["min_minutes"]))
    if by_mdm is None and by_time is None:
        return None
    if by_time is not None and (
        by_mdm is None or MDM_ORDER.index(by_time["mdm"]) > MDM_ORDER.index(by_mdm["mdm"])
    ):
        units = 0
        start = PROLONGED_FROM[patient]
        if total_minutes is not None and total_minutes >= start:
            units = 1 + (total_minutes - start) // 15
        return EmLevel(
            by_time["code"],
            "time",
            f"total time {total_minutes} min meets {by_time['code']} "
            f"({by_time['min_minutes']}+ min)",
            units,
        )
    assert by_mdm is not None
    return EmLevel(by_mdm["code"], "mdm", f"{mdm} medical decision making")


@cache
def _preventive_rows() -> tuple[dict[str, str], ...]:
    return tuple(_table("preventive_visits.csv"))


def preventive_visit(*, age: int, new_patient: bool) -> str:
    """Preventive medicine visit code by age band, new or established patient."""
    for row in _preventive_rows():
        if int(row["min_age"]) <= age <= int(row["max_age"]):
            return row["new_code" if new_patient else "established_code"]
    raise ValueError("age: outside the preventive visit age bands")


# --- SNOMED / CVX to service lines ----------------------------------------------------------


@dataclass(frozen=True)
class ServiceRule:
    system: str
    code: str
    display: str
    service: str  # preventive | em-office | em-ed | inpatient | fixed | bundled | vaccine | query
    codes: tuple[tuple[str, str], ...]
    route: str
    medicare_admin: str
    rationale: str


@cache
def service_rules() -> Mapping[tuple[str, str], ServiceRule]:
    rules = {}
    for row in _table("service_map.csv"):
        codes = tuple(tuple(part.split(":", 1)) for part in row["codes"].split(";") if part.strip())
        rule = ServiceRule(
            row["system"],
            row["code"].strip(),
            row["display"],
            row["service"],
            codes,  # type: ignore[arg-type]
            row["route"],
            row["medicare_admin"],
            row["rationale"],
        )
        rules[(rule.system, _normal_code(rule.system, rule.code))] = rule
    return MappingProxyType(rules)


def _normal_code(system: str, code: str) -> str:
    code = str(code).strip()
    return code.lstrip("0") or "0" if system == "cvx" else code


def _system(system: str) -> str | None:
    lowered = (system or "").strip().lower()
    if lowered in SNOMED_SYSTEMS:
        return "snomed"
    if lowered in CVX_SYSTEMS:
        return "cvx"
    if lowered in LOINC_SYSTEMS:
        return "loinc"
    return None


@dataclass(frozen=True)
class DocumentedService:
    """One documented encounter type, procedure or immunization, as the EHR sent it.
    `field` names it in the caller's document (default `services[i]`)."""

    system: str
    code: str
    side: Side | None = None
    distinct: Distinction | None = None
    units: int = 1
    display: str | None = None
    field: str | None = None


def plan_services(
    *,
    items: Sequence[DocumentedService],
    patient_age: int | None = None,
    new_patient: bool = False,
    total_minutes: int | None = None,
    mdm: Mdm | None = None,
    medicare: bool = False,
    separately_identifiable: bool | None = None,
) -> ServicePlan:
    """Service lines for one encounter: each documented item through the curated map,
    vaccines with their administration codes in order, then the modifier rules."""
    lines: list[ServiceLine] = []
    reasons: list[str] = []
    notes: list[str] = []
    services: set[str] = set()
    vaccines: list[tuple[ServiceRule, DocumentedService, int]] = []
    for position, item in enumerate(items):
        system = _system(item.system)
        rule = service_rules().get((system, _normal_code(system, item.code))) if system else None
        where = item.field or f"services[{position}]"
        if rule is None:
            not_a_service = _not_a_service(system, item.display)
            if not_a_service:
                notes.append(f"{where}: no service line: {not_a_service}")
            else:
                reasons.append(
                    Reason(
                        f"{where}.code: not in the service map; a coder assigns CPT/HCPCS",
                        "SVC-UNMAPPED",
                    )
                )
            continue
        services.add(rule.service)
        if rule.service == "vaccine":
            vaccines.append((rule, item, position))
        elif rule.service == "fixed":
            for code_system, code in rule.codes:
                lines.append(
                    ServiceLine(
                        code_system,  # type: ignore[arg-type]
                        code,
                        item.units,
                        rationale=rule.rationale,
                        side=item.side,
                        distinct=item.distinct,
                        source=position,
                    )
                )
        elif rule.service == "preventive":
            if patient_age is None:
                reasons.append(
                    Reason(f"{where}: preventive visit needs the patient's age", "SVC-AGE")
                )
            else:
                code = preventive_visit(age=patient_age, new_patient=new_patient)
                lines.append(
                    ServiceLine(
                        "CPT", code, rationale=rule.rationale, source=position, method="preventive"
                    )
                )
        elif rule.service in {"em-office", "em-ed"}:
            family: Family = "emergency" if rule.service == "em-ed" else "office"
            level = em_level(
                family=family, new_patient=new_patient, total_minutes=total_minutes, mdm=mdm
            )
            if level is None:
                reasons.append(
                    Reason(
                        f"{where}: E/M level needs documented total time or medical decision "
                        "making",
                        "EM-LEVEL",
                    )
                )
                continue
            lines.append(
                ServiceLine(
                    "CPT", level.code, rationale=level.reason, source=position, method="em-level"
                )
            )
            if level.prolonged_units:
                lines.append(
                    ServiceLine(
                        "CPT",
                        PROLONGED_CODE,
                        level.prolonged_units,
                        rationale="prolonged office service, each 15 minutes",
                        source=position,
                        method="em-level",
                    )
                )
        elif rule.service in {"inpatient", "query"}:
            reasons.append(Reason(f"{where}: {rule.rationale}", "SVC-CODER"))
        # bundled items add no line
    lines.extend(_vaccine_lines(vaccines, medicare=medicare))
    lines, modifier_reasons = apply_modifiers(
        lines, separately_identifiable=separately_identifiable
    )
    return ServicePlan(
        tuple(lines), tuple(reasons + modifier_reasons), tuple(notes), frozenset(services)
    )


@cache
def _semantic_tags() -> Mapping[str, str]:
    return MappingProxyType(
        {r["tag"].strip().lower(): r["rationale"] for r in _table("service_semantic_tags.csv")}
    )


_SEMANTIC_TAG = re.compile(r"\(([a-z /-]+)\)\s*$")


def _not_a_service(system: str | None, display: str | None) -> str | None:
    """Why a SNOMED CT concept the map does not know is no service at all, from the semantic
    tag its fully specified name ends with ("Blood glucose testing strips (physical object)":
    a supply, billed by its supplier, not on the visit's claim)."""
    if system != "snomed" or not display:
        return None
    found = _SEMANTIC_TAG.search(display.strip().lower())
    return _semantic_tags().get(found.group(1)) if found else None


def _vaccine_lines(
    vaccines: Sequence[tuple[ServiceRule, DocumentedService, int]], *, medicare: bool
) -> list[ServiceLine]:
    """Each vaccine product plus its administration: the first injection 90471 and each
    further one 90472 (oral/intranasal 90473/90474, 90474 once an injection is first).
    Medicare pays influenza, pneumococcal and hepatitis B administration under G0008-G0010,
    outside that sequence."""
    lines: list[ServiceLine] = []
    first_given = False
    ordered = sorted(vaccines, key=lambda triple: triple[0].route != "injection")
    for rule, item, position in ordered:
        for code_system, code in rule.codes:
            lines.append(
                ServiceLine(
                    code_system,  # type: ignore[arg-type]
                    code,
                    item.units,
                    rationale=rule.rationale,
                    source=position,
                )
            )
        if medicare and rule.medicare_admin:
            lines.append(
                ServiceLine(
                    "HCPCS",
                    rule.medicare_admin,
                    rationale="Medicare vaccine administration",
                    source=position,
                    method="vaccine-administration",
                )
            )
            continue
        route = "oral" if rule.route in {"oral", "intranasal"} else "injection"
        admin = ADMIN_CODES[(route, not first_given)]
        first_given = True
        lines.append(
            ServiceLine(
                "CPT",
                admin,
                rationale=f"{route} vaccine administration",
                source=position,
                method="vaccine-administration",
            )
        )
    return _merge_units(lines)


def _merge_units(lines: list[ServiceLine]) -> list[ServiceLine]:
    """Add-on administration codes are one line with units, not repeated lines."""
    merged: dict[tuple[str, str], ServiceLine] = {}
    out: list[ServiceLine] = []
    for line in lines:
        key = (line.code_system, line.code)
        if line.code in {"90472", "90474"} and key in merged:
            merged[key] = replace(merged[key], units=merged[key].units + line.units)
            out[out.index(next(x for x in out if (x.code_system, x.code) == key))] = merged[key]
            continue
        merged[key] = line
        out.append(line)
    return out


# --- modifiers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcedureRule:
    code: str
    bilateral: int  # MPFS bilateral indicator: 0 n/a, 1 modifier 50, 2 already bilateral, 3 RT+LT
    global_days: str
    kind: str


@cache
def procedure_rules() -> Mapping[str, ProcedureRule]:
    return MappingProxyType(
        {
            r["code"]: ProcedureRule(r["code"], int(r["bilateral"]), r["global_days"], r["kind"])
            for r in _table("procedure_rules.csv")
        }
    )


@cache
def ncci_pairs() -> Mapping[tuple[str, str], int]:
    return MappingProxyType(
        {
            (r["column1"], r["column2"]): int(r["modifier_indicator"])
            for r in _table("ncci_pairs.csv")
        }
    )


def _is_em(code: str) -> bool:
    return code[:3] in {"992", "993", "994"} and code.isdigit() and code != "99024"


def _is_procedure(line: ServiceLine) -> bool:
    rule = procedure_rules().get(line.code)
    if rule is not None:
        return rule.kind == "procedure"
    return line.code in {"90471", "90472", "90473", "90474", "96372", "G0008", "G0009", "G0010"}


def apply_modifiers(
    lines: Sequence[ServiceLine], *, separately_identifiable: bool | None = None
) -> tuple[list[ServiceLine], list[str]]:
    """The modifier rules, in order: sides (LT/RT/50), NCCI pairs (XE/XS/XP/XU, 59 last),
    then 25 on an E/M billed with a procedure."""
    out: list[ServiceLine] = []
    reasons: list[str] = []
    for line in lines:
        out.extend(_sided(line, reasons))
    out = _distinct(out, reasons)
    out = _modifier_25(out, separately_identifiable, reasons)
    return out, reasons


def _with(line: ServiceLine, modifier: str) -> ServiceLine:
    if modifier in line.modifiers:
        return line
    return replace(line, modifiers=(*line.modifiers, modifier))


def _sided(line: ServiceLine, reasons: list[str]) -> list[ServiceLine]:
    rule = procedure_rules().get(line.code)
    if rule is None or rule.bilateral in (0, 2):
        return [line]
    if line.side is None:
        reasons.append(
            Reason(
                f"{line.code}: paired organ or limb, the side (left/right/both) is needed",
                "MOD-SIDE",
            )
        )
        return [line]
    if line.side == "bilateral":
        if rule.bilateral == 1:
            return [_with(replace(line, units=1), "50")]
        return [_with(line, "RT"), _with(line, "LT")]
    return [_with(line, "LT" if line.side == "left" else "RT")]


def _distinct(lines: list[ServiceLine], reasons: list[str]) -> list[ServiceLine]:
    codes = [line.code for line in lines]
    out = list(lines)
    for (first, second), indicator in ncci_pairs().items():
        if first not in codes or second not in codes:
            continue
        if first == second and codes.count(first) < 2:
            continue
        index = len(codes) - 1 - codes[::-1].index(second)
        line = out[index]
        if indicator == 0:
            reasons.append(
                Reason(f"{second} is bundled into {first} (NCCI, no modifier allowed)", "NCCI")
            )
            continue
        if line.distinct is None:
            reasons.append(
                Reason(
                    f"{second} bundles into {first} (NCCI): add XE/XS/XP/XU only when the "
                    "record documents a separate session, structure, practitioner or "
                    "non-overlapping service",
                    "NCCI",
                )
            )
            continue
        out[index] = _with(line, DISTINCT_MODIFIER[line.distinct])
    return out


_VACCINE_ADMINISTRATION = frozenset(
    {"90460", "90461", "90471", "90472", "90473", "90474", "G0008", "G0009", "G0010"}
)


def _is_preventive(code: str) -> bool:
    return code.isdigit() and "99381" <= code <= "99397"


def _modifier_25(
    lines: list[ServiceLine], separately_identifiable: bool | None, reasons: list[str]
) -> list[ServiceLine]:
    procedures = [line.code for line in lines if _is_procedure(line)]
    if not procedures:
        return lines
    only_vaccines = all(code in _VACCINE_ADMINISTRATION for code in procedures)
    out = []
    for line in lines:
        if not _is_em(line.code):
            out.append(line)
            continue
        if separately_identifiable is False:
            reasons.append(
                Reason(
                    f"{line.code}: E/M on the day of a procedure is part of the procedure unless "
                    "a separately identifiable service is documented; line dropped",
                    "MOD-25",
                )
            )
            continue
        # NCCI (since 2013) pairs vaccine administration with preventive visits; modifier 25
        # on the preventive code reports both, and a preventive visit is by its nature a
        # service apart from giving a vaccine: nothing for a coder to confirm.
        if separately_identifiable is None and not (only_vaccines and _is_preventive(line.code)):
            reasons.append(
                Reason(
                    f"{line.code}: billed with a procedure, modifier 25 added: confirm the "
                    "record documents a significant, separately identifiable E/M service",
                    "MOD-25",
                )
            )
        out.append(_with(line, "25"))
    return out


def known_hcpcs(code: str) -> bool:
    return hcpcs_code(code) is not None
