import contextlib
import random
from datetime import date
from decimal import Decimal

import pytest

from claimflow_remittance.domain.era_model import Adjustment, Procedure
from claimflow_remittance.domain.era_reader import read_835, read_835_file
from claimflow_shared.x12 import X12Error

SAMPLE_NAMES = [
    "k835-blue_cross_nc_sample.txt",
    "k835-emedny_sample.txt",
    "k835-united_healthcare_legacy_sample.txt",
    "lfh-cob-contractural-adjustment.835",
    "lfh-managed-care.835",
    "lfh-medicare-part-a.835",
    "lfh-secondary-payment.835",
    "lfh-tertiary-payment.835",
    "pyx12-835_mult_loops.txt",
]


def test_the_sample_folder_holds_the_nine_files_we_test(samples):
    assert sorted(p.name for p in samples.iterdir()) == sorted(SAMPLE_NAMES)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_sample_reads_into_at_least_one_claim(sample_text, name):
    remittance = read_835(sample_text(name))

    assert remittance.claims
    assert remittance.trace.number
    assert all(claim.claim_id for claim in remittance.claims)


def test_blue_cross_sample_without_isa_envelope_reads_its_payment_and_lines(sample_text):
    remittance = read_835(sample_text("k835-blue_cross_nc_sample.txt"))

    assert remittance.control_number == "1234"
    assert remittance.payment.amount == Decimal("1922.86")
    assert remittance.payment.method == "CHK"
    assert remittance.payment.date == date(2011, 1, 8)
    assert remittance.trace.number == "02790758"
    assert remittance.payee.npi == "0987654321"
    assert remittance.payee.tax_id == "123456789"
    (claim,) = remittance.claims
    assert claim.claim_id == "200200964A52"
    assert claim.paid == Decimal("1922.86")
    assert claim.patient_responsibility == Decimal("142.54")
    assert claim.filing_indicator == "15"
    assert claim.patient is not None and claim.patient.last_name == "Dough"
    first = claim.service_lines[0]
    assert first.procedure == Procedure("HC", "59430")
    assert first.adjustments == (
        Adjustment("CO", "42", Decimal("34.60")),
        Adjustment("PR", "2", Decimal("117.54")),
    )
    assert first.allowed == Decimal("1175.40")
    assert first.control_number == "0001"
    assert first.service_date == date(2010, 12, 31)


def test_blue_cross_sample_reports_its_wrong_segment_count_and_blank_line_amounts(sample_text):
    remittance = read_835(sample_text("k835-blue_cross_nc_sample.txt"))

    messages = [p.message for p in remittance.problems]
    assert "SE01 says 33, counted 32" in messages
    assert any(p.segment_id == "SVC" and "SVC02" in p.message for p in remittance.problems)


def test_emedny_sample_reads_three_claims_with_modifiers_and_line_remarks(sample_text):
    remittance = read_835(sample_text("k835-emedny_sample.txt"))

    assert remittance.payment.amount == Decimal("45.75")
    assert [c.paid for c in remittance.claims] == [
        Decimal("34.25"),
        Decimal("0.00"),
        Decimal("11.50"),
    ]
    first_line = remittance.claims[0].service_lines[0]
    assert first_line.procedure == Procedure("HC", "V2020", ("RB",))
    assert remittance.claims[0].service_lines[3].units == Decimal("2")
    denied_line = remittance.claims[2].service_lines[3]
    assert denied_line.adjustments == (Adjustment("CO", "251", Decimal("20.00")),)
    assert denied_line.remarks == ("N206",)
    assert remittance.problems == ()


def test_united_sample_reads_gt_component_separator_and_multi_triplet_cas(sample_text):
    remittance = read_835(sample_text("k835-united_healthcare_legacy_sample.txt"))

    assert remittance.payment.amount == Decimal("349.99")
    assert remittance.payer.payer_id == "87726"
    assert remittance.payee.npi == "1922164458"
    assert [c.paid for c in remittance.claims] == [Decimal("88.92"), Decimal("261.07")]
    third = remittance.claims[1].service_lines[2]
    assert third.procedure == Procedure("HC", "B4154")
    assert third.units == Decimal("178")
    assert third.adjustments[:2] == (
        Adjustment("PR", "2", Decimal("5.13")),
        Adjustment("PR", "1", Decimal("110.00")),
    )
    assert remittance.problems == ()


