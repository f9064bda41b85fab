"""The coding rules: ICD-10-CM and CPT/HCPCS checks and the encounter coder. Pure, no I/O
beyond loading the packaged code tables once."""

from claimflow_coding.domain.coding import CODE_SETS, Coded, NeedsQuery, code_encounter
from claimflow_coding.domain.icd10 import (
    ICD10CM_VERSION,
    DiagnosisCheck,
    Excludes1Conflict,
    check_diagnosis,
    excludes1_conflict,
    excludes1_conflicts,
)
from claimflow_coding.domain.procedures import (
    CPT_VERSION,
    HCPCS_VERSION,
    Procedure,
    ProcedureCheck,
    check_procedure,
    find_procedure,
    procedure_table,
)

__all__ = [
    "CODE_SETS",
    "CPT_VERSION",
    "HCPCS_VERSION",
    "ICD10CM_VERSION",
    "Coded",
    "DiagnosisCheck",
    "Excludes1Conflict",
    "NeedsQuery",
    "Procedure",
    "ProcedureCheck",
    "check_diagnosis",
    "check_procedure",
    "code_encounter",
    "excludes1_conflict",
    "excludes1_conflicts",
    "find_procedure",
    "procedure_table",
]
