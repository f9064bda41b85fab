"""The denial work queue's commands: assign, note, act (correct and resubmit, appeal, write
off, bill the patient) and prepare an appeal packet. Each runs in one unit of work, records
who did it (the authenticated principal) in the item's audit trail, and an action publishes
`denial.worked`, which the claims stage carries out (a frequency-7 claim, an appeal on file,
a claim closed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import ValidationError

from claimflow_remittance.adapters.tables import (
    AppealPacketRow,
    DenialAuditRow,
    DenialItemRow,
    DenialNoteRow,
)
from claimflow_remittance.domain.appeals import AppealLine, build_appeal_packet
from claimflow_remittance.domain.contacts import Contact
from claimflow_remittance.domain.denial_queue import (
    STATUS_AFTER,
    BillPatient,
    DenialActionError,
    DenialItem,
    DenialNotFound,
    FileAppeal,
    QueueAction,
    ResubmitCorrected,
    WriteOff,
    act,
    add_note,
    assign,
)
from claimflow_remittance.domain.patient_accounts import patient_key_for
from claimflow_remittance.unit_of_work import SqlRemittanceUnitOfWork
from claimflow_shared.events import Patient, PatientBalanceDue
from claimflow_shared.events.models import DenialAction, DenialWorked, LineCorrection
from claimflow_shared.topics import DENIAL_WORKED, PATIENT_BALANCE_DUE

ACTIONS: tuple[QueueAction, ...] = tuple(STATUS_AFTER)  # type: ignore[assignment]


def _now() -> datetime:
    return datetime.now(UTC)


def denial_item_of(row: DenialItemRow) -> DenialItem:
    """The queue item as the domain rules see it (notes and audit live in their own rows)."""
    return DenialItem(
        item_id=row.item_id,
        tenant_id=row.tenant_id,
        claim_id=row.claim_id,
        payer_id=row.payer_id,
        payer_name=row.payer_name,
        payer_claim_number=row.payer_claim_number,
        category=row.category,
        carcs=tuple(row.carcs),
        rarcs=tuple(row.rarcs),
        denied_amount=Decimal(row.denied_amount),
        denied_on=row.denied_on,
        appealable=row.appealable,
        recommended_action=row.recommended_action,
        suggested_action=row.suggested_action,
        appeal_deadline=row.appeal_deadline,
        status=row.status,  # type: ignore[arg-type]
        assignee=row.assignee,
    )


async def _item(uow: SqlRemittanceUnitOfWork, tenant_id: str, item_id: str) -> DenialItemRow:
    row = await uow.denials.get(tenant_id, item_id)
    if row is None:
        # Another tenant's item is answered exactly like a missing one.
        raise DenialNotFound(f"denial item {item_id[:40]} not found")
    return row


def _audit(
    row: DenialItemRow, *, at: datetime, by: str, what: str, detail: str = ""
) -> DenialAuditRow:
    row.updated_at = at
    return DenialAuditRow(
        item_id=row.item_id, tenant_id=row.tenant_id, at=at, by=by, what=what, detail=detail[:500]
    )


async def assign_denial(
    uow: SqlRemittanceUnitOfWork, *, tenant_id: str, item_id: str, to: str, by: str
) -> DenialItemRow:
    """Give the item to a biller."""
    row = await _item(uow, tenant_id, item_id)
    at = _now()
    updated = assign(denial_item_of(row), to=to.strip()[:128], by=by, at=at)
    row.assignee = updated.assignee
    uow.denials.add_audit(
        _audit(row, at=at, by=by, what="assigned", detail=updated.audit[-1].detail)
    )
    return row


async def note_denial(
    uow: SqlRemittanceUnitOfWork, *, tenant_id: str, item_id: str, text: str, by: str
) -> DenialItemRow:
    """Add a note to the item."""
    row = await _item(uow, tenant_id, item_id)
    at = _now()
    add_note(denial_item_of(row), text=text, by=by, at=at)  # refuses a blank note
    uow.denials.add_note(DenialNoteRow(item_id=row.item_id, at=at, by=by, text=text.strip()[:4000]))
    uow.denials.add_audit(_audit(row, at=at, by=by, what="noted"))
    return row


async def work_denial(
    uow: SqlRemittanceUnitOfWork,
    *,
    tenant_id: str,
    item_id: str,
    action: str,
    by: str,
    reason: str = "",
    amount: Decimal | None = None,
    corrections: Sequence[Mapping] = (),
) -> DenialItemRow:
    """Take one of the four actions on an open item and publish `denial.worked`."""
    if action not in ACTIONS:
        raise DenialActionError("action", f"must be one of {', '.join(ACTIONS)}")
    row = await _item(uow, tenant_id, item_id)
    claim = await uow.ledger.expected(tenant_id, row.claim_id)
    at = _now()
    line_corrections = _corrections(action, corrections, claim.lines if claim else [])
    outcome = act(
        denial_item_of(row),
        action,  # type: ignore[arg-type]
        by=by,
        at=at,
        reason=reason,
        amount=amount,
    )
    command = outcome.command
    row.status = outcome.item.status
    uow.denials.add_audit(_audit(row, at=at, by=by, what=action, detail=outcome.audit.detail))
    worked = DenialWorked(
        claim_id=row.claim_id,
        action=DenialAction(action),
        payer_claim_number=row.payer_claim_number,
        reason=(reason.strip() or outcome.audit.detail)[:500],
        worked_by=by[:128],
        corrections=line_corrections,
        amount=getattr(command, "amount", None),
    )
    uow.emit(
        DENIAL_WORKED,
        worked,
        tenant_id=row.tenant_id,
        encounter_id=row.encounter_id,
        causation_id=row.denied_event_id,
        detail=action,
    )
    kpi_claim = claim.original_claim_id if claim else row.claim_id
    if isinstance(command, WriteOff | FileAppeal):
        uow.kpis.add_fact(
            _fact(
                row,
                kpi_claim,
                "written-off" if isinstance(command, WriteOff) else "appealed",
                amount=getattr(command, "amount", Decimal("0.00")),
                on=at,
            )
        )
    elif isinstance(command, BillPatient) and claim is not None:
        _bill_patient(uow, row, claim, command, at=at)
    elif isinstance(command, ResubmitCorrected):
        pass  # the frequency-7 claim's own `claim.submitted` is the resubmission fact
    return row


def _corrections(
    action: str, corrections: Sequence[Mapping], claim_lines: list[dict]
) -> list[LineCorrection]:
    if not corrections:
        return []
    if action != "correct-and-resubmit":
        raise DenialActionError("corrections", "only a corrected claim carries line corrections")
    numbers = {line["line_number"] for line in claim_lines}
    found = []
    for index, raw in enumerate(corrections):
        try:
            correction = LineCorrection.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise DenialActionError(f"corrections[{index}].{where}", first["msg"]) from None
        if numbers and correction.line_number not in numbers:
            raise DenialActionError(
                f"corrections[{index}].line_number", "is not a line of the claim"
            )
        found.append(correction)
    return found


def _bill_patient(uow, row: DenialItemRow, claim, command: BillPatient, *, at: datetime) -> None:
    """The denied amount becomes the patient's: a statement line and `patient.balance-due`."""
    service_dates = [line["service_date"] for line in claim.lines if line.get("service_date")]
    service_date = min(service_dates) if service_dates else None
    uow.patients.add_charge(
        dict(
            tenant_id=row.tenant_id,
            patient_key=patient_key_for(row.tenant_id, claim.patient["mrn"]),
            claim_id=claim.original_claim_id,
            encounter_id=row.encounter_id,
            posting_key=f"denial:{row.item_id}",
            service_date=date.fromisoformat(service_date) if service_date else None,
            charge=Decimal("0.00"),
            insurance_paid=Decimal("0.00"),
            adjustments=-command.amount,
            patient_owes=command.amount,
            due_since=at.date(),
            description="Denied by insurance",
        )
    )
    uow.emit(
        PATIENT_BALANCE_DUE,
        PatientBalanceDue(
            claim_id=row.claim_id,
            patient=Patient.model_validate(claim.patient),
            amount=command.amount,
            payer_claim_number=row.payer_claim_number,
        ),
        tenant_id=row.tenant_id,
        encounter_id=row.encounter_id,
        causation_id=row.denied_event_id,
        detail=str(command.amount),
    )


