"""What the 835 reader cannot vouch for: each a problem with its kind, position and policy."""

import csv
import re
from pathlib import Path

import pytest

from claimflow_remittance.domain.era_reader import read_835, read_835_file
from claimflow_remittance.domain.problems import file_policy, problem, problem_policies

DOMAIN = Path(__file__).resolve().parents[2] / "src" / "claimflow_remittance" / "domain"


def kinds(remittance):
    return {p.kind for p in remittance.problems}


def test_clean_5010_file_has_no_problem_and_posts(era):
    remittance = read_835(era("CLP*A1*1*100*100**12*PCN1"))

    assert remittance.problems == ()
    assert remittance.version == "005010X221A1"
    assert file_policy(remittance.problems) == "post"


def test_4010_interchange_and_group_are_held_as_not_5010(era):
    text = era("CLP*A1*1*100*100**12*PCN1").replace("*00501*", "*00401*")
    text = text.replace("005010X221A1", "004010X091A1")

    remittance = read_835(text)

    found = [p for p in remittance.problems if p.kind == "not-5010"]
    assert [p.segment_id for p in found] == ["ISA", "GS"]
    assert "004010X091A1" in found[1].message
    assert file_policy(remittance.problems) == "hold"


def test_st03_of_another_guide_is_not_5010(era):
    text = era("CLP*A1*1*100*100**12*PCN1").replace("ST*835*0001", "ST*835*0001*005010X999")

    (found,) = read_835(text).problems

    assert (found.kind, found.segment_id, found.policy) == ("not-5010", "ST", "hold")


def test_group_of_another_functional_id_is_not_an_835_group(era):
    text = era("CLP*A1*1*100*100**12*PCN1").replace("GS*HP*", "GS*HC*")

    (found,) = read_835(text).problems

    assert found.kind == "not-5010" and "GS01" in found.message


def test_file_without_envelope_is_flagged_not_held(era):
    remittance = read_835(era("CLP*A1*1*100*100**12*PCN1", envelope=False))

    assert kinds(remittance) == {"no-envelope"}
    assert file_policy(remittance.problems) == "flag"


def test_unknown_segment_is_reported_at_its_position_and_not_read(era):
    text = era("CLP*A1*1*100*100**12*PCN1", "ZZZ*SECRET*1", "SVC*HC:99213*100*100")

    remittance = read_835(text)

    (found,) = remittance.problems
    assert found.kind == "unknown-segment"
    assert found.segment_id == "ZZZ"
    # ISA, GS, ST, BPR, TRN, DTM, N1, REF, N1, LX, CLP come first: ZZZ is segment 12.
    assert found.position == 12
    assert "SECRET" not in found.message
    assert file_policy(remittance.problems) == "flag"


def test_two_payees_in_one_transaction_never_mix_name_and_tax_id(era):
    text = era(
        "CLP*A1*1*100*100**12*PCN1",
        payee=(
            "N1*PE*GOOD CLINIC*XX*1234567893",
            "N1*PE*OTHER CLINIC*XX*1987654321",
            "REF*TJ*999999999",
        ),
    )

    remittance = read_835(text)

    assert remittance.payee.name == "GOOD CLINIC"
    assert remittance.payee.npi == "1234567893"
    # The REF*TJ belongs to the second payee's loop: it must not become the first's tax id.
    assert remittance.payee.tax_id is None
    assert [p.name for p in remittance.payees] == ["GOOD CLINIC", "OTHER CLINIC"]
    assert remittance.payees[1].tax_id == "999999999"
    (found,) = remittance.problems
    assert (found.kind, found.segment_id, found.policy) == ("several-payees", "N1", "hold")


def test_tax_id_in_the_payees_own_loop_is_read(era):
    text = era(
        "CLP*A1*1*100*100**12*PCN1",
        payee=("N1*PE*GOOD CLINIC*XX*1234567893", "REF*TJ*123456789"),
    )

    remittance = read_835(text)

    assert remittance.payee.tax_id == "123456789"
    assert remittance.problems == ()


def test_second_payer_in_one_transaction_is_held(era):
    text = era("CLP*A1*1*100*100**12*PCN1", payer=("N1*PR*ACME HEALTH PLAN", "N1*PR*OTHER"))

    remittance = read_835(text)

    assert remittance.payer.name == "ACME HEALTH PLAN"
    assert kinds(remittance) == {"several-payers"}


