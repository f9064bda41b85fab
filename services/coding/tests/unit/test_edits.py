from claimflow_coding.domain.edits import blocking, check_codes


def edits(codes, **kwargs) -> set[tuple[str, int]]:
    return {(f.edit, f.index) for f in check_codes(codes=codes, **kwargs)}


def test_clean_encounter_has_no_blocking_finding():
    findings = check_codes(codes=["E11.9", "I10", "Z79.84"], age=60, sex="F")
    assert not blocking(findings)


def test_non_billable_and_seventh_character_codes_are_errors():
    found = edits(["E11", "S72.001"])
    assert ("ICD-NOT-BILLABLE", 0) in found
    assert ("ICD-7TH-CHARACTER", 1) in found


def test_unknown_code_is_invalid():
    assert ("ICD-INVALID", 0) in edits(["Q99.99"])


def test_excludes1_pair_is_flagged_on_the_later_code():
    assert ("ICD-EXCLUDES1", 1) in edits(["E11.9", "E10.9"])


def test_maternity_code_outside_12_to_55_is_an_age_error():
    assert ("ICD-AGE-MATERNITY", 0) in edits(["O80"], age=61, sex="F")
    assert ("ICD-AGE-MATERNITY", 0) not in edits(["O80"], age=30, sex="F")


def test_perinatal_code_on_an_adult_is_a_newborn_warning():
    findings = check_codes(codes=["P07.30"], age=40, sex="M")
    assert [(f.edit, f.severity) for f in findings] == [("ICD-AGE-NEWBORN", "warning")]


def test_sex_specific_codes_conflict_with_the_patient_sex():
    assert ("ICD-SEX", 0) in edits(["C61"], sex="F")
    assert ("ICD-SEX", 0) in edits(["N83.201"], sex="M")
    assert ("ICD-SEX", 0) in edits(["C50.911"], sex="M")
    assert not edits(["C61"], sex="M") & {("ICD-SEX", 0)}


def test_manifestation_code_is_never_first_listed():
    assert ("ICD-MANIFESTATION-FIRST", 0) in edits(["G63", "E85.1"])


def test_code_first_note_requires_the_underlying_condition_before():
    assert ("ICD-CODE-FIRST", 0) in edits(["G63", "E85.1"])
    assert ("ICD-CODE-FIRST", 1) not in edits(["E85.1", "G63"])


def test_external_cause_code_is_never_first_listed():
    assert ("ICD-NEVER-FIRST", 0) in edits(["W19.XXXA", "S72.001A"])
    assert ("ICD-NEVER-FIRST", 1) not in edits(["S72.001A", "W19.XXXA"])


def test_first_listed_only_z_code_in_second_place_is_an_error():
    assert ("ICD-FIRST-LISTED-ONLY", 1) in edits(["J44.9", "Z00.00"], age=50)
    assert ("ICD-FIRST-LISTED-ONLY", 0) not in edits(["Z00.00", "J44.9"], age=50)


def test_duplicate_code_is_an_error():
    assert ("ICD-DUPLICATE", 1) in edits(["I10", "I10"])


def test_use_additional_code_note_is_a_warning_only():
    findings = check_codes(codes=["I12.9"])
    assert [(f.edit, f.severity) for f in findings] == [("ICD-USE-ADDITIONAL", "warning")]
    assert not check_codes(codes=["I12.9", "N18.30"])


def test_findings_name_the_field_and_never_patient_data():
    findings = check_codes(codes=["I10", "O80"], age=70, sex="F")
    (finding,) = [f for f in findings if f.edit == "ICD-AGE-MATERNITY"]
    assert finding.field == "diagnoses[1].code"
    assert "70" not in finding.reason
