"""Turn a documented encounter into final codes, or into the queries a coder must answer first.

Field paths in query reasons index the documented lists from 0, as in `diagnoses[2].code`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from claimflow_coding.domain.icd10 import (
    ICD10CM_VERSION,
    DiagnosisCheck,
    check_diagnosis,
    excludes1_conflicts,
)
from claimflow_coding.domain.procedures import CPT_VERSION, HCPCS_VERSION, check_procedure
from claimflow_shared.codes import procedure_code
from claimflow_shared.events.models import (
    CodedDiagnosis,
    CodeDecision,
    CodedServiceLine,
    CodeSetVersions,
    CodingQueryRaised,
    DocumentedDiagnosis,
    DocumentedProcedure,
    EncounterCoded,
    EncounterDocumented,
    QueryReason,
)

CODE_SETS = CodeSetVersions(icd10cm=ICD10CM_VERSION, cpt=CPT_VERSION, hcpcs=HCPCS_VERSION)


@dataclass(frozen=True)
class Coded:
    final_diagnoses: tuple[CodedDiagnosis, ...]
    service_lines: tuple[CodedServiceLine, ...]
    code_sets: CodeSetVersions
    coded_by: str

    def to_event(self, documented: EncounterDocumented) -> EncounterCoded:
        """The `encounter.coded` payload: the documented encounter plus its final codes."""
        return EncounterCoded(
            **dict(documented),
            final_diagnoses=list(self.final_diagnoses),
            service_lines=list(self.service_lines),
            code_sets=self.code_sets,
            coded_by=self.coded_by,
        )


@dataclass(frozen=True)
class NeedsQuery:
    reasons: tuple[QueryReason, ...]

    def to_event(self, documented: EncounterDocumented) -> CodingQueryRaised:
        """The `coding.query-raised` payload for the coder worklist."""
        return CodingQueryRaised(source=documented.source, reasons=list(self.reasons))


@dataclass(frozen=True)
class _Diagnosis:
    index: int
    documented: DocumentedDiagnosis
    check: DiagnosisCheck


def code_encounter(documented: EncounterDocumented, *, coder: str) -> Coded | NeedsQuery:
    """Accept the documented codes when they are complete and compliant, else raise queries."""
    diagnoses, reasons = _checked_diagnoses(documented.diagnoses)
    final, position_of_sequence = _final_diagnoses(diagnoses, coder=coder)
    reasons += _excludes1_reasons(final, diagnoses)
    procedures = _in_sequence(documented.procedures)
    documented_sequences = {d.sequence for d in documented.diagnoses}
    for index, procedure in procedures:
        reasons += _procedure_reasons(index, procedure, documented_sequences)
    if reasons:
        return NeedsQuery(tuple(reasons))
    lines = [
        _service_line(number, procedure, position_of_sequence, coder=coder)
        for number, (_, procedure) in enumerate(procedures, start=1)
    ]
    return Coded(
        final_diagnoses=tuple(final),
        service_lines=tuple(lines),
        code_sets=CODE_SETS,
        coded_by=coder,
    )


_Documented = TypeVar("_Documented", DocumentedDiagnosis, DocumentedProcedure)


def _in_sequence(items: Iterable[_Documented]) -> list[tuple[int, _Documented]]:
    """Items in documented sequence, each with its index in the documented list."""
    return sorted(enumerate(items), key=lambda pair: pair[1].sequence)


def _checked_diagnoses(
    documented: list[DocumentedDiagnosis],
) -> tuple[list[_Diagnosis], list[QueryReason]]:
    """The documented diagnoses whose codes pass, in sequence order; and queries for the rest."""
    checked: list[_Diagnosis] = []
    reasons: list[QueryReason] = []
    first_at: dict[int, int] = {}
    for index, diagnosis in _in_sequence(documented):
        if diagnosis.sequence in first_at:
            reasons.append(
                QueryReason(
                    field=f"diagnoses[{index}].sequence",
                    code=diagnosis.code,
                    problem=f"sequence {diagnosis.sequence} is also used by "
                    f"diagnoses[{first_at[diagnosis.sequence]}]; pointers would be ambiguous",
                )
            )
            continue
        first_at[diagnosis.sequence] = index
        if not (diagnosis.code or "").strip():
            reasons.append(
                QueryReason(
                    field=f"diagnoses[{index}].code",
                    code=None,
                    problem="no ICD-10-CM code documented",
                )
            )
            continue
        check = check_diagnosis(diagnosis.code)
        if not check.ok:
            reasons.append(
                QueryReason(
                    field=f"diagnoses[{index}].code", code=diagnosis.code, problem=check.problem
                )
            )
            continue
        checked.append(_Diagnosis(index, diagnosis, check))
    return checked, reasons


def _final_diagnoses(
    diagnoses: list[_Diagnosis], *, coder: str
) -> tuple[list[CodedDiagnosis], dict[int, int]]:
    """Final codes in documented order, each code once; and where each documented sequence
    landed in that list (the positions diagnosis pointers refer to)."""
    final: list[CodedDiagnosis] = []
    position_of_code: dict[str, int] = {}
    position_of_sequence: dict[int, int] = {}
    for diagnosis in diagnoses:
        code = diagnosis.check.code
        if code not in position_of_code:
            final.append(
                CodedDiagnosis(
                    sequence=len(final) + 1,
                    code=code,
                    description=diagnosis.check.description,
                    decision=CodeDecision.GIVEN,
                    decided_by=coder,
                )
            )
            position_of_code[code] = len(final)
        position_of_sequence[diagnosis.documented.sequence] = position_of_code[code]
    return final, position_of_sequence


def _excludes1_reasons(
    final: list[CodedDiagnosis], diagnoses: list[_Diagnosis]
) -> list[QueryReason]:
    first_documented: dict[str, _Diagnosis] = {}
    for diagnosis in diagnoses:
        first_documented.setdefault(diagnosis.check.code, diagnosis)
    reasons = []
    for _, later, conflict in excludes1_conflicts([d.code for d in final]):
        diagnosis = first_documented[final[later].code]
        reasons.append(
            QueryReason(
                field=f"diagnoses[{diagnosis.index}].code",
                code=diagnosis.documented.code,
                problem=conflict.problem,
            )
        )
    return reasons


def _procedure_reasons(
    index: int, procedure: DocumentedProcedure, documented_sequences: set[int]
) -> Iterator[QueryReason]:
    if not (procedure.code or "").strip():
        yield QueryReason(
            field=f"procedures[{index}].code",
            code=None,
            problem=f"no {procedure.code_system.value} code documented",
        )
    else:
        check = check_procedure(procedure.code_system, procedure.code)
        if not check.ok:
            yield QueryReason(
                field=f"procedures[{index}].code", code=procedure.code, problem=check.problem
            )
    for pointer, sequence in enumerate(procedure.diagnosis_sequences):
        if sequence not in documented_sequences:
            yield QueryReason(
                field=f"procedures[{index}].diagnosis_sequences[{pointer}]",
                code=procedure.code,
                problem=f"points to diagnosis sequence {sequence}, which is not documented",
            )


def _service_line(
    number: int,
    procedure: DocumentedProcedure,
    position_of_sequence: dict[int, int],
    *,
    coder: str,
) -> CodedServiceLine:
    if procedure.diagnosis_sequences:
        positions = (position_of_sequence[s] for s in procedure.diagnosis_sequences)
        pointers = list(dict.fromkeys(positions))
        decision = CodeDecision.GIVEN
    else:
        # The primary diagnosis is the usual support; a coder can change the suggestion.
        pointers = [1]
        decision = CodeDecision.SUGGESTED_ACCEPTED
    return CodedServiceLine(
        line_number=number,
        code_system=procedure.code_system,
        code=procedure_code(procedure.code_system, procedure.code or ""),
        modifiers=procedure.modifiers,
        units=procedure.units,
        service_date=procedure.service_date,
        diagnosis_pointers=pointers,
        decision=decision,
        decided_by=coder,
    )
