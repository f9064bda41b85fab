from decimal import Decimal
from pathlib import Path

import pytest

from claimflow_claims.domain import FeeSchedule, RuleTableError, UnpricedProcedure
from claimflow_shared.codes import ProcedureCodeSystem

CPT, HCPCS = ProcedureCodeSystem.CPT, ProcedureCodeSystem.HCPCS

REQUIRED_CPT = [
    *(str(code) for code in range(99202, 99206)),
    *(str(code) for code in range(99211, 99216)),
    *(str(code) for code in range(99281, 99286)),
    "36415", "80053", "85025", "81002", "93000", "71046", "73630", "20610", "11102",
    "90471", "90686", "97110", "97140", "12001", "29125",
]  # fmt: skip
REQUIRED_HCPCS = ["G0439", "J1100", "J3301", "A4550", "Q3014"]


@pytest.fixture(scope="module")
def schedule() -> FeeSchedule:
    return FeeSchedule.load()


def write_schedule(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "fees.csv"
    path.write_text("code_system,code,modifier,unit_price\n" + rows)
    return path


@pytest.mark.parametrize(
    ("system", "code"),
    [(CPT, code) for code in REQUIRED_CPT] + [(HCPCS, code) for code in REQUIRED_HCPCS],
)
def test_default_schedule_prices_every_listed_code(schedule, system, code):
    assert schedule.unit_price(code_system=system, code=code) > 0


def test_line_charge_is_unit_price_times_units(schedule):
    assert schedule.price_line(code_system=CPT, code="99213", units=1) == Decimal("98.00")
    assert schedule.price_line(code_system=HCPCS, code="J1100", units=8) == Decimal("2.80")


def test_line_charge_is_rounded_half_up_to_cents(tmp_path):
    schedule = FeeSchedule.load(write_schedule(tmp_path, "HCPCS,J3301,,0.125\n"))
    charge = schedule.price_line(code_system=HCPCS, code="J3301", units=1)
    assert charge == Decimal("0.13")
    assert charge.as_tuple().exponent == -2


def test_professional_component_modifier_has_its_own_price(schedule):
    plain = schedule.price_line(code_system=CPT, code="71046", units=1)
    professional = schedule.price_line(code_system=CPT, code="71046", modifiers=["26"], units=1)
    assert (plain, professional) == (Decimal("62.00"), Decimal("24.00"))


def test_modifier_without_a_price_row_falls_back_to_the_plain_price(schedule):
    charge = schedule.price_line(code_system=CPT, code="99213", modifiers=["25"], units=1)
    assert charge == Decimal("98.00")


def test_unknown_code_raises_unpriced_procedure_naming_the_code(schedule):
    with pytest.raises(UnpricedProcedure, match=r"CPT 99499") as raised:
        schedule.price_line(code_system=CPT, code="99499", units=1)
    assert raised.value.code == "99499"


def test_code_is_priced_only_within_its_own_code_system(schedule):
    with pytest.raises(UnpricedProcedure, match="HCPCS"):
        schedule.unit_price(code_system=HCPCS, code="99213")


def test_zero_units_cannot_be_priced(schedule):
    with pytest.raises(ValueError, match="units"):
        schedule.price_line(code_system=CPT, code="99213", units=0)


def test_duplicate_rows_are_refused(tmp_path):
    path = write_schedule(tmp_path, "CPT,99213,,90.00\nCPT,99213,,95.00\n")
    with pytest.raises(RuleTableError, match="duplicate"):
        FeeSchedule.load(path)


def test_malformed_code_is_refused_with_its_row(tmp_path):
    path = write_schedule(tmp_path, "CPT,99213,,90.00\nCPT,9921,,95.00\n")
    with pytest.raises(RuleTableError, match="line 3, column code"):
        FeeSchedule.load(path)


def test_comment_lines_are_ignored(tmp_path):
    path = write_schedule(tmp_path, "# sample\nCPT,99213,,90.00\n")
    assert FeeSchedule.load(path).unit_price(code_system=CPT, code="99213") == Decimal("90.00")
