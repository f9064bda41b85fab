from datetime import date

import pytest

from claimflow_cli.synthetic import encounter as synthetic_encounter
from claimflow_coding.domain.coding import Coded, NeedsQuery, code_encounter
from claimflow_coding.domain.icd10 import ICD10CM_VERSION
from claimflow_coding.domain.procedures import CPT_VERSION, HCPCS_VERSION
from claimflow_shared.codes import ProcedureCodeSystem, npi_check_digit
from claimflow_shared.events.models import (
    CodeDecision,
    CodingQueryRaised,
    DocumentedDiagnosis,
    DocumentedProcedure,
    EncounterCoded,
    EncounterDocumented,
    Sex,
)
from services.coding.tests.unit.builders import well_visit

CODER = "auto-coder"
DOS = date(2026, 5, 4)
RENDERING_NPI = "1234567893"
BILLING_NPI = f"198765432{npi_check_digit('198765432')}"
ADDRESS = {"line1": "1 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701"}


def dx(sequence: int, code: str | None, text: str | None = None) -> DocumentedDiagnosis:
    return DocumentedDiagnosis(sequence=sequence, code=code, text=text)


def px(
    sequence: int,
    code: str | None,
    *pointers: int,
    system: ProcedureCodeSystem = ProcedureCodeSystem.CPT,
    modifiers: tuple[str, ...] = (),
    units: int = 1,
) -> DocumentedProcedure:
    return DocumentedProcedure(
        sequence=sequence,
        code_system=system,
        code=code,
        modifiers=list(modifiers),
        units=units,
        service_date=DOS,
        diagnosis_sequences=list(pointers),
    )


def encounter(
    diagnoses: list[DocumentedDiagnosis] | None = None,
    procedures: list[DocumentedProcedure] | None = None,
) -> EncounterDocumented:
    return EncounterDocumented.model_validate(
        {
            "source": {"system": "ehr-test", "document_id": "doc-1"},
            "patient": {
                "mrn": "MRN001",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "birth_date": "1970-01-01",
                "sex": "F",
                "address": ADDRESS,
            },
            "coverages": [{"payer": {"payer_id": "PAYER1", "name": "A Payer"}, "member_id": "M1"}],
            "providers": {
                "billing": {
                    "npi": BILLING_NPI,
                    "name": "Springfield Clinic",
                    "tax_id": "123456789",
                    "address": ADDRESS,
                },
                "rendering": {"npi": RENDERING_NPI, "first_name": "Grace", "last_name": "Hopper"},
            },
            "period_start": DOS,
            "period_end": DOS,
            "diagnoses": diagnoses if diagnoses is not None else [dx(1, "E11.9"), dx(2, "I10")],
            "procedures": procedures if procedures is not None else [px(1, "99213", 1)],
        }
    )


def coded(documented: EncounterDocumented) -> Coded:
    outcome = code_encounter(documented, coder=CODER)
    assert isinstance(outcome, Coded), outcome
    return outcome


def query(documented: EncounterDocumented) -> NeedsQuery:
    outcome = code_encounter(documented, coder=CODER)
    assert isinstance(outcome, NeedsQuery), outcome
    return outcome


def reasons_by_field(outcome: NeedsQuery) -> dict[str, str]:
    return {reason.field: reason.problem for reason in outcome.reasons}


def test_factory_builds_providers_with_valid_npis():
    documented = encounter()
    assert documented.providers.billing.npi == BILLING_NPI != RENDERING_NPI


def test_documented_codes_become_final_codes_in_sequence_order():
    result = coded(encounter([dx(3, "J06.9"), dx(1, "E11.9"), dx(2, "I10")]))
    assert [d.code for d in result.final_diagnoses] == ["E119", "I10", "J069"]
    assert [d.sequence for d in result.final_diagnoses] == [1, 2, 3]
    assert result.final_diagnoses[0].description == "Type 2 diabetes mellitus without complications"


def test_documented_codes_are_marked_given_by_the_coder():
    result = coded(encounter())
    assert {d.decision for d in result.final_diagnoses} == {CodeDecision.GIVEN}
    assert {d.decided_by for d in result.final_diagnoses} == {CODER}
    assert {(d.method, d.confidence) for d in result.final_diagnoses} == {("given", 1.0)}
    assert result.coded_by == CODER


def test_service_lines_are_numbered_from_one_in_documented_order():
    result = coded(encounter(procedures=[px(5, "36415", 1), px(2, "99213", 1), px(9, "80053", 1)]))
    assert [(line.line_number, line.code) for line in result.service_lines] == [
        (1, "99213"),
        (2, "36415"),
        (3, "80053"),
    ]


def test_diagnosis_pointers_are_positions_in_the_final_list():
    documented = encounter(
        [dx(2, "E11.9"), dx(5, "I10"), dx(9, "J06.9")],
        [px(1, "99214", 9, 2), px(2, "93000", 5)],
    )
    result = coded(documented)
    assert [line.diagnosis_pointers for line in result.service_lines] == [[3, 1], [2]]
    assert {line.decision for line in result.service_lines} == {CodeDecision.GIVEN}


