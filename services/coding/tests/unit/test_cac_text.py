from claimflow_coding.domain.cac.text import read_statement, rewrite, slots_of, term_tokens


def words_of(text: str) -> list[str]:
    return [slot.word for slot in slots_of(rewrite(text)) if not slot.implied]


def test_abbreviations_expand_to_code_set_wording():
    assert rewrite("T2DM w/ HTN and CKD") == (
        "type 2 diabetes mellitus with hypertension and chronic kidney disease"
    )


def test_specific_abbreviation_wins_over_its_prefix():
    assert "type 1" in rewrite("T1DM") and "type 2" not in rewrite("T1DM")


def test_tokens_keep_digits_and_stage_letters():
    assert words_of("CKD stage 3b") == ["chronic", "kidney", "disease", "stage", "3b"]


def test_roman_numerals_after_type_or_stage_become_digits():
    assert "stage 3b" in rewrite("CKD stage IIIb")
    assert "type 2" in rewrite("diabetes type II")


def test_single_letter_side_abbreviations_mean_left_and_right():
    assert rewrite("L knee pain") == "left knee pain"
    assert rewrite("RT shoulder") == "right shoulder"


def test_snomed_semantic_tag_is_dropped():
    assert rewrite("Viral sinusitis (disorder)") == "viral sinusitis"


def test_rule_out_segment_is_uncertain_and_the_symptom_certain():
    reading = read_statement("Chest pain, r/o MI")
    assert reading.certain.strip() == "chest pain"
    assert "myocardial infarction" in reading.uncertain


def test_ruled_out_statement_is_negated():
    assert read_statement("No evidence of DVT").negated


def test_history_of_is_personal_unless_family():
    assert read_statement("h/o breast ca").history
    family = read_statement("family history of colon cancer")
    assert family.family_history and not family.history


def test_episode_words_are_collected_for_the_seventh_character():
    reading = read_statement("Fracture of left radius, subsequent encounter, routine healing")
    assert {"subsequent", "routine", "healing"} <= reading.episode
    assert reading.laterality == {"left"}


def test_parenthesized_words_are_optional_and_without_scope_is_negated():
    required, optional = term_tokens("Essential (primary) hypertension")
    assert "primari" in optional and "primari" not in required
    required, _ = term_tokens("Acute cystitis without hematuria")
    assert "no_hematuria" in required and "hematuria" not in required


def test_stage_ranges_include_the_stages_between():
    _, optional = term_tokens("with stage 1 through stage 4 chronic kidney disease")
    assert {"2", "3"} <= set(optional)
