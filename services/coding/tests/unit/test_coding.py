from datetime import date

import pytest

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
)

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
    result = coded(encounter([dx(3, "Z00.00"), dx(1, "E11.9"), dx(2, "I10")]))
    assert [d.code for d in result.final_diagnoses] == ["E119", "I10", "Z0000"]
    assert [d.sequence for d in result.final_diagnoses] == [1, 2, 3]
    assert result.final_diagnoses[0].description == "Type 2 diabetes mellitus without complications"


def test_documented_codes_are_marked_given_by_the_coder():
    result = coded(encounter())
    assert {d.decision for d in result.final_diagnoses} == {CodeDecision.GIVEN}
    assert {d.decided_by for d in result.final_diagnoses} == {CODER}
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
        [dx(1, "E11.9"), dx(2, "I10"), dx(3, "J06.9"), dx(4, "Z00.00"), dx(5, "R05.1")],
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


def test_diagnosis_without_a_code_raises_a_query():
    outcome = query(encounter([dx(1, "E11.9"), dx(2, None, "chest pain")]))
    (reason,) = outcome.reasons
    assert (reason.field, reason.code) == ("diagnoses[1].code", None)
    assert reason.problem == "no ICD-10-CM code documented"


def test_unknown_diagnosis_code_raises_a_query():
    outcome = query(encounter([dx(1, "Z99.99")]))
    (reason,) = outcome.reasons
    assert (reason.field, reason.code) == ("diagnoses[0].code", "Z99.99")
    assert reason.problem == "not an ICD-10-CM code"


def test_non_billable_category_raises_a_query():
    outcome = query(encounter([dx(1, "I10"), dx(2, "E11")]))
    (reason,) = outcome.reasons
    assert (reason.field, reason.code) == ("diagnoses[1].code", "E11")
    assert reason.problem.startswith("not billable: code to the highest specificity")


def test_injury_without_its_seventh_character_raises_a_query_that_says_so():
    outcome = query(encounter([dx(1, "S52.521")]))
    assert "7th character" in outcome.reasons[0].problem


def test_excludes1_conflict_raises_a_query_on_the_later_diagnosis():
    outcome = query(encounter([dx(1, "E10.9"), dx(2, "I10"), dx(3, "E11.9")]))
    (reason,) = outcome.reasons
    assert (reason.field, reason.code) == ("diagnoses[2].code", "E11.9")
    assert reason.problem.startswith("Excludes1")


def test_procedure_without_a_code_raises_a_query():
    outcome = query(encounter(procedures=[px(1, "99213", 1), px(2, None, 1)]))
    (reason,) = outcome.reasons
    assert (reason.field, reason.code) == ("procedures[1].code", None)
    assert reason.problem == "no CPT code documented"


def test_unknown_procedure_code_raises_a_query():
    outcome = query(encounter(procedures=[px(1, "99499", 1)]))
    (reason,) = outcome.reasons
    assert (reason.field, reason.code) == ("procedures[0].code", "99499")
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
        "diagnoses[0].code",
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


@pytest.mark.parametrize("code", ["E11.9", "E119", "e11.9"])
def test_diagnosis_code_is_normalised_however_it_is_written(code):
    assert coded(encounter([dx(1, code)])).final_diagnoses[0].code == "E119"