def test_procedure_without_pointers_points_to_the_first_diagnosis_as_a_suggestion():
    result = coded(encounter([dx(4, "J06.9"), dx(7, "I10")], [px(1, "99213")]))
    (line,) = result.service_lines
    assert line.diagnosis_pointers == [1]
    assert line.decision is CodeDecision.SUGGESTED_ACCEPTED
    assert line.decided_by == CODER


def test_line_keeps_modifiers_units_date_and_code_system():
    result = coded(
        encounter(
            procedures=[
                px(1, "99213", 1, modifiers=("25",)),
                px(2, "j1100", 1, system=ProcedureCodeSystem.HCPCS, units=4),
            ]
        )
    )
    office, drug = result.service_lines
    assert (office.modifiers, office.units) == (["25"], 1)
    assert (drug.code_system, drug.code, drug.units) == (ProcedureCodeSystem.HCPCS, "J1100", 4)
    assert drug.service_date == DOS


def test_line_may_point_to_four_diagnoses():
    documented = encounter(
        [dx(1, "E11.9"), dx(2, "I10"), dx(3, "J06.9"), dx(4, "M54.50"), dx(5, "R05.1")],
        [px(1, "99215", 5, 4, 3, 2)],
    )
    assert coded(documented).service_lines[0].diagnosis_pointers == [5, 4, 3, 2]


def test_repeated_diagnosis_code_is_listed_once_and_pointers_follow_it():
    documented = encounter(
        [dx(1, "E11.9"), dx(2, "I10"), dx(3, "E119")],
        [px(1, "99213", 3, 2, 1)],
    )
    result = coded(documented)
    assert [d.code for d in result.final_diagnoses] == ["E119", "I10"]
    assert result.service_lines[0].diagnosis_pointers == [1, 2]


def test_code_sets_name_the_versions_used():
    code_sets = coded(encounter()).code_sets
    assert (code_sets.icd10cm, code_sets.cpt, code_sets.hcpcs) == (
        ICD10CM_VERSION,
        CPT_VERSION,
        HCPCS_VERSION,
    )


def test_coded_result_builds_a_valid_encounter_coded_event():
    documented = encounter()
    event = coded(documented).to_event(documented)
    assert isinstance(event, EncounterCoded)
    assert event.patient == documented.patient
    assert event.diagnoses == documented.diagnoses
    assert [d.code for d in event.final_diagnoses] == ["E119", "I10"]
    assert event.coded_by == CODER
    EncounterCoded.model_validate_json(event.model_dump_json())


def test_diagnosis_with_neither_code_nor_text_raises_a_query():
    outcome = query(encounter([dx(1, "E11.9"), dx(2, None)]))
    (reason,) = outcome.reasons
    assert (reason.field, reason.code, reason.rule) == ("diagnoses[1].text", None, "DX-MISSING")


def test_unknown_diagnosis_code_raises_a_query():
    outcome = query(encounter([dx(1, "Z99.99")]))
    (reason,) = outcome.reasons
    assert (reason.field, reason.code, reason.rule) == (
        "diagnoses[0].code",
        "Z99.99",
        "ICD-INVALID",
    )
    assert "not an ICD-10-CM code" in reason.problem


def test_non_billable_category_raises_a_query_and_suggests_a_code_under_it():
    outcome = query(encounter([dx(1, "I10"), dx(2, "E11")]))
    (reason,) = outcome.reasons
    assert (reason.field, reason.code, reason.rule) == (
        "diagnoses[1].code",
        "E11",
        "ICD-NOT-BILLABLE",
    )
    assert "not billable: code to the highest specificity" in reason.problem
    candidates = outcome.candidates[1].candidates
    assert candidates and all(c.code.startswith("E11") for c in candidates[:3])


def test_injury_without_its_seventh_character_raises_a_query_that_says_so():
    outcome = query(encounter([dx(1, "S52.521")]))
    assert "7th character" in outcome.reasons[0].problem
    assert outcome.reasons[0].rule == "ICD-7TH-CHARACTER"


def test_excludes1_conflict_raises_a_query_on_the_later_diagnosis():
    outcome = query(encounter([dx(1, "E10.9"), dx(2, "I10"), dx(3, "E11.9")]))
    (reason,) = outcome.reasons
    assert (reason.field, reason.code, reason.rule) == (
        "diagnoses[2].code",
        "E11.9",
        "ICD-EXCLUDES1",
    )
    assert reason.problem.startswith("Excludes1")


def test_procedure_without_a_code_raises_a_query():
    outcome = query(encounter(procedures=[px(1, "99213", 1), px(2, None, 1)]))
    (reason,) = outcome.reasons
    assert (reason.field, reason.code) == ("procedures[1].code", None)
    assert reason.problem == "no CPT code documented"


