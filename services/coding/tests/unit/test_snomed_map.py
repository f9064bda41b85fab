import warnings

from claimflow_coding.domain.cac import suggest_diagnoses
from claimflow_coding.domain.cac.snomed import snomed_mapping, snomed_table

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10_cm as icd


def test_map_covers_at_least_two_hundred_concepts():
    assert len(snomed_table()) >= 200


def test_every_row_maps_to_a_valid_billable_code_with_a_reason():
    for row in snomed_table().values():
        if not row.icd10cm:
            assert row.rationale.startswith("not coded: "), row
            continue
        assert icd.is_valid_item(row.icd10cm), row
        assert icd.is_leaf(row.icd10cm), f"{row.snomed} -> {row.icd10cm} is not billable"
        assert row.rationale and row.display, row


def test_snomed_codes_are_sctid_digits():
    assert all(code.isdigit() and 6 <= len(code) <= 18 for code in snomed_table())


def test_lookup_by_code():
    assert snomed_mapping(" 38341003 ").icd10cm == "I10"
    assert snomed_mapping("0") is None


def test_a_finding_that_is_no_condition_is_deliberately_not_coded():
    suggestion = suggest_diagnoses(system="http://snomed.info/sct", code="160903007")
    assert suggestion.candidates == () and suggestion.decision.value == "auto"
    assert "employ" in suggestion.not_coded and "not coded" not in suggestion.not_coded
