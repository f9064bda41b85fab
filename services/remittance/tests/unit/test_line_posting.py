from datetime import date
from decimal import Decimal

from claimflow_remittance.domain.era_model import Adjustment
from claimflow_remittance.domain.era_reader import read_835
from claimflow_remittance.domain.line_posting import post_service_lines, total_adjustments
from claimflow_remittance.domain.matching import SubmittedClaim, SubmittedLine

D = Decimal


def test_each_line_posts_paid_allowed_writeoff_patient_share_and_rarcs(era):
    text = era(
        "CLP*C1*1*300*150*50*12*PCN1",
        "SVC*HC:99214:25*200*120",
        "DTM*472*20240110",
        "CAS*CO*45*40",
        "CAS*PR*2*40",
        "AMT*B6*160",
        "LQ*HE*N130",
        "SVC*HC:93000*100*30",
        "DTM*472*20240110",
        "CAS*CO*45*20*1*50*40",
        "CAS*PR*1*10",
        total="150.00",
    )
    (clp,) = read_835(text).claims

    posting = post_service_lines(clp)

    first, second = posting.lines
    assert (first.code, first.modifiers) == ("99214", ("25",))
    assert (first.paid, first.allowed) == (D("120.00"), D("160.00"))
    assert first.contractual_writeoff == D("40.00")
    assert first.patient_responsibility == D("40.00")
    assert first.denied == D("0.00")
    assert first.rarcs == ("N130",)
    assert first.service_date == date(2024, 1, 10)
    # CO-50 is a denial, not a write-down: it is kept apart from the contractual write-off.
    assert second.contractual_writeoff == D("20.00")
    assert second.denied == D("40.00")
    assert second.allowed == D("40.00")
    assert second.adjustments.by_carc[("CO", "50")] == D("40.00")
    assert second.adjustments.by_carc[("CO", "45")] == D("20.00")
    assert posting.paid == D("150.00")
    assert posting.patient_responsibility == D("50.00")
    assert posting.contractual_writeoff == D("60.00")


def test_adjustment_totals_split_every_group_and_carc():
    totals = total_adjustments(
        [
            Adjustment("CO", "45", D("10.00")),
            Adjustment("CO", "45", D("5.00")),
            Adjustment("OA", "23", D("7.00")),
            Adjustment("PI", "97", D("3.00")),
            Adjustment("PR", "3", D("20.00")),
        ]
    )

    assert dict(totals.by_group) == {
        "CO": D("15.00"),
        "OA": D("7.00"),
        "PI": D("3.00"),
        "PR": D("20.00"),
    }
    assert totals.by_carc[("CO", "45")] == D("15.00")
    assert (totals.contractual_writeoff, totals.patient_responsibility) == (D("15.00"), D("20.00"))
    assert (totals.denied, totals.other) == (D("3.00"), D("7.00"))


def test_lines_are_tied_to_the_submitted_lines_and_strays_go_to_the_work_queue(era):
    submitted = SubmittedClaim(
        "t1",
        "C1",
        D("200"),
        (
            SubmittedLine(1, "99213", (), D("1"), date(2024, 1, 10), D("100")),
            SubmittedLine(2, "36415", (), D("1"), date(2024, 1, 10), D("40")),
        ),
    )
    text = era(
        "CLP*C1*1*200*160**12*PCN1",
        "SVC*HC:99213*100*80",
        "DTM*472*20240110",
        "CAS*CO*45*20",
        "SVC*HC:81002*100*80",
        "DTM*472*20240110",
        "CAS*CO*45*20",
        total="160.00",
    )
    (clp,) = read_835(text).claims

    posting = post_service_lines(clp, submitted)

    assert [line.line_numbers for line in posting.lines] == [(1,), ()]
    assert [line.match for line in posting.lines] == ["exact", None]
    (item,) = posting.work_items
    assert item.kind == "unmatched-line" and item.amount == D("80.00")
    assert posting.unpaid_line_numbers == (2,)


def test_reversal_lines_post_negative_amounts(era):
    text = era(
        "CLP*C1*22*-100*-80**12*PCN1", "SVC*HC:99213*-100*-80", "CAS*CO*45*-20", total="80.00"
    ).replace("BPR*I*80.00*C*", "BPR*I*80.00*D*")
    (clp,) = read_835(text).claims

    (line,) = post_service_lines(clp).lines

    assert (line.paid, line.contractual_writeoff, line.allowed) == (
        D("-80.00"),
        D("-20.00"),
        D("-80.00"),
    )
