from claimflow_coding.domain.icd10 import (
    ICD10CM_VERSION,
    NOT_A_CODE,
    NOT_BILLABLE,
    check_diagnosis,
    excludes1_conflict,
    excludes1_conflicts,
)


def test_billable_code_is_accepted_with_or_without_the_dot():
    for written in ("E11.9", "E119", " e11.9 "):
        check = check_diagnosis(written)
        assert check.ok, written
        assert (check.code, check.valid, check.billable) == ("E119", True, True)
        assert check.description == "Type 2 diabetes mellitus without complications"


def test_code_with_a_seventh_character_is_billable():
    check = check_diagnosis("S52.521A")
    assert check.billable
    assert "initial encounter" in (check.description or "")


def test_well_formed_but_unknown_code_is_not_an_icd10cm_code():
    check = check_diagnosis("Z99.99")
    assert (check.valid, check.billable, check.description) == (False, False, None)
    assert check.problem == NOT_A_CODE


def test_free_text_is_not_an_icd10cm_code():
    check = check_diagnosis("diabetes")
    assert not check.valid
    assert check.problem == NOT_A_CODE


def test_chapter_and_block_names_are_not_diagnosis_codes():
    assert check_diagnosis("E08-E13").problem == NOT_A_CODE
    assert check_diagnosis("4").problem == NOT_A_CODE


def test_non_billable_category_says_to_code_to_the_highest_specificity():
    check = check_diagnosis("E11")
    assert check.valid and not check.billable
    assert check.problem == NOT_BILLABLE
    assert check.description == "Type 2 diabetes mellitus"


def test_injury_code_missing_its_seventh_character_says_which_characters_fit():
    check = check_diagnosis("S52.521")
    assert check.valid and not check.billable
    assert check.problem is not None
    assert check.problem.startswith(NOT_BILLABLE)
    assert "7th character is required (A, D, G, K, P, S)" in check.problem
    assert "S52.521A" in check.problem


def test_injury_category_mentions_the_seventh_character_too():
    problem = check_diagnosis("S52").problem or ""
    assert problem.startswith(NOT_BILLABLE)
    assert "7th character" in problem


def test_seventh_character_without_placeholder_x_points_to_the_right_code():
    check = check_diagnosis("S09.90A")
    assert not check.valid
    assert check.problem is not None
    assert check.problem.startswith(NOT_A_CODE)
    assert "S09.90XA" in check.problem


def test_repeated_lookups_come_from_the_cache():
    from claimflow_coding.domain import icd10

    check_diagnosis("I10")
    hits = icd10._check_normalized.cache_info().hits
    assert check_diagnosis("I10") == check_diagnosis("I10")
    assert icd10._check_normalized.cache_info().hits >= hits + 2


def test_excludes1_on_a_category_forbids_the_pair_in_either_order():
    forward = excludes1_conflict("E11.9", "E10.9")
    backward = excludes1_conflict("E10.9", "E11.9")
    assert forward is not None and backward is not None
    assert "E10.-" in forward.note
    assert "E11.9" in forward.problem and "E10.9" in forward.problem


def test_excludes1_range_covers_every_code_inside_it():
    conflict = excludes1_conflict("I10", "O10.019")
    assert conflict is not None
    assert conflict.noted_at == "I10"


def test_excludes1_note_on_a_block_applies_to_its_codes():
    conflict = excludes1_conflict("J06.9", "J44.0")
    assert conflict is not None
    assert conflict.noted_at == "J00-J06"


def test_excludes1_with_a_character_qualifier_only_matches_those_codes():
    assert excludes1_conflict("G99.0", "E11.43") is not None
    assert excludes1_conflict("G99.0", "E11.9") is None


def test_unrelated_codes_do_not_conflict():
    assert excludes1_conflict("E11.9", "I10") is None
    assert excludes1_conflict("E11.9", "E11.9") is None


def test_conflicts_are_reported_by_position():
    found = excludes1_conflicts(["I10", "E11.9", "Z00.00", "E10.9"])
    assert [(i, j) for i, j, _ in found] == [(1, 3)]


def test_version_names_the_april_2026_release():
    assert ICD10CM_VERSION == "2026-04-01"