def test_file_that_does_not_balance_is_held_with_the_bpr_position(era):
    remittance = read_835(era("CLP*A1*1*100*100**12*PCN1", total="120.00"))

    (found,) = remittance.problems
    assert (found.kind, found.segment_id, found.position) == ("file-out-of-balance", "BPR", 4)
    assert "off by 20.00" in found.message
    assert file_policy(remittance.problems) == "hold"


def test_claim_and_line_that_do_not_balance_are_flagged(era):
    text = era("CLP*A1*1*100*80**12*PCN1", "SVC*HC:99213*100*80", "CAS*CO*45*10", total="80.00")

    remittance = read_835(text)

    assert {(p.kind, p.segment_id) for p in remittance.problems} == {
        ("claim-out-of-balance", "CLP"),
        ("line-out-of-balance", "SVC"),
    }
    assert file_policy(remittance.problems) == "flag"


def test_wrong_group_and_interchange_counts_are_reported_on_the_last_transaction(era):
    text = era("CLP*A1*1*100*100**12*PCN1").replace("GE*1*1", "GE*2*7").replace("IEA*1*", "IEA*3*")

    remittance = read_835(text)

    messages = sorted(p.message for p in remittance.problems if p.kind == "envelope-count")
    assert messages == [
        "GE01 says '2', counted 1",
        "GE02 does not match GS06",
        "IEA01 says '3', counted 1",
    ]


def test_missing_trace_is_held_because_the_file_cannot_be_deduplicated(era):
    text = era("CLP*A1*1*100*100**12*PCN1").replace("TRN*1*EFT0001*1234567890~\n", "")

    remittance = read_835(text)

    assert "missing-segment" in kinds(remittance)
    assert file_policy(remittance.problems) == "hold"


def test_segment_before_se_ends_the_transaction_as_truncated(era):
    text = era("CLP*A1*1*100*100**12*PCN1")
    text = text[: text.index("SE*")] + "GE*1*1~\nIEA*1*000000001~\n"

    remittance = read_835(text)

    assert "truncated" in kinds(remittance)
    assert file_policy(remittance.problems) == "hold"


def test_invalid_date_names_the_field_without_echoing_a_service_date(era):
    text = era("CLP*A1*1*100*100**12*PCN1", "SVC*HC:99213*100*100", "DTM*472*20241345")

    (found,) = read_835(text).problems

    assert found.kind == "invalid-date"
    assert "DTM*472" in found.message
    assert "20241345" not in found.message


def test_file_policy_is_the_strictest_of_its_problems():
    post = problem("no-claims", 1, "CLP", "x")
    flag = problem("unknown-segment", 2, "ZZ", "x")
    hold = problem("several-payees", 3, "N1", "x")

    assert file_policy([]) == "post"
    assert file_policy([post]) == "post"
    assert file_policy([post, flag]) == "flag"
    assert file_policy([flag, hold, post]) == "hold"


def test_unknown_problem_kind_is_a_programming_error():
    with pytest.raises(ValueError, match=r"not in problem_policies\.csv"):
        problem("made-up", 1, "CLP", "x")


def test_every_problem_kind_the_code_raises_is_in_the_policy_table():
    table = problem_policies()
    raised = set()
    for module in DOMAIN.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        raised |= set(re.findall(r'problem\(\s*"([a-z0-9-]+)"', source))
    assert raised, "no problem kinds found in the domain sources"
    assert raised <= set(table), raised - set(table)


def test_policy_table_rows_use_only_post_flag_or_hold():
    with (DOMAIN / "data" / "problem_policies.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {row["policy"] for row in rows} <= {"post", "flag", "hold"}
    assert len({row["kind"] for row in rows}) == len(rows)


def test_two_interchanges_in_one_file_each_check_their_own_envelope(era):
    text = era("CLP*A1*1*100*100**12*PCN1") + era("CLP*B1*1*100*100**12*PCN2").replace(
        "*00501*", "*00401*"
    )

    first, second = read_835_file(text)

    assert first.problems == ()
    assert kinds(second) == {"not-5010"}
