import csv
from datetime import date
from decimal import Decimal

import pytest

from claimflow_remittance.domain.denials import (
    ACTIONS,
    CATEGORIES,
    DATA,
    RuleTableError,
    appeal_deadline,
    appeal_window_days,
    carc_rule,
    carc_rules,
    categorize_denial,
    is_denial,
    plain_reasons,
    primary_denial_reason,
)
from claimflow_remittance.domain.era_model import Adjustment

REQUIRED_CARCS = (
    "1 2 3 4 5 11 16 18 22 23 26 27 29 31 45 50 96 97 109 119 146 167 181 182 197 204 242 252"
)


def _adj(group, reason, amount):
    return Adjustment(group, reason, Decimal(amount))


def test_table_covers_every_carc_the_remittance_team_asked_for():
    assert set(REQUIRED_CARCS.split()) <= set(carc_rules())


def test_table_has_one_complete_row_per_carc():
    with (DATA / "carc_categories.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len({row["carc"] for row in rows}) == len(rows)
    for row in rows:
        assert row["category"] in CATEGORIES, row
        assert row["subcategory"] and row["recommended_action"] and row["plain_reason"], row
        assert row["denial"] in {"yes", "no"} and row["appealable"] in {"yes", "no"}, row
        assert row["action"] in ACTIONS, row


@pytest.mark.parametrize("carc", ["1", "2", "3", "45"])
def test_deductible_coinsurance_copay_and_fee_schedule_are_not_denials(carc):
    assert not carc_rule(carc).denial
    assert not is_denial(_adj("CO", carc, "10"))


def test_timely_filing_is_a_denial_that_cannot_be_appealed():
    category = categorize_denial([_adj("CO", "29", "120")])

    assert category.category == "timely-filing"
    assert category.appealable is False
    assert category.carc == "29"


def test_patient_responsibility_group_is_never_a_denial_even_for_a_denial_carc():
    assert is_denial(_adj("CO", "204", "10"))
    assert not is_denial(_adj("PR", "204", "10"))


def test_primary_reason_is_the_largest_non_pr_adjustment_other_than_45():
    adjustments = [
        _adj("CO", "45", "500"),
        _adj("PR", "1", "300"),
        _adj("CO", "97", "50"),
        _adj("CO", "50", "200"),
    ]

    assert primary_denial_reason(adjustments) == _adj("CO", "50", "200")
    assert categorize_denial(adjustments).category == "medical-necessity"


def test_primary_reason_compares_magnitudes_so_reversals_categorise_too():
    adjustments = [_adj("CO", "97", "-50"), _adj("CO", "197", "-200")]

    assert categorize_denial(adjustments).category == "authorization"


def test_unknown_carc_is_unclassified_and_treated_as_a_denial():
    category = categorize_denial([_adj("OA", "A7", "127.80")])

    assert (category.category, category.subcategory) == ("other", "unclassified")
    assert category.action == "review"
    assert category.carc == "A7"
    assert is_denial(_adj("OA", "A7", "1"))


def test_no_adjustments_at_all_is_unclassified():
    category = categorize_denial([])

    assert (category.category, category.subcategory) == ("other", "unclassified")
    assert category.carc is None


def test_ma130_remark_makes_a_missing_information_denial_unappealable():
    adjustments = [_adj("CO", "50", "100")]

    assert categorize_denial(adjustments).appealable is True
    category = categorize_denial(adjustments, ["MA130"])
    assert (category.category, category.subcategory) == ("other", "missing-information")
    assert category.appealable is False
    assert category.action == "correct-and-resubmit"


def test_remark_can_take_appeal_rights_away_but_never_grant_them():
    assert categorize_denial([_adj("CO", "50", "10")], ["N211"]).category == "medical-necessity"
    assert categorize_denial([_adj("CO", "50", "10")], ["N211"]).appealable is False
    assert categorize_denial([_adj("CO", "29", "10")], ["M127"]).appealable is False


def test_remarks_without_an_override_leave_the_category_alone():
    assert categorize_denial([_adj("CO", "16", "10")], ["N14"]) == categorize_denial(
        [_adj("CO", "16", "10")]
    )


def test_the_eight_categories_of_the_denial_report_are_the_only_ones():
    assert CATEGORIES == (
        "registration-eligibility",
        "authorization",
        "coding",
        "medical-necessity",
        "bundling",
        "timely-filing",
        "duplicate",
        "other",
    )
    assert {rule.category for rule in carc_rules().values()} == set(CATEGORIES)


@pytest.mark.parametrize(
    ("carc", "category", "action"),
    [
        ("31", "registration-eligibility", "correct-and-resubmit"),
        ("197", "authorization", "appeal"),
        ("4", "coding", "correct-and-resubmit"),
        ("50", "medical-necessity", "appeal"),
        ("97", "bundling", "appeal"),
        ("29", "timely-filing", "write-off"),
        ("18", "duplicate", "write-off"),
        ("204", "registration-eligibility", "bill-patient"),
    ],
)
def test_each_category_gets_its_usual_action(carc, category, action):
    found = categorize_denial([_adj("CO", carc, "10")])

    assert (found.category, found.action) == (category, action)


def test_remark_that_takes_appeal_rights_away_turns_an_appeal_into_a_review():
    found = categorize_denial([_adj("CO", "50", "10")], ["N211"])

    assert found.appealable is False
    assert found.action == "review"


def test_appeal_deadline_comes_from_the_window_for_the_payer_kind():
    denied_on = date(2024, 3, 1)

    assert appeal_deadline(denied_on, filing_indicator="MB") == date(2024, 6, 29)
    assert appeal_deadline(denied_on, filing_indicator="CI") == date(2024, 8, 28)
    assert appeal_window_days(filing_indicator="MC") == 90


def test_plain_reasons_use_our_wording_and_name_the_code():
    (reason,) = plain_reasons(["50"])

    assert reason.startswith("the payer did not find the service medically necessary")
    assert reason.endswith("(reason code 50)")


def test_a_table_row_with_an_unknown_category_is_refused(tmp_path, monkeypatch):
    import claimflow_remittance.domain.denials as denials

    bad = tmp_path / "carc_categories.csv"
    header = (DATA / "carc_categories.csv").read_text(encoding="utf-8").splitlines()[0]
    bad.write_text(header + "\n50,made-up,x,yes,yes,appeal,Do it,because\n", encoding="utf-8")
    monkeypatch.setattr(denials, "DATA", tmp_path)
    denials.carc_rules.cache_clear()
    try:
        with pytest.raises(RuleTableError, match="row 2: category"):
            denials.carc_rules()
    finally:
        monkeypatch.undo()
        denials.carc_rules.cache_clear()
