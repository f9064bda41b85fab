"""The appeal packet and the patient statement render to PDFs whose text holds the facts."""

import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from claimflow_remittance.domain.appeals import (
    AppealLine,
    AppealPacketError,
    build_appeal_packet,
    slots_for,
)
from claimflow_remittance.domain.contacts import Contact
from claimflow_remittance.domain.denial_queue import denial_item
from claimflow_remittance.domain.documents import (
    StatementDocument,
    render_appeal_packet,
    render_patient_statement,
)
from claimflow_remittance.domain.patient_accounts import (
    PatientCharge,
    PatientPayment,
    build_statement,
    create_payment_plan,
    record_plan_payment,
)
from claimflow_shared.codes import AdjustmentGroup
from claimflow_shared.events import ClaimDenied, RemittanceAdjustment

D = Decimal
PRACTICE = Contact("Riverside Family Clinic", ("12 Elm Street", "Springfield, IL 62701"),
                   "1234567893", "217-555-0100")  # fmt: skip
PAYER = Contact("Acme Health Plan", ("PO Box 100", "Chicago, IL 60601"), "ACME1")


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def squeeze(text: str) -> str:
    return " ".join(text.split())


def denial():
    event = ClaimDenied(
        claim_id="CLM-2024-0042",
        payer_claim_number="ICN99887766",
        adjustments=[
            RemittanceAdjustment(group=AdjustmentGroup("CO"), carc="50", amount=D("180.00"))
        ],
        rarcs=["N115"],
        denied_amount=D("180.00"),
        category="medical-necessity",
        recommended_action="Appeal with clinical documentation",
        appealable=True,
    )
    return denial_item(
        item_id="d1", tenant_id="t1", denied=event, denied_on=date(2024, 4, 2), payer_id="ACME1"
    )


ARGUMENTS = {
    "Clinical summary": "Three weeks of worsening shortness of breath with low oxygen saturation.",
    "Why the service was necessary": "The echocardiogram found the heart failure that was treated.",
    "Coverage policy met": "Policy CP-114 section 2 criteria a and c are documented.",
}


def packet(**overrides):
    args = {
        "practice": PRACTICE,
        "payer": PAYER,
        "patient_name": "Zoë Álvarez",
        "member_id": "XJ4410021",
        "total_charge": D("260.00"),
        "paid": D("80.00"),
        "lines": [
            AppealLine("99214", ("25",), date(2024, 3, 1), D("80.00"), D("80.00")),
            AppealLine("93306", (), date(2024, 3, 1), D("180.00"), D("0.00"), ("50",)),
        ],
        "arguments": ARGUMENTS,
        "attachments": ["Office note of 03/01/2024", "Echocardiogram report"],
        "prepared_by": "Ana Biller",
        "prepared_on": date(2024, 4, 10),
    } | overrides
    return build_appeal_packet(denial(), **args)


def test_appeal_packet_pdf_holds_claim_facts_reasons_arguments_and_attachments():
    text = squeeze(pdf_text(render_appeal_packet(packet())))

    for fact in (
        "Riverside Family Clinic",
        "Acme Health Plan",
        "CLM-2024-0042",
        "ICN99887766",
        "XJ4410021",
        "Zoë Álvarez",
        "03/01/2024",
        "$260.00",
        "$180.00",
        "93306",
        "The payer did not find the service medically necessary (reason code 50).",
        "N115",
        "Echocardiogram report",
        "Policy CP-114 section 2",
        "Appeal due by 09/29/2024",
    ):
        assert fact in text, fact
    for heading in ARGUMENTS:
        assert heading in text


def test_names_beyond_latin_1_are_printed_without_their_accents():
    text = squeeze(pdf_text(render_appeal_packet(packet(patient_name="Nguyễn Thị Lan"))))

    assert "Nguyen Thi Lan" in text


def test_appeal_packet_with_an_empty_argument_slot_is_refused():
    with pytest.raises(AppealPacketError, match="Coverage policy met"):
        packet(arguments={k: v for k, v in ARGUMENTS.items() if k != "Coverage policy met"})


def test_appeal_packet_refuses_an_argument_no_slot_asks_for():
    with pytest.raises(AppealPacketError, match="no slot"):
        packet(arguments=ARGUMENTS | {"Feelings": "unfair"})


def test_each_category_has_argument_slots_and_unknown_ones_get_the_general_slot():
    assert [s.heading for s in slots_for("timely-filing")] == ["Proof of timely filing"]
    assert [s.heading for s in slots_for("no-such-category")] == ["Why the decision should change"]


def test_patient_statement_pdf_shows_visits_insurance_owed_aging_plan_and_how_to_pay():
    charges = [
        PatientCharge("t1", "MRN7", "C1", date(2024, 1, 8), D("250.00"), D("150.00"),
                      D("40.00"), D("60.00"), date(2024, 1, 30), "New patient visit"),
        PatientCharge("t1", "MRN7", "C2", date(2024, 3, 4), D("120.00"), D("90.00"),
                      D("10.00"), D("20.00"), date(2024, 3, 20), "Lab work"),
    ]  # fmt: skip
    payments = [PatientPayment("p1", "t1", "MRN7", date(2024, 2, 15), D("25.00"))]
    statement = build_statement(
        tenant_id="t1", patient_key="MRN7", charges=charges, payments=payments,
        as_of=date(2024, 4, 1),
    )  # fmt: skip
    plan = create_payment_plan(
        plan_id="pl1", tenant_id="t1", patient_key="MRN7", total=statement.total_due, count=2,
        first_due=date(2024, 4, 15),
    )  # fmt: skip
    plan = record_plan_payment(plan, amount=D("10.00"), on=date(2024, 3, 30))
    document = StatementDocument(
        statement=statement,
        practice=PRACTICE,
        patient=Contact("Mary Dough", ("4 Oak Lane", "Springfield, IL 62702"), "A-000731"),
        how_to_pay=("Pay online at pay.riverside.example", "Or call 217-555-0100"),
        plan=plan,
    )

    text = squeeze(pdf_text(render_patient_statement(document)))

    for fact in (
        "Mary Dough",
        "A-000731",
        "New patient visit",
        "Lab work",
        "01/08/2024",
        "$150.00",
        "$35.00",  # January visit: 60 owed less 25 paid
        "Amount due $55.00",
        "Insurance paid in total: $240.00",
        "61-90",
        "Please pay by 05/01/2024",
        "Pay online at pay.riverside.example",
        "$27.50",  # each instalment of the plan
    ):
        assert fact in text, fact
    assert statement.aging["61-90"] == D("35.00")
    assert statement.aging["0-30"] == D("20.00")
