import pytest

from claimflow_coding.domain.cac import Decision, statement_result, suggest_diagnoses


def best(text: str, **kwargs) -> str:
    suggestion = suggest_diagnoses(text=text, **kwargs)
    assert suggestion.candidates, suggestion.reasons
    return suggestion.candidates[0].code


def test_abbreviated_combination_is_coded_to_the_combination_code():
    suggestion = suggest_diagnoses(text="T2DM w/ hyperglycemia")
    assert suggestion.candidates[0].code == "E11.65"
    assert suggestion.decision is Decision.AUTO
    assert suggestion.candidates[0].evidence


def test_unspecified_default_only_when_nothing_more_is_documented():
    assert best("type 2 diabetes") == "E11.9"
    assert best("acute cystitis") == "N30.00"
    assert best("acute cystitis with hematuria") == "N30.01"


def test_documented_side_selects_the_sided_code():
    assert best("pain in right knee") == "M25.561"
    assert best("left knee pain") == "M25.562"


def test_missing_side_takes_the_unspecified_side_code_and_raises_a_query():
    suggestion = suggest_diagnoses(text="knee pain")
    assert suggestion.candidates[0].code == "M25.569"
    assert suggestion.decision is Decision.QUERY
    assert any("laterality" in reason for reason in suggestion.reasons)


def test_episode_of_care_sets_the_seventh_character_with_placeholder_x():
    assert best("contusion of right knee, initial encounter") == "S80.01XA"
    assert best("sprain of left ankle, subsequent encounter") == "S93.402D"


def test_missing_episode_of_care_is_a_query_not_a_guess():
    suggestion = suggest_diagnoses(text="sprain of right ankle")
    assert suggestion.candidates[0].code == "S93.401A"
    assert suggestion.decision is Decision.QUERY
    assert any("episode of care" in reason for reason in suggestion.reasons)


def test_hypertension_with_ckd_is_presumed_hypertensive_ckd():
    assert best("HTN with CKD stage 3") == "I12.9"
    assert best("hypertension and heart failure") == "I11.0"


def test_outpatient_rule_out_codes_the_documented_symptom():
    suggestion = suggest_diagnoses(text="cough, rule out pneumonia", setting="outpatient")
    assert suggestion.candidates[0].code == "R05.9"
    assert suggestion.symptom_coded


def test_outpatient_uncertain_diagnosis_without_symptom_raises_a_query():
    suggestion = suggest_diagnoses(text="possible pneumonia", setting="outpatient")
    assert suggestion.decision is Decision.QUERY
    assert suggestion.uncertain


def test_inpatient_uncertain_diagnosis_is_coded_as_if_established():
    assert best("probable pneumonia", setting="inpatient") == "J18.9"


def test_negated_condition_is_never_coded():
    suggestion = suggest_diagnoses(text="ruled out MI")
    assert suggestion.decision is Decision.QUERY
    assert not suggestion.candidates


def test_history_of_goes_to_the_personal_history_code():
    assert best("h/o breast cancer") == "Z85.3"
    assert best("family history of breast cancer") == "Z80.3"


def test_snomed_concept_in_the_curated_map_is_coded_from_the_map():
    suggestion = suggest_diagnoses(
        system="http://snomed.info/sct", code="44054006", text="Diabetes mellitus type 2"
    )
    assert suggestion.candidates[0].code == "E11.9"
    assert suggestion.candidates[0].how == "snomed-map"


def test_snomed_concept_outside_the_map_falls_back_to_its_display_text():
    suggestion = suggest_diagnoses(system="SNOMED", code="999999999", text="Essential hypertension")
    assert suggestion.candidates[0].code == "I10"
    assert suggestion.candidates[0].how == "cac"


def test_given_billable_code_is_verified_and_kept():
    suggestion = suggest_diagnoses(system="ICD10CM", code="e119")
    assert suggestion.candidates[0].code == "E11.9"
    assert suggestion.decision is Decision.AUTO


def test_given_category_code_is_refined_from_its_text_and_queried():
    suggestion = suggest_diagnoses(code="E11", text="type 2 diabetes with hyperglycemia")
    assert suggestion.decision is Decision.QUERY
    assert suggestion.candidates[0].code == "E11.65"


def test_threshold_above_every_confidence_sends_the_statement_to_a_coder():
    suggestion = suggest_diagnoses(text="essential hypertension", threshold=1.01)
    assert suggestion.decision is Decision.QUERY


def test_patient_sex_selects_sex_specific_wording():
    assert best("breast cancer", patient_sex="M") == "C50.929"


def test_statement_result_is_the_cli_object():
    result = statement_result("COPD with acute exacerbation")
    assert set(result) == {"text", "candidates", "decision", "reasons"}
    assert result["candidates"][0]["code"] == "J44.1"
    assert len(result["candidates"]) >= 5
    assert all("." in c["code"] or len(c["code"]) == 3 for c in result["candidates"])
    confidences = [c["confidence"] for c in result["candidates"]]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 <= c <= 1 for c in confidences)


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_statement_raises_a_query(text):
    assert suggest_diagnoses(text=text).decision is Decision.QUERY


def test_use_additional_code_note_adds_the_documented_stage():
    suggestion = suggest_diagnoses(text="DM2 w/ CKD 3b")
    assert suggestion.candidates[0].code == "E11.22"
    assert [a.code for a in suggestion.additional] == ["N18.32"]


def test_heart_failure_type_follows_hypertensive_heart_disease():
    suggestion = suggest_diagnoses(text="HTN with HFrEF")
    assert suggestion.candidates[0].code == "I11.0"
    assert [a.code for a in suggestion.additional] == ["I50.20"]


def test_at_least_five_candidates_when_one_code_has_many_wordings():
    assert len(suggest_diagnoses(text="Metastatic disease to bone").candidates) >= 5


def test_weeks_of_gestation_give_the_trimester():
    assert best("supervision of normal first pregnancy at 12 weeks") == "Z34.01"


def test_pregnancy_codes_need_a_pregnancy_context():
    assert not best("HIV infection").startswith("O")


def test_statement_that_is_a_code_is_verified():
    assert statement_result("E11.65")["candidates"][0]["code"] == "E11.65"
    assert statement_result("E11.65")["decision"] == "auto"
    assert statement_result("S72.001")["decision"] == "query"


def test_invalid_given_code_names_the_problem():
    (reason,) = suggest_diagnoses(system="ICD10CM", code="ZZZ").reasons
    assert "not an ICD-10-CM code" in reason