def _fact(row: DenialItemRow, claim_id: str, kind: str, *, amount: Decimal, on: datetime):
    return dict(
        tenant_id=row.tenant_id,
        claim_id=claim_id,
        kind=kind,
        on_date=on.date(),
        payer_id=row.payer_id,
        amount=amount,
        paid=Decimal("0.00"),
        contractual=Decimal("0.00"),
        denied=Decimal("0.00"),
    )


@dataclass(frozen=True)
class ContactIn:
    name: str
    address: tuple[str, ...] = ()
    identifier: str = ""
    phone: str = ""


async def prepare_appeal_packet(
    uow: SqlRemittanceUnitOfWork,
    *,
    tenant_id: str,
    item_id: str,
    arguments: Mapping[str, str],
    attachments: Sequence[str],
    by: str,
    practice: ContactIn | None = None,
    payer: ContactIn | None = None,
) -> bytes:
    """The appeal packet as a PDF: claim facts, the denial reasons in words a payer reads,
    the arguments filled into this category's slots, and the attachments list. Refused
    while a slot is empty; the text as sent is kept with the item."""
    row = await _item(uow, tenant_id, item_id)
    claim = await uow.ledger.expected(tenant_id, row.claim_id)
    postings = await uow.ledger.postings(tenant_id, claim_id=row.claim_id, after_id=0, limit=50)
    posting = next((p for p in postings if p.posting_key == row.posting_key), None)
    lines = await uow.ledger.lines_of(tenant_id, [row.posting_key])
    patient = claim.patient if claim else {}
    packet = build_appeal_packet(
        denial_item_of(row),
        practice=_contact(practice)
        or Contact(
            name=(posting.payee_name if posting else "") or "Billing provider",
            identifier=(claim.billing_npi if claim else "") or "",
        ),
        payer=_contact(payer)
        or Contact(name=row.payer_name or "Payer", identifier=row.payer_id or ""),
        patient_name=f"{patient.get('first_name', '')} {patient.get('last_name', '')}".strip()
        or "-",
        member_id=claim.member_id if claim else "",
        total_charge=Decimal(posting.charge) if posting else Decimal("0.00"),
        paid=Decimal(posting.paid) if posting else Decimal("0.00"),
        lines=[
            AppealLine(
                code=line.code,
                modifiers=tuple(line.modifiers),
                service_date=line.service_date,
                charge=Decimal(line.charge),
                paid=Decimal(line.paid),
                carcs=tuple(
                    dict.fromkeys(a["carc"] for a in line.adjustments if a["group"] != "PR")
                ),
            )
            for line in lines
        ],
        arguments=arguments,
        attachments=attachments,
        prepared_by=by,
        prepared_on=_now().date(),
    )
    # The PDF library (and the imaging library under it) loads on the first document only.
    from claimflow_remittance.domain.documents import render_appeal_packet

    pdf = render_appeal_packet(packet)
    uow.denials.add_packet(
        AppealPacketRow(
            item_id=row.item_id,
            tenant_id=tenant_id,
            arguments={slot.heading: slot.text for slot in packet.arguments},
            attachments=list(packet.attachments),
            prepared_by=by,
        )
    )
    uow.denials.add_audit(
        _audit(row, at=_now(), by=by, what="appeal-packet", detail=f"{len(pdf)} bytes")
    )
    return pdf


def _contact(contact: ContactIn | None) -> Contact | None:
    if contact is None:
        return None
    return Contact(contact.name, tuple(contact.address), contact.identifier, contact.phone)
