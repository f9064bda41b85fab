from decimal import Decimal

from claimflow_remittance.domain.era_reader import read_835
from claimflow_remittance.domain.posting import post_claim_payment


def _claims(sample_text, name):
    return read_835(sample_text(name)).claims


def _only_claim(era, *segments):
    return read_835(era(*segments)).claims[0]


def test_fully_adjudicated_claim_posts_as_paid_with_allowed_from_amt_b6(sample_text):
    posting = post_claim_payment(
        _claims(sample_text, "k835-united_healthcare_legacy_sample.txt")[0]
    )

    assert posting.status == "paid"
    assert posting.paid == Decimal("88.92")
    assert posting.allowed == Decimal("194.18")
    assert posting.patient_responsibility == Decimal("105.26")
    assert posting.denied_amount == Decimal("0.00")
    assert [a.reason for a in posting.adjustments["CO"]] == ["45", "45"]
    assert [a.reason for a in posting.adjustments["PR"]] == ["1"]


def test_claim_with_a_denied_line_posts_as_partially_paid(sample_text):
    posting = post_claim_payment(_claims(sample_text, "k835-emedny_sample.txt")[2])

    assert posting.status == "partially-paid"
    assert posting.paid == Decimal("11.50")
    assert posting.denied_amount == Decimal("22.75")
    assert [line.denied for line in posting.lines] == [False, False, True, True]


def test_unpaid_claim_with_timely_filing_lines_and_no_patient_share_posts_as_denied(sample_text):
    payment = _claims(sample_text, "k835-emedny_sample.txt")[1]

    posting = post_claim_payment(payment)

    assert payment.status_code == "2"
    assert posting.status == "denied"
    assert posting.denied_amount == Decimal("34.00")
    assert posting.allowed == Decimal("0.00")


def test_status_code_4_posts_as_denied_even_with_unknown_reason_codes(sample_text):
    posting = post_claim_payment(_claims(sample_text, "pyx12-835_mult_loops.txt")[0])

    assert posting.status == "denied"
    assert posting.denied_amount == Decimal("915.39")
    assert posting.allowed == Decimal("0.00")


def test_status_code_4_without_cas_denies_what_is_unpaid(era):
    posting = post_claim_payment(_only_claim(era, "CLP*A1*4*100*0**12*PCN1"))

    assert posting.status == "denied"
    assert posting.denied_amount == Decimal("100.00")


def test_reversal_posts_negated_amounts_and_denies_nothing(era):
    payment = _only_claim(era, "CLP*A1*22*-150*-100*-20*12*PCN1", "CAS*CO*45*-30", "CAS*PR*1*-20")

    posting = post_claim_payment(payment)

    assert posting.status == "reversed"
    assert posting.paid == Decimal("-100.00")
    assert posting.patient_responsibility == Decimal("-20.00")
    assert posting.allowed == Decimal("-120.00")
    assert posting.denied_amount == Decimal("0.00")


def test_claim_applied_entirely_to_deductible_is_paid_not_denied(era):
    posting = post_claim_payment(
        _only_claim(era, "CLP*A1*1*100*0*80*12*PCN1", "CAS*CO*45*20", "CAS*PR*1*80")
    )

    assert posting.status == "paid"
    assert posting.patient_responsibility == Decimal("80.00")


def test_unpaid_claim_with_a_denied_line_and_a_deductible_line_is_partially_paid(era):
    payment = _only_claim(
        era,
        "CLP*A1*1*100*0*40*12*PCN1",
        "SVC*HC:99213*60*0",
        "CAS*CO*50*60",
        "SVC*HC:99212*40*0",
        "CAS*PR*1*40",
    )

    posting = post_claim_payment(payment)

    assert posting.status == "partially-paid"
    assert posting.denied_amount == Decimal("60.00")


def test_blank_clp05_takes_patient_responsibility_from_pr_adjustments(era):
    payment = _only_claim(era, "CLP*A1*1*100*70**12*PCN1", "CAS*PR*2*20*1*3*10")

    assert payment.patient_responsibility == Decimal("0.00")
    assert post_claim_payment(payment).patient_responsibility == Decimal("30.00")


def test_allowed_without_amt_b6_is_charge_less_payer_adjustments(sample_text):
    first, second = _claims(sample_text, "lfh-managed-care.835")

    assert post_claim_payment(first).allowed == Decimal("750.00")
    assert post_claim_payment(second).allowed == Decimal("1095.00")


def test_secondary_payment_after_prior_payer_posts_as_paid(sample_text):
    posting = post_claim_payment(_claims(sample_text, "lfh-secondary-payment.835")[0])

    assert posting.status == "paid"
    assert posting.paid == Decimal("912.00")
    assert list(posting.adjustments) == ["OA"]