def test_unknown_procedure_code_raises_a_query():
    outcome = query(encounter(procedures=[px(1, "99499", 1)]))
    (reason,) = outcome.reasons
    assert (reason.field, reason.code, reason.rule) == (
        "procedures[0].code",
        "99499",
        "PROC-UNKNOWN",
    )
    assert "unknown CPT code" in reason.problem


def test_procedure_code_in_the_wrong_code_system_raises_a_query():
    outcome = query(encounter(procedures=[px(1, "J1100", 1)]))
    assert "not a CPT code" in outcome.reasons[0].problem


def test_pointer_to_a_diagnosis_that_does_not_exist_raises_a_query():
    outcome = query(encounter([dx(1, "E11.9"), dx(2, "I10")], [px(1, "99213", 1, 3)]))
    (reason,) = outcome.reasons
    assert reason.field == "procedures[0].diagnosis_sequences[1]"
    assert reason.code == "99213"
    assert "sequence 3" in reason.problem


def test_two_diagnoses_with_the_same_sequence_raise_a_query():
    outcome = query(encounter([dx(1, "E11.9"), dx(1, "I10")]))
    assert [reason.field for reason in outcome.reasons] == ["diagnoses[1].sequence"]


def test_every_problem_is_reported_in_one_query():
    documented = encounter(
        [dx(1, None), dx(2, "E11"), dx(3, "BOGUS")],
        [px(1, None, 1), px(2, "99499", 7)],
    )
    assert set(reasons_by_field(query(documented))) == {
        "diagnoses[0].text",
        "diagnoses[1].code",
        "diagnoses[2].code",
        "procedures[0].code",
        "procedures[1].code",
        "procedures[1].diagnosis_sequences[0]",
    }


def test_query_builds_a_coding_query_raised_event():
    documented = encounter([dx(1, "E11")])
    event = query(documented).to_event(documented)
    assert isinstance(event, CodingQueryRaised)
    assert event.source == documented.source
    assert [reason.field for reason in event.reasons] == ["diagnoses[0].code"]
    assert event.revision == 1 and event.auto_code_threshold == 0.8
    assert [d.code for d in event.suggested_diagnoses] == [
        c.code for c in event.candidates[0].candidates[:1]
    ]


@pytest.mark.parametrize("code", ["E11.9", "E119", "e11.9"])
def test_diagnosis_code_is_normalised_however_it_is_written(code):
    assert coded(encounter([dx(1, code)])).final_diagnoses[0].code == "E119"


def test_every_visit_of_the_demo_mix_is_coded_without_a_human():
    """The demo and every cross-service test send these: they must flow on untouched."""
    outcomes = [
        code_encounter(
            EncounterDocumented.model_validate(synthetic_encounter(tenant, n)), coder=CODER
        )
        for tenant in ("t", "bench-01", "demo7-t02")
        for n in range(700)
    ]
    held = [o.reasons for o in outcomes if not isinstance(o, Coded)]
    assert held == []


def test_a_manifestation_moves_after_its_etiology_and_lines_point_at_the_etiology_first():
    result = coded(encounter([dx(1, "F02.80"), dx(2, "G30.9")], [px(1, "99214", 1, 2)]))
    assert [d.code for d in result.final_diagnoses] == ["G309", "F0280"]
    assert result.service_lines[0].diagnosis_pointers == [1, 2]
    assert [n.rule for n in result.notes] == ["ICD-CODE-FIRST-ORDER"]


def test_a_manifestation_without_its_etiology_is_never_first_listed():
    outcome = query(encounter([dx(1, "F02.80")]))
    assert [r.rule for r in outcome.reasons] == ["ICD-MANIFESTATION-FIRST"]


@pytest.mark.parametrize(
    ("codes", "sex", "born", "rule"),
    [
        (["N95.1"], "M", "1960-01-01", "ICD-SEX"),
        (["Z00.129"], "F", "1980-06-01", "ICD-AGE-PEDIATRIC"),
        (["C61"], "F", "1960-01-01", "ICD-SEX"),
    ],
)
def test_a_code_for_another_age_or_sex_holds_the_encounter(codes, sex, born, rule):
    documented = encounter([dx(i, c) for i, c in enumerate(codes, start=1)])
    patient = documented.patient.model_copy(
        update={"sex": Sex(sex), "birth_date": date.fromisoformat(born)}
    )
    outcome = query(documented.model_copy(update={"patient": patient}))
    assert rule in [r.rule for r in outcome.reasons]


def test_medicare_pays_the_flu_shot_administration_under_g0008():
    documented = EncounterDocumented.model_validate(
        well_visit(payer=("SIMPAYER2", "SIMULATED MEDICARE ADV"), birth="1950-01-01")
    )
    result = coded(documented)
    assert [x.code for x in result.service_lines] == ["99397", "90656", "G0008"]
