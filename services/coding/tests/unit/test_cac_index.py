import time
import warnings

from claimflow_coding.domain.cac.terms import (
    TermIndex,
    load_packaged_arrays,
    term_index,
)
from claimflow_coding.domain.cac.text import rewrite, slots_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10_cm as icd


def test_packaged_index_matches_the_current_tokenizer():
    # Fails when text.py or the term list changed without rerunning the build tool.
    assert load_packaged_arrays() is not None, "run services/coding/tools/build_icd10cm_terms.py"


def test_packaged_index_loads_in_well_under_a_second_or_two():
    started = time.perf_counter()
    TermIndex(load_packaged_arrays())
    assert time.perf_counter() - started < 3.0


def test_every_term_points_to_a_tabular_code():
    index = term_index()
    codes = {index.code_of(t) for t in range(len(index))}
    bad = [c for c in codes if not (icd.is_valid_item(c) and icd.is_category_or_subcategory(c))]
    assert not bad


def test_search_finds_the_exact_description_first():
    index = term_index()
    hits = index.search(slots_of(rewrite("Type 2 diabetes mellitus with hyperglycemia")))
    assert hits[0].code == "E1165" and hits[0].precision > 0.99


def test_misspelled_word_is_corrected_to_an_index_word():
    index = term_index()
    assert index.correct("pneumonai") == index.correct("pneumonia") is not None
