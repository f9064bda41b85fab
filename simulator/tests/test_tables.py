"""The rule tables load from the packaged CSVs, may be replaced file by file, and a broken
table is refused with the file, the line and the column named."""

from decimal import Decimal
from importlib.resources import files

import pytest

from payer_simulator.tables import DENIAL_RULES, TableError, load_tables

DATA = files("payer_simulator").joinpath("data")


def test_every_packaged_table_says_it_is_synthetic_and_loads():
    for table in DATA.iterdir():
        if table.name.endswith(".csv"):
            assert "SYNTHETIC" in table.read_text(encoding="utf-8").split("\n", 1)[0], table.name
    tables = load_tables()

    assert set(tables.denial_rules) >= DENIAL_RULES
    assert tables.terms_for("SIMPAYER1").contract == "COMMERCIAL-FS"
    assert tables.terms_for("NEVER-HEARD-OF").payer_id == "*"
    assert tables.fee_schedule[("COMMERCIAL-FS", "99213")] == Decimal("88.00")


def test_a_table_in_the_override_folder_replaces_the_packaged_one_only(tmp_path):
    (tmp_path / "payers.csv").write_text(
        "# test payer terms\n"
        "payer_id,contract,timely_filing_days,interest_percent,overpayment_recovery\n"
        "*,PERCENT-80,90,5,delayed\n"
    )

    tables = load_tables(tmp_path)

    assert tables.terms_for("SIMPAYER1").contract == "PERCENT-80"
    assert tables.terms_for("SIMPAYER1").timely_filing_days == 90
    assert tables.fee_schedule == load_tables().fee_schedule


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "payers.csv",
            "payer_id,contract,timely_filing_days,interest_percent,overpayment_recovery\n"
            "*,,ninety,5,immediate\n",
            "payers.csv line 2, column timely_filing_days: is not a whole number",
        ),
        (
            "payers.csv",
            "payer_id,contract,timely_filing_days,interest_percent,overpayment_recovery\n"
            "*,,90,5,someday\n",
            "payers.csv line 2, column overpayment_recovery: must be one of delayed, immediate",
        ),
        (
            "payers.csv",
            "payer_id,contract,timely_filing_days,interest_percent,overpayment_recovery\n"
            "SIMPAYER1,NO-SUCH,90,5,immediate\n*,,90,5,immediate\n",
            "names contract NO-SUCH, which contracts.csv does not define",
        ),
        (
            "payers.csv",
            "payer_id,contract,timely_filing_days,interest_percent,overpayment_recovery\n"
            "SIMPAYER1,,90,5,immediate\n",
            'a row for payer_id "*"',
        ),
        (
            "fee_schedule.csv",
            "# comment\ncontract,code,amount\nCOMMERCIAL-FS,99213,-4\n",
            "fee_schedule.csv line 3, column amount: must be a number of zero or more",
        ),
        (
            "denial_rules.csv",
            "rule,group,carc,rarcs,claim_remarks\nduplicate_claim,CO,18,,\n",
            "denial_rules.csv: rules",
        ),
        (
            "members.csv",
            "payer_id,member_id,plan\nSIMPAYER1,M1,GOLD-PLAN\n",
            "members.csv line 2, column plan: plan GOLD-PLAN is not in benefit_plans.csv",
        ),
        ("visit_types.csv", "visit_type,procedure_from\n", "columns procedure_to"),
        (
            "prior_authorization.csv",
            "payer_id,procedure_from,procedure_to\n*,72148,7214\n",
            "prior_authorization.csv line 2, column procedure_to",
        ),
    ],
)
def test_a_broken_table_is_refused_naming_file_line_and_column(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)

    with pytest.raises(TableError) as error:
        load_tables(tmp_path)

    assert message in str(error.value)
