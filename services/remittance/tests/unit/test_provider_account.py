from decimal import Decimal

import pytest

from claimflow_remittance.domain.era_reader import read_835
from claimflow_remittance.domain.provider_account import (
    balance_by_kind,
    plb_reason,
    provider_account_entries,
)

D = Decimal


def test_plb_pairs_become_provider_account_entries_with_their_kind(era):
    text = era(
        "CLP*C1*1*100*100**12*PCN1",
        "PLB*1234567893*20241231*L6*-2.50*WO>ICN77*40*FB>REF9*10",
        total="52.50",
    )
    remittance = read_835(text.replace("*:~", "*>~", 1))

    entries = provider_account_entries(remittance)

    assert [(e.reason, e.kind, e.reference, e.amount) for e in entries] == [
        ("L6", "interest", "", D("2.50")),
        ("WO", "offset", "ICN77", D("-40.00")),
        ("FB", "forward-balance", "REF9", D("-10.00")),
    ]
    assert {e.trace_number for e in entries} == {"EFT0001"}
    assert balance_by_kind(list(entries)) == {
        "interest": D("2.50"),
        "offset": D("-40.00"),
        "forward-balance": D("-10.00"),
    }
    assert remittance.problems == ()


@pytest.mark.parametrize(
    ("code", "kind"),
    [("L6", "interest"), ("WO", "offset"), ("72", "offset"), ("CS", "offset"),
     ("FB", "forward-balance"), ("J1", "forward-balance"), ("CV", "passthrough")],
)  # fmt: skip
def test_plb_reason_table_gives_the_kind(code, kind):
    assert plb_reason(code).kind == kind


def test_unknown_plb_reason_is_unclassified_not_an_error():
    assert plb_reason("ZZ").kind == "unclassified"


def test_medicare_sample_capital_passthrough_is_money_to_the_provider(sample_text):
    (entry,) = provider_account_entries(read_835(sample_text("lfh-medicare-part-a.835")))

    assert (entry.kind, entry.amount, entry.provider_id) == (
        "passthrough",
        D("1.27"),
        "6543210903",
    )
