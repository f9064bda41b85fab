from claimflow_coding.domain.cac import Decision, DocumentedDiagnosisInput, code_diagnoses


def dx(text=None, system=None, code=None) -> DocumentedDiagnosisInput:
    return DocumentedDiagnosisInput(text=text, system=system, code=code)


def test_clean_encounter_is_auto_coded_with_how_each_code_was_decided():
    result = code_diagnoses(
        diagnoses=[dx(system="ICD10CM", code="E11.9"), dx("essential hypertension")],
        patient_age=60,
        patient_sex="F",
    )
    assert result.decision is Decision.AUTO, result.reasons
    assert [(f.code, f.how) for f in result.final] == [("E11.9", "given"), ("I10", "cac")]
    assert [h.hcc for h in result.hccs] == ["HCC38"]


def test_additional_code_follows_the_code_that_calls_for_it():
    result = code_diagnoses(diagnoses=[dx("DM2 w/ CKD 3b"), dx("GERD")])
    assert [f.code for f in result.final] == ["E11.22", "N18.32", "K21.9"]
    assert result.final[1].how == "use-additional-code"


def test_failed_edit_sends_the_encounter_to_the_worklist():
    result = code_diagnoses(
        diagnoses=[dx(system="ICD10CM", code="C61")], patient_age=50, patient_sex="F"
    )
    assert result.decision is Decision.QUERY
    assert any("ICD-SEX" in reason for reason in result.reasons)


def test_statement_below_threshold_names_its_position():
    result = code_diagnoses(diagnoses=[dx("I10 stuff"), dx("possible pneumonia")])
    assert result.decision is Decision.QUERY
    assert any(issue.field == "diagnoses[1].text" for issue in result.issues)
    assert {issue.rule for issue in result.issues} >= {"CAC-UNCERTAIN"}
