import json
from datetime import date
from decimal import Decimal

import pytest

from claimflow_remittance.domain.denials import categorize_denial
from claimflow_remittance.domain.era_reader import read_835
from claimflow_remittance.domain.events import (
    adjustment_group,
    claim_denied_payload,
    patient_balance_payload,
    remittance_received_payload,
)
from claimflow_remittance.domain.posting import all_adjustments, post_claim_payment
from claimflow_shared.codes import AdjustmentGroup
from claimflow_shared.events.models import Address, Patient, Sex

PATIENT = Patient(
    mrn="MRN-1",
    first_name="Cool",
    last_name="Mr",
    birth_date=date(1970, 1, 1),
    sex=Sex.MALE,
    address=Address(line1="1 Main St", city="Chicago", state="IL", postal_code="60601"),
)


def test_remittance_received_carries_claim_lines_and_payment(sample_text):
    remittance = read_835(sample_text("k835-united_healthcare_legacy_sample.txt"))
    payment = remittance.claims[1]

    event = remittance_received_payload(
        remittance, payment, post_claim_payment(payment), file_id="era-42"
    )

    assert event.claim_id == "001-18604-358"
    assert event.payer_claim_number == "ATL2819897800"
    assert (event.status_code, event.status) == ("1", "paid")
    assert (event.paid, event.allowed) == (Decimal("261.07"), Decimal("376.20"))
    assert event.patient_responsibility == Decimal("115.13")
    assert [line.units for line in event.lines] == [249, 12, 178]
    assert event.lines[2].adjustments[1].group is AdjustmentGroup.PATIENT_RESPONSIBILITY
    assert event.lines[2].adjustments[1].carc == "1"
    assert event.payment.trace_number == "1234567890"
    assert event.payment.payment_date == date(2021, 2, 4)
    assert event.payment.payer_id == "87726"
    assert event.remittance_file_id == "era-42"
    assert json.loads(event.model_dump_json())["paid"] == "261.07"


def test_oa_group_from_real_835s_maps_onto_the_shared_enum(sample_text):
    remittance = read_835(sample_text("lfh-cob-contractural-adjustment.835"))
    payment = remittance.claims[0]

    event = remittance_received_payload(
        remittance, payment, post_claim_payment(payment), file_id="f"
    )

    groups = {a.group for a in event.lines[0].adjustments}
    assert groups == {adjustment_group("OA")}
    assert event.lines[0].adjustments[1].amount == Decimal("-9.00")


def test_unknown_group_cannot_be_mapped_and_says_so():
    with pytest.raises(ValueError, match="'XX'"):
        adjustment_group("XX")


def test_claim_denied_lists_denial_reasons_remarks_and_category(sample_text):
    payment = read_835(sample_text("pyx12-835_mult_loops.txt")).claims[0]
    posting = post_claim_payment(payment)
    category = categorize_denial(all_adjustments(payment), ["N14"])

    event = claim_denied_payload(payment, posting, category)

    assert event.claim_id == "2005555A"
    assert event.denied_amount == Decimal("915.39")
    assert [a.carc for a in event.adjustments] == ["16", "A7", "A7"]
    assert event.rarcs == ["N14"]
    assert event.category == "other"
    assert event.appealable is False


def test_claim_denied_for_partial_payment_leaves_out_paid_lines_write_downs(era):
    payment = read_835(
        era(
            "CLP*A1*1*100*30**12*PCN1",
            "SVC*HC:99213*60*30",
            "CAS*CO*45*30",
            "SVC*HC:99212*40*0",
            "CAS*CO*97*40",
            "LQ*HE*M15",
        )
    ).claims[0]
    posting = post_claim_payment(payment)

    event = claim_denied_payload(payment, posting, categorize_denial(all_adjustments(payment)))

    assert [(a.carc, a.amount) for a in event.adjustments] == [("97", Decimal("40.00"))]
    assert event.denied_amount == Decimal("40.00")
    assert event.category == "bundling"
    assert event.rarcs == ["M15"]


def test_claim_id_the_contract_cannot_carry_is_refused(sample_text):
    remittance = read_835(sample_text("k835-emedny_sample.txt"))
    payment = remittance.claims[1]

    with pytest.raises(ValueError, match="claim_id"):
        claim_denied_payload(
            payment, post_claim_payment(payment), categorize_denial(all_adjustments(payment))
        )


def test_patient_balance_due_carries_patient_share_and_pr_reasons(sample_text):
    payment = read_835(sample_text("k835-united_healthcare_legacy_sample.txt")).claims[1]

    event = patient_balance_payload(payment, post_claim_payment(payment), patient=PATIENT)

    assert event is not None
    assert event.amount == Decimal("115.13")
    assert [(r.carc, r.amount) for r in event.reasons] == [
        ("2", Decimal("5.13")),
        ("1", Decimal("110.00")),
    ]
    assert event.patient == PATIENT


def test_no_patient_balance_when_the_payer_left_nothing_to_the_patient(sample_text):
    payment = read_835(sample_text("lfh-medicare-part-a.835")).claims[0]

    assert patient_balance_payload(payment, post_claim_payment(payment), patient=PATIENT) is None


def test_reversal_yields_no_patient_balance_due(era):
    payment = read_835(era("CLP*A1*22*-100*-80*-20*12*PCN1", "CAS*PR*1*-20")).claims[0]

    assert patient_balance_payload(payment, post_claim_payment(payment), patient=PATIENT) is None
