from datetime import date
from decimal import Decimal

import pytest

from claimflow_claims.adapters.x12.reader_277ca import read_277ca
from claimflow_claims.adapters.x12.reader_999 import read_999
from claimflow_claims.domain import AckStatus, ClaimOutcome
from claimflow_shared.x12 import X12Error

ISA = "ISA*00*          *00*          *ZZ*CLEARHOUSE     *ZZ*CLAIMFLOW      *250313*1000*^*00501*000000077*0*T*:~"  # noqa: E501


def interchange(*body: str, functional_id: str = "FA") -> str:
    gs = f"GS*{functional_id}*CLEARHOUSE*CLAIMFLOW*20250313*1000*77*X*005010X231A1~"
    return "\n".join([ISA, gs, *body, "GE*1*77~", "IEA*1*000000077~"])


# --- 999, public samples ---------------------------------------------------------------------


def test_accepted_999_sample_accepts_its_transaction_set(x12_samples):
    ack = read_999((x12_samples / "acks" / "ims-x12_999_accepted.txt").read_text())
    [group] = ack.groups
    assert (group.functional_id, group.control_number) == ("HC", "17456")
    assert group.status is AckStatus.ACCEPTED
    assert (group.included, group.received, group.accepted) == (1, 1, 1)
    [ts] = group.transaction_sets
    assert (ts.transaction_set_id, ts.control_number) == ("837", "0001")
    assert ts.status is AckStatus.ACCEPTED and ts.accepted
    assert ts.reasons() == [] and ack.problems == ()


def test_rejected_999_sample_rejects_with_its_segment_error(x12_samples):
    ack = read_999((x12_samples / "acks" / "ims-x12_999_rejected.txt").read_text())
    [ts] = ack.transaction_sets
    assert (ts.control_number, ts.group_control_number) == ("0028", "28")
    assert ts.status is AckStatus.REJECTED and not ts.accepted
    assert ts.error_codes == ("5",)
    [error] = ts.segment_errors
    assert (error.segment_id, error.position, error.error_code) == ("NM", "17", "1")
    assert ts.reasons() == [
        "999 IK5 5 (one or more segments in error)",
        "999 IK3 NM (segment 17): 1 (unknown segment)",
    ]
    assert ack.groups[0].status is AckStatus.REJECTED


def test_999_transaction_is_found_by_group_and_control_number(x12_samples):
    ack = read_999((x12_samples / "acks" / "ims-x12_999_rejected.txt").read_text())
    assert ack.for_transaction(group_control_number="28", control_number="0028") is not None
    assert ack.for_transaction(group_control_number="29", control_number="0028") is None


# --- 999, shapes the samples do not show ---------------------------------------------------


def test_999_element_errors_and_claim_context_are_attached_to_their_segment():
    text = interchange(
        "ST*999*0001*005010X231A1~",
        "AK1*HC*1001*005010X222A1~",
        "AK2*837*0001*005010X222A1~",
        "IK3*DMG*18*2010BA*8~",
        "CTX*CLM01:CLM-1001~",
        "IK4*2*1251*8*19801315~",
        "IK4*3*1068*7*Q~",
        "IK5*R*5~",
        "AK9*R*1*1*0~",
        "SE*9*0001~",
    )
    [ts] = read_999(text).transaction_sets
    [error] = ts.segment_errors
    assert error.claim_id == "CLM-1001"
    assert error.loop_id == "2010BA"
    assert [(e.data_element, e.error_code, e.bad_value) for e in error.element_errors] == [
        ("1251", "8", "19801315"),
        ("1068", "7", "Q"),
    ]
    assert "element 2: 8 (invalid date) value '19801315'" in ts.reasons()[1]


def test_999_accepted_with_errors_counts_as_accepted():
    text = interchange(
        "ST*999*0001*005010X231A1~",
        "AK1*HC*1001*005010X222A1~",
        "AK2*837*0001*005010X222A1~",
        "IK3*REF*12**I9~",
        "IK5*E*I5~",
        "AK9*E*1*1*1~",
        "SE*7*0001~",
    )
    [ts] = read_999(text).transaction_sets
    assert ts.status is AckStatus.ACCEPTED_WITH_ERRORS and ts.accepted


def test_999_partial_group_acceptance_keeps_each_transaction_verdict():
    text = interchange(
        "ST*999*0001*005010X231A1~",
        "AK1*HC*1001*005010X222A1~",
        "AK2*837*0001*005010X222A1~",
        "IK5*A~",
        "AK2*837*0002*005010X222A1~",
        "IK3*CLM*40**8~",
        "IK5*R*5~",
        "AK9*P*2*2*1~",
        "SE*9*0001~",
    )
    ack = read_999(text)
    assert ack.groups[0].status is AckStatus.PARTIALLY_ACCEPTED
    assert [ts.status for ts in ack.transaction_sets] == [AckStatus.ACCEPTED, AckStatus.REJECTED]


def test_999_without_ik5_takes_the_group_verdict_and_says_so():
    text = interchange(
        "ST*999*0001*005010X231A1~",
        "AK1*HC*1001*005010X222A1~",
        "AK2*837*0001*005010X222A1~",
        "AK9*A*1*1*1~",
        "SE*5*0001~",
    )
    ack = read_999(text)
    assert ack.transaction_sets[0].status is AckStatus.ACCEPTED
    assert ack.problems == ("transaction set 0001: IK5 missing",)


