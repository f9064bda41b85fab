import pytest

from claimflow_coding.domain.procedures import (
    ProcedureTableError,
    check_procedure,
    find_procedure,
    parse_procedure_table,
    procedure_table,
)
from claimflow_shared.codes import ProcedureCodeSystem, procedure_code

CPT = ProcedureCodeSystem.CPT
HCPCS = ProcedureCodeSystem.HCPCS

REQUIRED = {
    CPT: [
        *map(str, range(99202, 99206)),
        *map(str, range(99211, 99216)),
        *map(str, range(99281, 99286)),
        "36415", "80053", "85025", "81002", "93000", "71046", "73630", "20610",
        "11102", "90471", "90686", "97110", "97140", "12001", "29125",
    ],
    HCPCS: ["G0439", "J1100", "J3301", "A4550", "Q3014"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("system", "code"), [(system, code) for system, codes in REQUIRED.items() for code in codes]
)
def test_required_codes_are_in_the_table(system, code):
    procedure = find_procedure(system, code)
    assert procedure is not None
    assert procedure.description


def test_every_row_passes_the_shared_format_check():
    for (system, code), procedure in procedure_table().items():
        assert procedure_code(system, code) == code == procedure.code


def test_descriptions_are_short_house_wording():
    for procedure in procedure_table().values():
        assert len(procedure.description) <= 70, procedure


def test_known_code_is_accepted():
    check = check_procedure(CPT, "99213")
    assert check.ok and check.known
    assert check.description


def test_well_formed_but_unknown_code_is_reported():
    check = check_procedure(CPT, "99499")
    assert not check.known
    assert check.problem == "unknown CPT code: not in the product's procedure table"


def test_malformed_code_fails_the_format_check():
    check = check_procedure(CPT, "9921")
    assert not check.known
    assert "not a CPT code" in (check.problem or "")


def test_hcpcs_code_documented_as_cpt_is_a_problem():
    assert not check_procedure(CPT, "J1100").ok
    assert check_procedure(HCPCS, "J1100").ok


def test_table_with_a_malformed_row_is_refused():
    with pytest.raises(ProcedureTableError, match="line 3"):
        parse_procedure_table("code_system,code,description\nCPT,99213,Visit\nCPT,9921X,Bad\n")


def test_table_with_a_duplicate_row_is_refused():
    with pytest.raises(ProcedureTableError, match="twice"):
        parse_procedure_table("code_system,code,description\nCPT,99213,A\nCPT,99213,B\n")
