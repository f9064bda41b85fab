"""PDF documents people read: the appeal packet a payer gets and the statement a patient
gets. Rendered with fpdf2's core fonts, so text is reduced to Latin-1 first."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from claimflow_remittance.domain.aging import BUCKETS
from claimflow_remittance.domain.appeals import AppealPacket
from claimflow_remittance.domain.contacts import Contact
from claimflow_remittance.domain.patient_accounts import PaymentPlan, Statement

_LINE = 5.5
_TYPOGRAPHY = str.maketrans(
    {
        "\u2013": "-",
        "\u2014": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2022": "-",
        "\u2026": "...",
    }
)


def render_appeal_packet(packet: AppealPacket) -> bytes:
    """The appeal letter with claim facts, reasons, arguments and the attachments list."""
    pdf = _document(f"Appeal of claim {packet.claim_id}")
    _address_block(pdf, packet.practice)
    pdf.ln(4)
    _text(pdf, packet.prepared_on.strftime("%d %B %Y"))
    pdf.ln(2)
    _address_block(pdf, packet.payer)
    pdf.ln(4)
    _heading(pdf, f"Request for reconsideration (level {packet.level} appeal)")
    _facts(
        pdf,
        [
            ("Patient", packet.patient_name),
            ("Member id", packet.member_id),
            ("Our claim number", packet.claim_id),
            ("Payer claim number", packet.payer_claim_number or "not given"),
            ("Dates of service", _period(packet.service_from, packet.service_to)),
            ("Billed", _money(packet.total_charge)),
            ("Paid", _money(packet.paid)),
            ("Denied", _money(packet.denied_amount)),
            ("Date of denial", _day(packet.denied_on)),
            ("Appeal due by", _day(packet.appeal_deadline) if packet.appeal_deadline else "-"),
        ],
    )
    _heading(pdf, "Services")
    _table(
        pdf,
        ("Date", "Code", "Modifiers", "Billed", "Paid", "Reason codes"),
        [
            (
                _day(line.service_date) if line.service_date else "-",
                line.code,
                " ".join(line.modifiers) or "-",
                _money(line.charge),
                _money(line.paid),
                " ".join(line.carcs) or "-",
            )
            for line in packet.lines
        ],
        widths=(26, 22, 24, 28, 28, 52),
    )
    _heading(pdf, "The denial as we understand it")
    for reason in packet.denial_reasons:
        _text(pdf, f"- {reason[0].upper()}{reason[1:]}.")
    if packet.rarcs:
        _text(pdf, f"- Remark codes on the remittance: {', '.join(packet.rarcs)}.")
    _heading(pdf, "Why the claim should be paid")
    for slot in packet.arguments:
        pdf.set_font("Helvetica", "B", 10)
        _text(pdf, slot.heading)
        pdf.set_font("Helvetica", "", 10)
        _text(pdf, slot.text)
        pdf.ln(1)
    _heading(pdf, "Attachments")
    for number, name in enumerate(packet.attachments, start=1):
        _text(pdf, f"{number}. {name}")
    if not packet.attachments:
        _text(pdf, "None.")
    pdf.ln(4)
    _text(pdf, f"Prepared by {packet.prepared_by} for {packet.practice.name}.")
    return bytes(pdf.output())


@dataclass(frozen=True)
class StatementDocument:
    statement: Statement
    practice: Contact
    patient: Contact  # name and mailing address; identifier = the patient's account number
    how_to_pay: tuple[str, ...]
    plan: PaymentPlan | None = None


def render_patient_statement(document: StatementDocument) -> bytes:
    """The statement: visits, what insurance paid, what is owed, aging, plan, how to pay."""
    statement = document.statement
    pdf = _document("Patient statement")
    _address_block(pdf, document.practice)
    pdf.ln(4)
    _address_block(pdf, document.patient, with_identifier=False)
    pdf.ln(4)
    _heading(pdf, "Statement")
    _facts(
        pdf,
        [
            ("Account", document.patient.identifier or statement.patient_key),
            ("Statement date", _day(statement.statement_date)),
            ("Amount due", _money(statement.total_due)),
            ("Please pay by", _day(statement.due_by)),
        ],
    )
    _heading(pdf, "Your visits")
    _table(
        pdf,
        ("Visit", "Service", "Charges", "Insurance paid", "Adjusted", "You paid", "You owe"),
        [
            (
                _day(line.service_date),
                line.description,
                _money(line.charge),
                _money(line.insurance_paid),
                _money(line.adjustments),
                _money(line.patient_paid),
                _money(line.balance),
            )
            for line in statement.lines
        ],
        widths=(24, 38, 22, 28, 22, 22, 24),
    )
    _text(pdf, f"Insurance paid in total: {_money(statement.insurance_paid)}")
    if statement.credit > 0:
        _text(pdf, f"Credit on your account: {_money(statement.credit)}")
    _heading(pdf, "How long it has been owed (days)")
    _table(pdf, BUCKETS, [tuple(_money(statement.aging[b]) for b in BUCKETS)], widths=(36,) * 5)
    if document.plan is not None:
        _heading(pdf, "Your payment plan")
        _table(
            pdf,
            ("Instalment", "Due", "Amount", "Paid"),
            [
                (str(i.number), _day(i.due_on), _money(i.amount), _money(i.paid))
                for i in document.plan.instalments
            ],
            widths=(30, 40, 40, 40),
        )
    _heading(pdf, "How to pay")
    for line in document.how_to_pay:
        _text(pdf, line)
    return bytes(pdf.output())


def _document(title: str) -> FPDF:
    pdf = FPDF(format="Letter")
    pdf.set_title(_latin1(title))
    pdf.set_creator("ClaimFlow")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "", 10)
    return pdf


def _latin1(value: str) -> str:
    """Core PDF fonts cover Latin-1 only: typographic marks simplified, the rest stripped."""
    text = str(value).translate(_TYPOGRAPHY)
    if all(ord(ch) < 256 for ch in text):
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ord(ch) < 256 and not unicodedata.combining(ch))


def _text(pdf: FPDF, value: str) -> None:
    pdf.multi_cell(0, _LINE, _latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _heading(pdf: FPDF, value: str) -> None:
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 12)
    _text(pdf, value)
    pdf.set_font("Helvetica", "", 10)


def _address_block(pdf: FPDF, contact: Contact, *, with_identifier: bool = True) -> None:
    pdf.set_font("Helvetica", "B", 10)
    _text(pdf, contact.name)
    pdf.set_font("Helvetica", "", 10)
    for line in contact.address:
        _text(pdf, line)
    if contact.phone:
        _text(pdf, f"Phone {contact.phone}")
    if with_identifier and contact.identifier:
        _text(pdf, f"Id {contact.identifier}")


def _facts(pdf: FPDF, facts: Sequence[tuple[str, str]]) -> None:
    for label, value in facts:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(45, _LINE, _latin1(label))
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(0, _LINE, _latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(
    pdf: FPDF, header: Sequence[str], rows: Sequence[Sequence[str]], *, widths: Sequence[int]
) -> None:
    pdf.set_font("Helvetica", "B", 9)
    for title, width in zip(header, widths, strict=True):
        pdf.cell(width, _LINE, _latin1(title), border="B")
    pdf.ln(_LINE)
    pdf.set_font("Helvetica", "", 9)
    for row in rows:
        for value, width in zip(row, widths, strict=True):
            pdf.cell(width, _LINE, _latin1(value)[: int(width / 1.8)])
        pdf.ln(_LINE)
    pdf.set_font("Helvetica", "", 10)


def _money(amount: Decimal) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def _day(value: date) -> str:
    return value.strftime("%m/%d/%Y")


def _period(start: date | None, end: date | None) -> str:
    if start is None:
        return "-"
    return _day(start) if end in (None, start) else f"{_day(start)} to {_day(end)}"
