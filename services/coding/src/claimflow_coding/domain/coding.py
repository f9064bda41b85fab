"""Turn a documented encounter into final codes, or into the queries a coder must answer first.

Diagnoses go through the computer-assisted coder (`cac.code_diagnoses`: a documented
ICD-10-CM code is verified, a SNOMED CT concept goes through the curated map, free text through
the term index) and the compliance edits; CPT/HCPCS documented on a line are kept as given,
and services documented in another system (SNOMED CT encounter types and procedures, CVX
vaccines, LOINC tests) are planned by `services.plan_services`. The encounter is coded only
when nothing needs a human: every suggestion met the tenant's threshold and no edit failed.

Field paths in query reasons index the documented lists from 0, as in `diagnoses[2].code`.
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from importlib import resources
from typing import TypeVar

from claimflow_coding.domain.cac.coder import DEFAULT_THRESHOLD, Suggestion
from claimflow_coding.domain.cac.encounter import (
    DocumentedDiagnosisInput,
    FinalDiagnosis,
    ImpliedDiagnosis,
    Issue,
    code_diagnoses,
)
from claimflow_coding.domain.edits import never_first_listed
from claimflow_coding.domain.hcc import (
    HCC_MODEL,
    HCC_PAYMENT_YEAR,
    HccCategory,
    HccMappingUnavailable,
    risk_adjustment_eligible,
)
from claimflow_coding.domain.icd10 import ICD10CM_VERSION
from claimflow_coding.domain.procedures import CPT_VERSION, HCPCS_VERSION, check_procedure
from claimflow_coding.domain.reasons import rule_of
from claimflow_coding.domain.services import DocumentedService, ServiceLine, plan_services
from claimflow_shared.codes import ProcedureCodeSystem, procedure_code
from claimflow_shared.events.models import (
    CodedDiagnosis,
    CodeDecision,
    CodedServiceLine,
    CodeSetVersions,
    CodingQueryRaised,
    DiagnosisCandidates,
    DocumentedCodeSystem,
    DocumentedDiagnosis,
    DocumentedProcedure,
    EncounterClass,
    EncounterCoded,
    EncounterDocumented,
    QueryReason,
    RiskAdjustmentCategory,
    SuggestedCode,
)

CODE_SETS = CodeSetVersions(icd10cm=ICD10CM_VERSION, cpt=CPT_VERSION, hcpcs=HCPCS_VERSION)
HCC_MODEL_NAME = f"{HCC_MODEL} ({HCC_PAYMENT_YEAR})"
MAX_DIAGNOSES = 12
MAX_LINES = 50
MAX_POINTERS = 4
_MEDICARE = re.compile(r"\bmedicare\b", re.IGNORECASE)
# Codings the service planner reads, by the name `plan_services` knows them under.
_SERVICE_SYSTEMS = {
    DocumentedCodeSystem.SNOMED_CT: "snomed",
    DocumentedCodeSystem.CVX: "cvx",
    DocumentedCodeSystem.LOINC: "loinc",
}


@dataclass(frozen=True)
class Coded:
    final_diagnoses: tuple[CodedDiagnosis, ...]
    service_lines: tuple[CodedServiceLine, ...]
    code_sets: CodeSetVersions
    coded_by: str
    hccs: tuple[RiskAdjustmentCategory, ...] = ()
    notes: tuple[QueryReason, ...] = ()
    threshold: float | None = None

    def to_event(self, documented: EncounterDocumented, *, revision: int = 1) -> EncounterCoded:
        """The `encounter.coded` payload: the documented encounter plus its final codes."""
        return EncounterCoded(
            **dict(documented),
            final_diagnoses=list(self.final_diagnoses),
            service_lines=list(self.service_lines),
            code_sets=self.code_sets,
            coded_by=self.coded_by,
            revision=revision,
            auto_code_threshold=self.threshold,
            hcc_categories=list(self.hccs),
            risk_adjustment_eligible=eligible_for_risk_adjustment(self.service_lines),
            notes=list(self.notes),
        )


@dataclass(frozen=True)
class NeedsQuery:
    reasons: tuple[QueryReason, ...]
    suggested_diagnoses: tuple[CodedDiagnosis, ...] = ()
    suggested_lines: tuple[CodedServiceLine, ...] = ()
    candidates: tuple[DiagnosisCandidates, ...] = ()
    hccs: tuple[RiskAdjustmentCategory, ...] = ()
    notes: tuple[QueryReason, ...] = ()
    threshold: float | None = None

    @property
    def rules(self) -> list[str]:
        return sorted({r.rule or "CODING" for r in self.reasons})

    def to_event(self, documented: EncounterDocumented, *, revision: int = 1) -> CodingQueryRaised:
        """The `coding.query-raised` payload for the coder worklist."""
        return CodingQueryRaised(
            source=documented.source,
            reasons=list(self.reasons),
            revision=revision,
            auto_code_threshold=self.threshold,
            suggested_diagnoses=list(self.suggested_diagnoses),
            suggested_lines=list(self.suggested_lines),
            candidates=list(self.candidates),
            hcc_categories=list(self.hccs),
        )


@dataclass(frozen=True)
class PatientContext:
    age: int | None
    sex: str | None
    setting: str
    medicare: bool


def patient_context(documented: EncounterDocumented) -> PatientContext:
    """What the edits and the planner need to know about the patient and the payer."""
    return PatientContext(
        age=age_on(documented.patient.birth_date, documented.period_start),
        sex=documented.patient.sex.value if documented.patient.sex.value in ("F", "M") else None,
        setting="inpatient"
        if documented.encounter_class is EncounterClass.INPATIENT
        else "outpatient",
        medicare=bool(
            documented.coverages and _MEDICARE.search(documented.coverages[0].payer.name)
        ),
    )


def load_tables() -> None:
    """Load every table the coder reads (term index, maps, edits, HCC model) and code one
    statement, so the first encounter does not pay for it."""
    from claimflow_coding.domain.cac import statement_result, term_index
    from claimflow_coding.domain.cac.snomed import snomed_table
    from claimflow_coding.domain.edits import check_codes
    from claimflow_coding.domain.hcc import hcc_model
    from claimflow_coding.domain.procedures import procedure_table
    from claimflow_coding.domain.services import service_rules

    term_index()
    snomed_table()
    service_rules()
    procedure_table()
    _implied_rows()
    with contextlib.suppress(HccMappingUnavailable):
        hcc_model()
        risk_adjustment_eligible(procedure_codes=["99213"])
    statement_result("type 2 diabetes mellitus with hyperglycemia")
    check_codes(codes=["Z00.00", "E11.9", "I10"], age=50, sex="F")


def age_on(birth: date, day: date) -> int | None:
    if day < birth:
        return None
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def code_encounter(
    documented: EncounterDocumented, *, coder: str, threshold: float = DEFAULT_THRESHOLD
) -> Coded | NeedsQuery:
    """Code the encounter when nothing needs a human, else say what does and suggest codes."""
    patient = patient_context(documented)
    issues: list[Issue] = []
    notes: list[Issue] = []
    diagnoses = _in_sequence(documented.diagnoses)
    issues += _sequence_issues(diagnoses)
    procedures = _in_sequence(documented.procedures)
    documented_sequences = {d.sequence for d in documented.diagnoses}
    for index, procedure in procedures:
        issues += _pointer_issues(index, procedure, documented_sequences)

    given, planned_items, item_of = _split_procedures(procedures, issues)
    plan = plan_services(
        items=planned_items,
        patient_age=patient.age,
        medicare=patient.medicare,
    )
    issues += [_service_issue(reason) for reason in plan.query_reasons]
    notes += [Issue(_field_of(note), None, "SVC-NOTE", note) for note in plan.notes]

    result = code_diagnoses(
        diagnoses=[_diagnosis_input(index, d) for index, d in diagnoses],
        patient_age=patient.age,
        patient_sex=patient.sex,
        setting=patient.setting,  # type: ignore[arg-type]
        threshold=threshold,
        implied=implied_diagnoses(plan.services, age=patient.age),
    )
    issues += result.issues
    notes += result.notes
    final = list(result.final)[:MAX_DIAGNOSES]
    if len(result.final) > MAX_DIAGNOSES:
        issues.append(
            Issue("diagnoses", None, "DX-COUNT", f"more than {MAX_DIAGNOSES} final diagnoses")
        )
    final_diagnoses = [_coded_diagnosis(n, f, coder) for n, f in enumerate(final, start=1)]
    lines = _service_lines(
        final, diagnoses, result.suggestions, given, plan.lines, item_of, procedures, coder
    )
    if not lines and not any(i.field.startswith("procedures") for i in issues):
        issues.append(Issue("procedures", None, "SVC-NONE", "no billable service line"))
    if len(lines) > MAX_LINES:
        issues.append(Issue("procedures", None, "SVC-COUNT", f"more than {MAX_LINES} lines"))
        lines = lines[:MAX_LINES]
    hccs = tuple(risk_categories(result.hccs))
    if issues:
        return NeedsQuery(
            reasons=tuple(_query_reason(i) for i in issues),
            suggested_diagnoses=tuple(final_diagnoses),
            suggested_lines=tuple(lines),
            candidates=tuple(
                _candidates(f"diagnoses[{index}]", s)
                for (index, _), s in zip(diagnoses, result.suggestions, strict=True)
            ),
            hccs=hccs,
            notes=tuple(_query_reason(n) for n in notes),
            threshold=threshold,
        )
    return Coded(
        final_diagnoses=tuple(final_diagnoses),
        service_lines=tuple(lines),
        code_sets=CODE_SETS,
        coded_by=coder,
        hccs=hccs,
        notes=tuple(_query_reason(n) for n in notes),
        threshold=threshold,
    )


# --- diagnoses ----------------------------------------------------------------------------


_Documented = TypeVar("_Documented", DocumentedDiagnosis, DocumentedProcedure)


def _in_sequence(items: Iterable[_Documented]) -> list[tuple[int, _Documented]]:
    """Items in documented sequence, each with its index in the documented list."""
    return sorted(enumerate(items), key=lambda pair: pair[1].sequence)


def _sequence_issues(diagnoses: list[tuple[int, DocumentedDiagnosis]]) -> list[Issue]:
    issues = []
    first_at: dict[int, int] = {}
    for index, diagnosis in diagnoses:
        if diagnosis.sequence in first_at:
            issues.append(
                Issue(
                    f"diagnoses[{index}].sequence",
                    diagnosis.code,
                    "DX-SEQUENCE",
                    f"sequence {diagnosis.sequence} is also used by "
                    f"diagnoses[{first_at[diagnosis.sequence]}]; pointers would be ambiguous",
                )
            )
        else:
            first_at[diagnosis.sequence] = index
    return issues


def _diagnosis_input(index: int, diagnosis: DocumentedDiagnosis) -> DocumentedDiagnosisInput:
    """What the coder reads of one documented diagnosis: the ICD-10-CM code when given, else
    the first SNOMED CT concept, else the text (or a coding's display)."""
    where = f"diagnoses[{index}]"
    display = next((c.display for c in diagnosis.codings if c.display), None)
    text = diagnosis.text or display
    if (diagnosis.code or "").strip():
        return DocumentedDiagnosisInput(text, "ICD-10-CM", diagnosis.code, where)
    snomed = next(
        (c for c in diagnosis.codings if c.system is DocumentedCodeSystem.SNOMED_CT), None
    )
    if snomed is not None:
        return DocumentedDiagnosisInput(text or snomed.display, "snomed", snomed.code, where)
    return DocumentedDiagnosisInput(text, None, None, where)


@cache
def _implied_rows() -> tuple[dict[str, str], ...]:
    text = resources.files("claimflow_coding.domain").joinpath("data", "service_diagnoses.csv")
    return tuple(csv.DictReader(text.read_text("utf-8").splitlines()))


def implied_diagnoses(services: Iterable[str], *, age: int | None) -> list[ImpliedDiagnosis]:
    """The diagnosis codes these services imply for a patient of this age
    (`data/service_diagnoses.csv`)."""
    wanted = set(services)
    found = []
    for row in _implied_rows():
        if row["service"] not in wanted or age is None:
            continue
        if int(row["min_age"]) <= age <= int(row["max_age"]):
            found.append(
                ImpliedDiagnosis(
                    family=row["family"],
                    without_findings=row["without_findings"],
                    with_findings=row["with_findings"],
                    first=row["position"] == "first",
                    confidence=float(row["confidence"]),
                    rationale=row["rationale"],
                )
            )
    return found


def _coded_diagnosis(sequence: int, final: FinalDiagnosis, coder: str) -> CodedDiagnosis:
    return CodedDiagnosis(
        sequence=sequence,
        code=final.code,
        description=final.description,
        decision=CodeDecision.GIVEN if final.how == "given" else CodeDecision.SUGGESTED_ACCEPTED,
        decided_by=coder,
        method=final.how,
        confidence=round(final.confidence, 4),
    )


def _candidates(where: str, suggestion: Suggestion) -> DiagnosisCandidates:
    return DiagnosisCandidates(
        field=where,
        candidates=[
            SuggestedCode(
                code=c.code,
                description=c.description,
                confidence=round(min(1.0, max(0.0, c.confidence)), 4),
                method=c.how,
                evidence=[e.as_text()[:200] for e in c.evidence[:3]],
            )
            for c in suggestion.candidates[:10]
        ],
    )


def eligible_for_risk_adjustment(lines: Iterable[CodedServiceLine]) -> bool | None:
    try:
        return risk_adjustment_eligible(procedure_codes=[line.code for line in lines])
    except HccMappingUnavailable:
        return None


def risk_categories(hccs: Iterable[HccCategory]) -> list[RiskAdjustmentCategory]:
    return [
        RiskAdjustmentCategory(hcc=h.hcc, label=h.label[:200], model=HCC_MODEL_NAME, codes=h.codes)
        for h in hccs
    ]


# --- procedures and service lines ---------------------------------------------------------


@dataclass(frozen=True)
class _Given:
    index: int
    procedure: DocumentedProcedure


def _split_procedures(
    procedures: list[tuple[int, DocumentedProcedure]], issues: list[Issue]
) -> tuple[list[_Given], list[DocumentedService], list[int]]:
    """Procedures with a CPT/HCPCS code (kept as given, once checked) and those documented
    only in another system (for the planner), with the documented index of each item."""
    given: list[_Given] = []
    items: list[DocumentedService] = []
    item_of: list[int] = []
    for index, procedure in procedures:
        if (procedure.code or "").strip():
            check = check_procedure(procedure.code_system, procedure.code or "")
            if check.ok:
                given.append(_Given(index, procedure))
            else:
                issues.append(
                    Issue(
                        f"procedures[{index}].code",
                        procedure.code,
                        "PROC-UNKNOWN",
                        check.problem or "unknown code",
                    )
                )
            continue
        coding = next((c for c in procedure.codings if c.system in _SERVICE_SYSTEMS), None)
        if coding is None:
            issues.append(
                Issue(
                    f"procedures[{index}].code",
                    None,
                    "PROC-MISSING",
                    f"no {procedure.code_system.value} code documented",
                )
            )
            continue
        items.append(
            DocumentedService(
                _SERVICE_SYSTEMS[coding.system],
                coding.code,
                units=procedure.units,
                display=coding.display or procedure.text,
                field=f"procedures[{index}]",
            )
        )
        item_of.append(index)
    return given, items, item_of


def _pointer_issues(
    index: int, procedure: DocumentedProcedure, documented_sequences: set[int]
) -> list[Issue]:
    return [
        Issue(
            f"procedures[{index}].diagnosis_sequences[{pointer}]",
            procedure.code,
            "DX-POINTER",
            f"points to diagnosis sequence {sequence}, which is not documented",
        )
        for pointer, sequence in enumerate(procedure.diagnosis_sequences)
        if sequence not in documented_sequences
    ]


def _field_of(text: str) -> str:
    head = text.split(":", 1)[0]
    return head if head.startswith(("procedures[", "services[")) else "procedures"


def _service_issue(reason: str) -> Issue:
    return Issue(_field_of(reason), None, rule_of(reason), str(reason))


@dataclass(frozen=True)
class _Line:
    procedure_index: int
    code_system: str
    code: str
    modifiers: tuple[str, ...]
    units: int
    method: str
    pointers: tuple[int, ...]
    suggested_pointers: bool


def _service_lines(
    final: list[FinalDiagnosis],
    diagnoses: list[tuple[int, DocumentedDiagnosis]],
    suggestions: Sequence[Suggestion],
    given: list[_Given],
    planned: Sequence[ServiceLine],
    item_of: list[int],
    procedures: list[tuple[int, DocumentedProcedure]],
    coder: str,
) -> list[CodedServiceLine]:
    """Given lines and planned lines, in documented order, each pointing at the final
    diagnoses it is for (positions in `final`, from 1)."""
    position_of_code = {f.code: n for n, f in enumerate(final, start=1)}
    position_of_sequence = {
        diagnosis.sequence: position_of_code[suggestion.best.code]
        for (_, diagnosis), suggestion in zip(diagnoses, suggestions, strict=True)
        if suggestion.best is not None and suggestion.best.code in position_of_code
    }
    documented_positions = [n for n, f in enumerate(final, start=1) if f.how != "service"]
    implied_positions = {
        "preventive": [n for n, f in enumerate(final, start=1) if f.code.startswith("Z00")],
        "vaccine": [n for n, f in enumerate(final, start=1) if f.code == "Z23"],
    }
    procedure_at = dict(procedures)

    def pointed(procedure: DocumentedProcedure) -> list[int]:
        found = (position_of_sequence.get(s) for s in procedure.diagnosis_sequences)
        return list(dict.fromkeys(p for p in found if p is not None))

    lines: list[_Line] = []
    for g in given:
        pointers = pointed(g.procedure)
        lines.append(
            _Line(
                g.index,
                g.procedure.code_system.value,
                g.procedure.code or "",
                tuple(g.procedure.modifiers),
                g.procedure.units,
                "given",
                # The primary diagnosis is the usual support; a coder can change it.
                tuple(pointers or [1]),
                not pointers,
            )
        )
    for line in planned:
        index = item_of[line.source if line.source is not None else 0]
        kind = _service_kind(line)
        implied = implied_positions.get(kind, [])
        # A claim item that names no diagnosis is for what its service implies (Z23 for a
        # vaccine), else for the conditions coded on the visit.
        pointers = pointed(procedure_at[index]) or (
            [] if kind == "vaccine" and implied else documented_positions
        )
        lines.append(
            _Line(
                index,
                line.code_system,
                line.code,
                line.modifiers,
                line.units,
                line.method,
                tuple(dict.fromkeys([*implied, *pointers])) or (1,),
                True,
            )
        )
    order = {index: n for n, (index, _) in enumerate(procedures)}
    lines.sort(key=lambda line: order[line.procedure_index])  # stable: planned order kept
    never_first = {n for n, f in enumerate(final, start=1) if never_first_listed(f.code)}
    lines = [_etiology_first(line, never_first) for line in lines]
    return [
        CodedServiceLine(
            line_number=number,
            code_system=ProcedureCodeSystem(line.code_system),
            code=procedure_code(ProcedureCodeSystem(line.code_system), line.code),
            modifiers=list(line.modifiers[:4]),
            units=line.units,
            service_date=procedure_at[line.procedure_index].service_date,
            diagnosis_pointers=list(line.pointers[:MAX_POINTERS]),
            decision=CodeDecision.GIVEN
            if line.method == "given" and not line.suggested_pointers
            else CodeDecision.SUGGESTED_ACCEPTED,
            decided_by=coder,
            method=line.method,
        )
        for number, line in enumerate(lines, start=1)
    ]


def _etiology_first(line: _Line, never_first: set[int]) -> _Line:
    """A line's first pointer is its main reason: never a manifestation (or another code
    that may not lead), when a code that may is among its pointers."""
    if not line.pointers or line.pointers[0] not in never_first:
        return line
    may_lead = [p for p in line.pointers if p not in never_first]
    if not may_lead:
        return line
    ordered = (*may_lead, *(p for p in line.pointers if p in never_first))
    return replace(line, pointers=ordered)


def _service_kind(line: ServiceLine) -> str:
    if line.method == "vaccine-administration" or _is_vaccine_product(line):
        return "vaccine"
    return line.method


def _is_vaccine_product(line: ServiceLine) -> bool:
    return line.code_system == "CPT" and "90476" <= line.code <= "90759"


def _query_reason(issue: Issue) -> QueryReason:
    return QueryReason(
        field=issue.field, code=issue.code, problem=issue.problem[:500], rule=issue.rule
    )