def test_cob_sample_keeps_a_negative_adjustment_and_flags_stray_component_separator(
    sample_text,
):
    remittance = read_835(sample_text("lfh-cob-contractural-adjustment.835"))

    (claim,) = remittance.claims
    (line,) = claim.service_lines
    assert line.procedure == Procedure("HC", "55669")
    assert Adjustment("OA", "94", Decimal("-9.00")) in line.adjustments
    assert any("not ISA16" in p.message for p in remittance.problems)


def test_managed_care_sample_reads_claim_level_cas_and_reports_impossible_bpr_date(sample_text):
    remittance = read_835(sample_text("lfh-managed-care.835"))

    assert remittance.payment.amount == Decimal("945.00")
    assert remittance.payment.date is None
    assert len(remittance.claims) == 2
    assert remittance.claims[0].adjustments == (Adjustment("CO", "A2", Decimal("50.00")),)
    assert remittance.claims[0].service_lines[0].units == Decimal("1")
    assert remittance.claims[0].service_lines[0].service_date == date(2002, 3, 1)
    assert any("20002316" in p.message for p in remittance.problems)


def test_medicare_part_a_sample_reads_plb_moa_and_blank_patient_responsibility(sample_text):
    remittance = read_835(sample_text("lfh-medicare-part-a.835"))

    assert remittance.payment.amount == Decimal("150000.00")
    assert remittance.payer.payer_id == "999"
    (plb,) = remittance.provider_adjustments
    assert (plb.reason, plb.reference, plb.amount) == ("CV", "CP", Decimal("-1.27"))
    first, second = remittance.claims
    assert first.paid == Decimal("138018.40")
    assert first.patient_responsibility == Decimal("0.00")
    assert first.adjustments == (Adjustment("CO", "45", Decimal("73348.57")),)
    assert second.remarks == ("MA02",)
    assert second.statement_from == date(2002, 5, 12)


def test_secondary_sample_reads_both_claims_and_line_modifiers(sample_text):
    remittance = read_835(sample_text("lfh-secondary-payment.835"))

    assert remittance.payment.amount == Decimal("1222.00")
    assert [c.paid for c in remittance.claims] == [Decimal("912.00"), Decimal("310.00")]
    assert remittance.claims[1].service_lines[0].procedure == Procedure("HC", "12345", ("26",))


def test_tertiary_sample_reports_service_line_without_procedure_code(sample_text):
    remittance = read_835(sample_text("lfh-tertiary-payment.835"))

    assert remittance.payment.amount == Decimal("187.50")
    assert remittance.claims[0].paid == Decimal("187.50")
    assert any("SVC01 'HC' carries no procedure code" in p.message for p in remittance.problems)


def test_pyx12_sample_reads_a_denied_claim_with_three_lines(sample_text):
    remittance = read_835(sample_text("pyx12-835_mult_loops.txt"))

    assert remittance.payment.handling_code == "H"
    assert remittance.payment.amount == Decimal("0.00")
    (claim,) = remittance.claims
    assert claim.status_code == "4"
    assert len(claim.service_lines) == 3
    assert claim.service_lines[0].adjustments == (Adjustment("CO", "16", Decimal("500.04")),)
    assert [line.remarks for line in claim.service_lines] == [("N14",)] * 3
    assert claim.service_lines[1].service_date == date(2003, 10, 30)


def test_text_without_an_835_transaction_raises_x12_error(era):
    claim_file = era("CLP*A1*1*100*100**12*PCN1").replace("ST*835", "ST*837")

    with pytest.raises(X12Error, match="no ST\\*835"):
        read_835_file(claim_file)


@pytest.mark.parametrize("text", ["", "hello world", "ISA*00*short", "\x00\x01\x02garbage"])
def test_garbage_raises_x12_error_not_something_else(text):
    with pytest.raises(X12Error):
        read_835_file(text)


def test_truncated_file_is_read_with_a_problem_instead_of_failing(sample_text):
    text = sample_text("k835-united_healthcare_legacy_sample.txt")
    truncated = text[: text.index("CLP*001-18604-358")]

    remittance = read_835(truncated)

    assert len(remittance.claims) == 1
    assert any("ends before" in p.message for p in remittance.problems)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_cut_and_every_corruption_of_a_sample_is_read_or_rejected_as_x12(sample_text, name):
    text = sample_text(name)
    rng = random.Random(name)
    damaged = [text[:cut] for cut in range(0, len(text), 23)]
    for _ in range(40):
        chars = list(text)
        for _ in range(8):
            chars[rng.randrange(len(chars))] = rng.choice("*~:>^0123456789.-AZ \n")
        damaged.append("".join(chars))
    for variant in damaged:
        with contextlib.suppress(X12Error):
            read_835_file(variant)


