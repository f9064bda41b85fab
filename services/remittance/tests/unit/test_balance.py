from decimal import Decimal

import pytest

from claimflow_remittance.domain.balance import check_balance
from claimflow_remittance.domain.era_reader import read_835

BALANCED_SAMPLES = [
    "k835-blue_cross_nc_sample.txt",
    "k835-emedny_sample.txt",
    "k835-united_healthcare_legacy_sample.txt",
    "lfh-cob-contractural-adjustment.835",
    "lfh-managed-care.835",
    "lfh-medicare-part-a.835",
    "lfh-secondary-payment.835",
    "pyx12-835_mult_loops.txt",
]


@pytest.mark.parametrize("name", BALANCED_SAMPLES)
def test_sample_balances_at_payment_claim_and_line_level(sample_text, name):
    assert check_balance(read_835(sample_text(name))) == []


def test_medicare_sample_balances_only_because_the_negative_plb_adds_to_the_payment(
    sample_text,
):
    remittance = read_835(sample_text("lfh-medicare-part-a.835"))
    claims_paid = sum(c.paid for c in remittance.claims)

    assert claims_paid == Decimal("149998.73")
    assert remittance.payment.amount - claims_paid == Decimal("1.27")
    assert check_balance(remittance) == []


def test_tertiary_sample_with_shifted_svc_elements_is_reported_out_of_balance(sample_text):
    problems = check_balance(read_835(sample_text("lfh-tertiary-payment.835")))

    assert {p.segment_id for p in problems} == {"CLP", "SVC"}
    assert any("SVC03 is 1766.50" in p.message for p in problems)


def test_payment_total_that_disagrees_with_claims_and_plb_is_reported(era):
    text = era(
        "CLP*A1*1*100*90**12*PCN1", "CAS*CO*45*10", "PLB*1234567893*20241231*WO*5", total="90.00"
    )

    (problem,) = check_balance(read_835(text))

    assert problem.segment_id == "BPR"
    assert "off by 5.00" in problem.message


def test_plb_reduction_balances_the_payment(era):
    text = era(
        "CLP*A1*1*100*90**12*PCN1", "CAS*CO*45*10", "PLB*1234567893*20241231*WO*5", total="85.00"
    )

    assert check_balance(read_835(text)) == []


def test_debit_payment_balances_against_negative_claim_totals(era):
    text = era("CLP*A1*22*-100*-90**12*PCN1", "CAS*CO*45*-10", total="90.00").replace(
        "BPR*I*90.00*C*", "BPR*I*90.00*D*"
    )

    assert check_balance(read_835(text)) == []


def test_claim_whose_adjustments_do_not_explain_the_payment_is_reported(era):
    text = era("CLP*A1*1*100*90**12*PCN1", "CAS*CO*45*5", total="90.00")

    (problem,) = check_balance(read_835(text))

    assert problem.segment_id == "CLP"
    assert "CLP04 is 90.00" in problem.message


def test_line_whose_adjustments_do_not_explain_its_payment_is_reported(era):
    text = era(
        "CLP*A1*1*100*80**12*PCN1",
        "SVC*HC:99213*60*50",
        "CAS*CO*45*10",
        "SVC*HC:99212*40*30",
        "CAS*CO*45*5",
        total="80.00",
    )

    problems = check_balance(read_835(text))

    assert [p.segment_id for p in problems] == ["CLP", "SVC"]
    assert "line 99212" in problems[1].message


def test_claim_level_cas_is_counted_with_line_sums(era):
    text = era(
        "CLP*A1*1*100*70**12*PCN1",
        "CAS*OA*23*10",
        "SVC*HC:99213*100*80",
        "CAS*CO*45*20",
        total="70.00",
    )

    assert check_balance(read_835(text)) == []
