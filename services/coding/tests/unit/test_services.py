import pytest

from claimflow_coding.domain.procedures import check_procedure
from claimflow_coding.domain.services import (
    DocumentedService,
    ServiceLine,
    apply_modifiers,
    em_level,
    plan_services,
    preventive_visit,
    service_rules,
)
from claimflow_shared.codes import ProcedureCodeSystem


def codes(plan) -> list[tuple[str, int, tuple[str, ...]]]:
    return [(line.code, line.units, line.modifiers) for line in plan.lines]


@pytest.mark.parametrize(
    ("minutes", "new", "code"),
    [
        (10, False, "99212"),
        (25, False, "99213"),
        (39, False, "99214"),
        (40, False, "99215"),
        (15, True, "99202"),
        (44, True, "99203"),
        (60, True, "99205"),
    ],
)
def test_office_level_from_total_time(minutes, new, code):
    assert em_level(total_minutes=minutes, new_patient=new).code == code


def test_office_level_takes_the_higher_of_time_and_mdm():
    assert em_level(total_minutes=15, mdm="moderate").code == "99214"
    assert em_level(total_minutes=41, mdm="low").code == "99215"


def test_prolonged_time_adds_99417_units_past_the_top_level():
    level = em_level(total_minutes=70, new_patient=False)
    assert (level.code, level.prolonged_units) == ("99215", 2)
    assert em_level(total_minutes=74, new_patient=True).prolonged_units == 0


def test_emergency_level_ignores_time():
    assert em_level(family="emergency", total_minutes=120, mdm="low").code == "99283"
    assert em_level(family="emergency", total_minutes=120) is None


@pytest.mark.parametrize(
    ("age", "new", "code"),
    [
        (0, True, "99381"),
        (3, False, "99392"),
        (16, False, "99394"),
        (30, True, "99385"),
        (50, False, "99396"),
        (70, False, "99397"),
    ],
)
def test_preventive_visit_by_age_band(age, new, code):
    assert preventive_visit(age=age, new_patient=new) == code


def test_vaccines_get_product_codes_and_sequenced_administration():
    plan = plan_services(
        items=[
            DocumentedService("cvx", "140"),
            DocumentedService("http://hl7.org/fhir/sid/cvx", "115"),
            DocumentedService("cvx", "08"),
            DocumentedService("cvx", "119"),
        ]
    )
    assert codes(plan) == [
        ("90656", 1, ()),
        ("90471", 1, ()),
        ("90715", 1, ()),
        ("90472", 2, ()),
        ("90744", 1, ()),
        ("90681", 1, ()),
        ("90474", 1, ()),
    ]


def test_medicare_flu_and_pneumococcal_administration_use_g_codes():
    plan = plan_services(
        items=[DocumentedService("cvx", "140"), DocumentedService("cvx", "33")], medicare=True
    )
    assert [c for c, _, _ in codes(plan)] == ["90656", "G0008", "90732", "G0009"]


def test_check_up_becomes_a_preventive_visit_by_age():
    plan = plan_services(items=[DocumentedService("snomed", "185349003")], patient_age=45)
    assert codes(plan) == [("99396", 1, ())]


def test_problem_visit_without_time_or_mdm_raises_a_query():
    plan = plan_services(items=[DocumentedService("snomed", "185345009")])
    assert not plan.lines and "time or medical decision making" in plan.query_reasons[0]


def test_unknown_concept_raises_a_query_naming_the_item():
    plan = plan_services(items=[DocumentedService("snomed", "1")])
    assert plan.query_reasons[0].startswith("services[0].code")


def test_em_with_a_procedure_gets_modifier_25():
    plan = plan_services(
        items=[DocumentedService("snomed", "185345009"), DocumentedService("snomed", "76601001")],
        mdm="low",
        separately_identifiable=True,
    )
    assert codes(plan) == [("99213", 1, ("25",)), ("96372", 1, ())]
    assert not plan.query_reasons


def test_em_not_separately_identifiable_is_dropped():
    lines, reasons = apply_modifiers(
        [ServiceLine("CPT", "99213"), ServiceLine("CPT", "20610", side="left")],
        separately_identifiable=False,
    )
    assert [(x.code, x.modifiers) for x in lines] == [("20610", ("LT",))]
    assert reasons


def test_bilateral_indicator_1_is_one_line_with_modifier_50():
    lines, _ = apply_modifiers([ServiceLine("CPT", "69210", side="bilateral")])
    assert [(x.code, x.units, x.modifiers) for x in lines] == [("69210", 1, ("50",))]


def test_bilateral_indicator_3_is_two_lines_right_and_left():
    lines, _ = apply_modifiers([ServiceLine("CPT", "73630", side="bilateral")])
    assert [x.modifiers for x in lines] == [("RT",), ("LT",)]


def test_paired_procedure_without_a_side_raises_a_query():
    _, reasons = apply_modifiers([ServiceLine("CPT", "20610")])
    assert "side" in reasons[0]


def test_ncci_pair_takes_the_x_modifier_that_names_the_distinction():
    lines, reasons = apply_modifiers(
        [ServiceLine("CPT", "97530"), ServiceLine("CPT", "97140", distinct="unusual")]
    )
    assert lines[1].modifiers == ("XU",) and not reasons
    lines, reasons = apply_modifiers([ServiceLine("CPT", "97530"), ServiceLine("CPT", "97140")])
    assert lines[1].modifiers == () and "XE/XS/XP/XU" in reasons[0]


def test_every_code_the_service_map_emits_is_known():
    for rule in service_rules().values():
        for system, code in rule.codes:
            check = check_procedure(ProcedureCodeSystem(system), code)
            assert check.ok, (rule.code, code, check.problem)