def test_999_without_any_verdict_counts_as_rejected():
    text = interchange(
        "ST*999*0001*005010X231A1~",
        "AK1*HC*1001*005010X222A1~",
        "AK2*837*0001*005010X222A1~",
        "SE*4*0001~",
    )
    ack = read_999(text)
    assert ack.transaction_sets[0].status is AckStatus.REJECTED
    assert "group 1001: AK9 missing" in ack.problems


def test_reading_a_277ca_as_a_999_is_refused(x12_samples):
    with pytest.raises(X12Error, match="999"):
        read_999((x12_samples / "acks" / "ims-x12_277CA_accepted.txt").read_text())


# --- 277CA, public samples -------------------------------------------------------------------


def test_accepted_277ca_sample_accepts_the_claim(x12_samples):
    [status] = read_277ca((x12_samples / "acks" / "ims-x12_277CA_accepted.txt").read_text())
    assert status.claim_id == "5781"
    assert status.outcome is ClaimOutcome.ACCEPTED
    assert [str(code) for code in status.status_codes] == ["A2:20"]
    assert status.payer_claim_number == "1107000000014420"
    assert status.status_date == date(2011, 3, 11)
    assert status.total_charge == Decimal("125")


def test_rejected_277ca_sample_rejects_the_claim_with_its_reason(x12_samples):
    # This sample uses `|` as its component separator (ISA16).
    [status] = read_277ca((x12_samples / "acks" / "ims-x12_277CA_rejected.txt").read_text())
    assert status.claim_id == "3920394930203"
    assert status.outcome is ClaimOutcome.REJECTED
    [code] = status.status_codes
    assert (code.category, code.status, code.entity) == ("A7", "562", "85")
    assert status.reasons() == ["277CA STC A7:562:85 (rejected for invalid information)"]


def test_batch_level_status_is_not_mistaken_for_a_claim(x12_samples):
    # Both samples carry an A1 at the information-receiver level; only the PT level is a claim.
    statuses = read_277ca((x12_samples / "acks" / "ims-x12_277CA_accepted.txt").read_text())
    assert [s.claim_id for s in statuses] == ["5781"]


def test_reading_a_999_as_a_277ca_is_refused(x12_samples):
    with pytest.raises(X12Error, match="277"):
        read_277ca((x12_samples / "acks" / "ims-x12_999_accepted.txt").read_text())


# --- 277CA, shapes the samples do not show -------------------------------------------------

_277CA_HEAD = [
    "ST*277*0001*005010X214~",
    "BHT*0085*08*BATCH1*20250313*1000*TH~",
    "HL*1**20*1~",
    "NM1*PR*2*HARBOR HEALTH PLAN*****PI*60054~",
    "HL*2*1*21*1~",
    "NM1*41*2*CLAIMFLOW BILLING*****46*CLAIMFLOW~",
    "TRN*2*0000010010001~",
    "STC*A1:19*20250313*WQ*288~",
    "HL*3*2*19*1~",
    "NM1*85*2*HARBOR FAMILY MEDICINE*****XX*1234567893~",
]


def test_each_patient_level_is_one_claim_in_file_order():
    text = interchange(
        *_277CA_HEAD,
        "HL*4*3*PT~",
        "NM1*QC*1*RIVERA*ANN****MI*HHP123456~",
        "TRN*2*CLM-1~",
        "STC*A2:20*20250313*WQ*190~",
        "REF*1K*PAYER-1~",
        "HL*5*3*PT~",
        "NM1*QC*1*LOPEZ*SAM****MI*HHP123456~",
        "TRN*2*CLM-2~",
        "STC*A3:21:85*20250313*U*98~",
        "SE*18*0001~",
        functional_id="HN",
    )
    statuses = read_277ca(text)
    assert [(s.claim_id, s.outcome) for s in statuses] == [
        ("CLM-1", ClaimOutcome.ACCEPTED),
        ("CLM-2", ClaimOutcome.REJECTED),
    ]
    assert statuses[1].payer_claim_number is None


def test_any_rejecting_status_rejects_the_claim():
    text = interchange(
        *_277CA_HEAD,
        "HL*4*3*PT~",
        "TRN*2*CLM-1~",
        "STC*A1:19*20250313*WQ*190******A6:35:IL~",
        "SE*14*0001~",
        functional_id="HN",
    )
    [status] = read_277ca(text)
    assert [str(c) for c in status.status_codes] == ["A1:19", "A6:35:IL"]
    assert status.outcome is ClaimOutcome.REJECTED


def test_line_statuses_do_not_change_the_claim_status():
    text = interchange(
        *_277CA_HEAD,
        "HL*4*3*PT~",
        "TRN*2*CLM-1~",
        "STC*A2:20*20250313*WQ*190~",
        "REF*1K*PAYER-1~",
        "SVC*HC:99213:25*98~",
        "STC*A7:454*20250313*WQ~",
        "REF*FJ*1~",
        "DTP*472*D8*20250310~",
        "SE*18*0001~",
        functional_id="HN",
    )
    [status] = read_277ca(text)
    assert status.outcome is ClaimOutcome.ACCEPTED
    assert status.payer_claim_number == "PAYER-1"
    [line] = status.lines
    assert (line.procedure, line.charge, line.line_control_number) == (
        "HC:99213:25",
        Decimal("98"),
        "1",
    )
    assert line.outcome is ClaimOutcome.REJECTED


def test_unknown_status_category_leaves_the_claim_pending():
    text = interchange(
        *_277CA_HEAD,
        "HL*4*3*PT~",
        "TRN*2*CLM-1~",
        "STC*P1:20*20250313*WQ*190~",
        "SE*12*0001~",
        functional_id="HN",
    )
    assert read_277ca(text)[0].outcome is ClaimOutcome.PENDING
