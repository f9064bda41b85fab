"""Computer-assisted coding of diagnoses: statement text (or a SNOMED CT concept, or an ICD-10-CM
code to verify) to ranked ICD-10-CM candidates, with a decision to auto-code or query."""

from claimflow_coding.domain.cac.coder import (
    DEFAULT_THRESHOLD,
    Candidate,
    Decision,
    Evidence,
    Suggestion,
    statement_result,
    suggest_diagnoses,
)
from claimflow_coding.domain.cac.encounter import (
    DocumentedDiagnosisInput,
    EncounterDiagnoses,
    FinalDiagnosis,
    ImpliedDiagnosis,
    Issue,
    code_diagnoses,
)
from claimflow_coding.domain.cac.snomed import SnomedMapping, snomed_mapping, snomed_table
from claimflow_coding.domain.cac.terms import term_index

__all__ = [
    "DEFAULT_THRESHOLD",
    "Candidate",
    "Decision",
    "DocumentedDiagnosisInput",
    "EncounterDiagnoses",
    "Evidence",
    "FinalDiagnosis",
    "ImpliedDiagnosis",
    "Issue",
    "SnomedMapping",
    "Suggestion",
    "code_diagnoses",
    "snomed_mapping",
    "snomed_table",
    "statement_result",
    "suggest_diagnoses",
    "term_index",
]
