from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from claimflow_claims.domain import FeeSchedule, RuleTableError, UnpricedProcedure
from claimflow_claims.domain.fee_schedule import FeeScheduleBook, parse_fee_schedule_csv
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


# --- per tenant and payer, effective dates, CSV import --------------------------------------


HEADER = "code_system,code,modifier,unit_price,effective_date,end_date\n"


def schedule_from(text: str) -> FeeSchedule:
    parsed = parse_fee_schedule_csv(HEADER + text)
    assert parsed.ok, parsed.problems
    return FeeSchedule.from_rows(parsed.rows)


def test_price_follows_the_effective_dates():
    fees = schedule_from("CPT,99213,,90.00,2024-01-01,2024-12-31\nCPT,99213,,95.00,2025-01-01,\n")
    assert fees.unit_price(code_system=CPT, code="99213", on=date(2024, 6, 1)) == Decimal("90")
    assert fees.unit_price(code_system=CPT, code="99213", on=date(2025, 6, 1)) == Decimal("95")
    with pytest.raises(UnpricedProcedure):
        fees.unit_price(code_system=CPT, code="99213", on=date(2023, 6, 1))


def test_payer_schedule_falls_back_to_the_tenants_then_the_default(schedule):
    book = FeeScheduleBook(default=schedule)
    book = book.with_schedule(
        tenant_id="acme", payer_id=None, schedule=schedule_from("CPT,99214,,150.00,,\n")
    )
    book = book.with_schedule(
        tenant_id="acme", payer_id="60054", schedule=schedule_from("CPT,99213,,120.00,,\n")
    )

    def price(tenant, payer, code):
        return book.price(tenant_id=tenant, payer_id=payer, code_system=CPT, code=code)

    assert price("acme", "60054", "99213") == Decimal("120.00")
    assert price("acme", "60054", "99214") == Decimal("150.00")
    assert price("acme", "60054", "99215") == schedule.unit_price(code_system=CPT, code="99215")
    assert price("acme", "OTHER", "99213") == schedule.unit_price(code_system=CPT, code="99213")
    assert price("other-tenant", "60054", "99214") == schedule.unit_price(
        code_system=CPT, code="99214"
    )


def test_import_reports_every_bad_cell_with_its_line_and_column():
    parsed = parse_fee_schedule_csv(
        HEADER
        + "CPT,99213,,90.00,,\n"
        + "CPT,9921,,95.00,,\n"
        + "XYZ,99213,,1.00,,\n"
        + "HCPCS,J1100,ABC,-2,2025-13-01,\n"
        + "CPT,99214,,80.00,2025-02-01,2025-01-01\n"
        + "CPT,99215\n"
    )
    found = {(p.line, p.column) for p in parsed.problems}
    assert found == {
        (3, "code"),
        (4, "code_system"),
        (5, "modifier"),
        (5, "unit_price"),
        (5, "effective_date"),
        (6, "end_date"),
        (7, "*"),
    }
    assert [row.key for row in parsed.rows] == [("CPT", "99213", "")]


def test_import_refuses_overlapping_prices_for_one_code():
    parsed = parse_fee_schedule_csv(
        HEADER + "CPT,99213,,90.00,2024-01-01,\nCPT,99213,,95.00,2025-01-01,\n"
    )
    [problem] = parsed.problems
    assert (problem.line, problem.column) == (3, "effective_date")
    assert "overlap" in problem.message


def test_import_without_required_columns_names_them():
    parsed = parse_fee_schedule_csv("code,price\n99213,90\n")
    assert {p.column for p in parsed.problems} >= {"code_system", "modifier", "unit_price"}


def test_revenue_codes_are_priced_per_day_for_room_and_board(schedule):
    assert schedule.revenue_code_price("0120") == Decimal("1850.00")