def test_bad_amount_becomes_a_problem_and_reads_as_zero(era):
    remittance = read_835(era("CLP*A1*1*100*12,50**12*PCN1"))

    assert remittance.claims[0].paid == Decimal("0.00")
    (problem,) = [p for p in remittance.problems if p.kind == "invalid-amount"]
    assert problem.segment_id == "CLP"
    assert problem.policy == "hold"
    assert "'12,50' is not an amount" in problem.message


def test_amount_with_three_decimals_is_rounded_half_up_and_reported(era):
    remittance = read_835(era("CLP*A1*1*100.005*100**12*PCN1"))

    assert remittance.claims[0].total_charge == Decimal("100.01")
    (problem,) = [p for p in remittance.problems if p.kind == "rounded-amount"]
    assert "more than two decimals" in problem.message


def test_cas_reads_all_six_triplets_with_quantities(era):
    cas = "CAS*CO*45*1*1*253*2**59*3**97*4*2*16*5**A2*6"
    remittance = read_835(era("CLP*A1*1*121*100**12*PCN1", cas))

    adjustments = remittance.claims[0].adjustments
    assert [a.reason for a in adjustments] == ["45", "253", "59", "97", "16", "A2"]
    assert sum(a.amount for a in adjustments) == Decimal("21.00")
    assert adjustments[0].quantity == Decimal("1")
    assert adjustments[3].quantity == Decimal("2")
    assert adjustments[1].quantity is None


def test_unknown_cas_group_is_kept_and_reported(era):
    remittance = read_835(era("CLP*A1*1*100*90**12*PCN1", "CAS*XX*45*10", total="90.00"))

    assert remittance.claims[0].adjustments[0].group == "XX"
    (problem,) = remittance.problems
    assert (problem.kind, problem.policy) == ("unknown-code", "flag")
    assert "CAS01 group 'XX'" in problem.message


def test_line_without_service_date_takes_the_claim_statement_date(era):
    remittance = read_835(
        era("CLP*A1*1*100*100**12*PCN1", "DTM*232*20240102", "SVC*HC:99213*100*100")
    )

    line = remittance.claims[0].service_lines[0]
    assert line.service_date == date(2024, 1, 2)
    assert line.units == Decimal("1")


def test_service_date_range_in_rd8_form_is_read(era):
    remittance = read_835(
        era("CLP*A1*1*100*100**12*PCN1", "SVC*HC:99213*100*100", "DTM*472***RD8*20240103-20240105")
    )

    line = remittance.claims[0].service_lines[0]
    assert (line.service_date, line.service_end_date) == (date(2024, 1, 3), date(2024, 1, 5))


def test_original_procedure_code_from_svc06_is_kept(era):
    remittance = read_835(era("CLP*A1*1*100*100**12*PCN1", "SVC*HC:99214*100*100**1*HC:99215:25"))

    line = remittance.claims[0].service_lines[0]
    assert line.procedure == Procedure("HC", "99214")
    assert line.original_procedure == Procedure("HC", "99215", ("25",))


def test_two_transactions_in_one_file_read_as_two_remittances(era):
    text = era("CLP*A1*1*100*100**12*PCN1", control="0001") + era(
        "CLP*B2*1*50*50**12*PCN2", total="50.00", control="0002"
    )

    first, second = read_835_file(text)

    assert (first.control_number, second.control_number) == ("0001", "0002")
    assert [c.claim_id for c in second.claims] == ["B2"]
    with pytest.raises(X12Error, match="read_835_file"):
        read_835(text)


def test_transaction_without_bpr_or_claims_reports_both(era):
    text = era().replace("BPR*I*100.00*C*ACH************20240115~\n", "")

    remittance = read_835(text)

    assert remittance.payment.amount == Decimal("0.00")
    messages = " ".join(p.message for p in remittance.problems)
    assert "no BPR" in messages
    assert "no claim payments" in messages
