import csv
from decimal import Decimal

import pytest

from claimflow_remittance.domain.denials import (
    DATA,
    carc_rule,
    carc_rules,
    categorize_denial,
    is_denial,
    primary_denial_reason,
)
from claimflow_remittance.domain.era import Adjustment

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
        assert row["category"] and row["recommended_action"] and row["description"], row
        assert row["denial"] in {"yes", "no"} and row["appealable"] in {"yes", "no"}, row


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

    assert category.category == "unclassified"
    assert category.carc == "A7"
    assert is_denial(_adj("OA", "A7", "1"))


def test_no_adjustments_at_all_is_unclassified():
    category = categorize_denial([])

    assert category.category == "unclassified"
    assert category.carc is None


def test_ma130_remark_makes_a_missing_information_denial_unappealable():
    adjustments = [_adj("CO", "50", "100")]

    assert categorize_denial(adjustments).appealable is True
    category = categorize_denial(adjustments, ["MA130"])
    assert category.category == "missing-information"
    assert category.appealable is False


def test_remark_can_take_appeal_rights_away_but_never_grant_them():
    assert categorize_denial([_adj("CO", "50", "10")], ["N211"]).category == "medical-necessity"
    assert categorize_denial([_adj("CO", "50", "10")], ["N211"]).appealable is False
    assert categorize_denial([_adj("CO", "29", "10")], ["M127"]).appealable is False


def test_remarks_without_an_override_leave_the_category_alone():
    assert categorize_denial([_adj("CO", "16", "10")], ["N14"]) == categorize_denial(
        [_adj("CO", "16", "10")]
    )
