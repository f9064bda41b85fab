"""The denial work queue as values: items made from `claim.denied`, filtered, assigned, noted
and acted on. Every change returns a new item with an audit entry; an action also returns the
command the rest of the system carries out (a corrected claim, an appeal, a write-off, a bill).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from claimflow_remittance.domain.denials import appeal_deadline

QueueAction = Literal["correct-and-resubmit", "appeal", "write-off", "bill-patient"]
QueueStatus = Literal["open", "resubmitted", "appealed", "written-off", "billed-to-patient"]
STATUS_AFTER: dict[str, QueueStatus] = {
    "correct-and-resubmit": "resubmitted",
    "appeal": "appealed",
    "write-off": "written-off",
    "bill-patient": "billed-to-patient",
}


class DenialActionError(ValueError):
    """An action the item does not allow; names the field and the reason, never PHI."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class DenialNotFound(LookupError):
    """No such item for this tenant (another tenant's item is reported the same way)."""


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    by: str
    what: str  # assigned, noted, or the action taken
    detail: str = ""


@dataclass(frozen=True)
class Note:
    at: datetime
    by: str
    text: str


@dataclass(frozen=True)
class DenialItem:
    item_id: str
    tenant_id: str
    claim_id: str
    payer_id: str | None
    payer_name: str
    payer_claim_number: str | None
    category: str
    carcs: tuple[str, ...]
    rarcs: tuple[str, ...]
    denied_amount: Decimal
    denied_on: date
    appealable: bool
    recommended_action: str
    suggested_action: str
    appeal_deadline: date | None
    status: QueueStatus = "open"
    assignee: str | None = None
    notes: tuple[Note, ...] = ()
    audit: tuple[AuditEntry, ...] = ()

    def age_days(self, today: date) -> int:
        return (today - self.denied_on).days


def denial_item(
    *,
    item_id: str,
    tenant_id: str,
    denied,
    denied_on: date,
    payer_id: str | None = None,
    payer_name: str = "",
    filing_indicator: str = "",
    suggested_action: str = "review",
) -> DenialItem:
    """A queue item from a `claim.denied` payload (`claimflow_shared.events.ClaimDenied`)."""
    return DenialItem(
        item_id=item_id,
        tenant_id=tenant_id,
        claim_id=denied.claim_id,
        payer_id=payer_id,
        payer_name=payer_name,
        payer_claim_number=denied.payer_claim_number,
        category=denied.category,
        carcs=tuple(dict.fromkeys(a.carc for a in denied.adjustments)),
        rarcs=tuple(denied.rarcs),
        denied_amount=denied.denied_amount,
        denied_on=denied_on,
        appealable=denied.appealable,
        recommended_action=denied.recommended_action,
        suggested_action=suggested_action,
        appeal_deadline=(
            appeal_deadline(denied_on, payer_id=payer_id, filing_indicator=filing_indicator)
            if denied.appealable
            else None
        ),
    )


@dataclass(frozen=True)
class DenialFilter:
    """What a biller asks the queue for; `tenant_id` is required so no view spans tenants."""

    tenant_id: str
    payer_id: str | None = None
    category: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    min_age_days: int | None = None
    max_age_days: int | None = None
    deadline_by: date | None = None  # appeal deadline on or before this day
    statuses: tuple[QueueStatus, ...] = ("open",)
    assignee: str | None = None

    def admits(self, item: DenialItem, today: date) -> bool:
        age = item.age_days(today)
        checks = (
            item.tenant_id == self.tenant_id,
            item.status in self.statuses,
            self.payer_id is None or item.payer_id == self.payer_id,
            self.category is None or item.category == self.category,
            self.min_amount is None or item.denied_amount >= self.min_amount,
            self.max_amount is None or item.denied_amount <= self.max_amount,
            self.min_age_days is None or age >= self.min_age_days,
            self.max_age_days is None or age <= self.max_age_days,
            self.deadline_by is None
            or (item.appeal_deadline is not None and item.appeal_deadline <= self.deadline_by),
            self.assignee is None or item.assignee == self.assignee,
        )
        return all(checks)


def filter_queue(
    items: Iterable[DenialItem], wanted: DenialFilter, *, today: date
) -> list[DenialItem]:
    """The items the filter admits, nearest appeal deadline first, then the most money."""
    found = [item for item in items if wanted.admits(item, today)]
    return sorted(
        found,
        key=lambda i: (i.appeal_deadline or date.max, -i.denied_amount, i.item_id),
    )


def find_item(items: Iterable[DenialItem], *, tenant_id: str, item_id: str) -> DenialItem:
    for item in items:
        if item.item_id == item_id and item.tenant_id == tenant_id:
            return item
    raise DenialNotFound(f"denial item {item_id} not found")


def assign(item: DenialItem, *, to: str, by: str, at: datetime) -> DenialItem:
    if not to.strip():
        raise DenialActionError("assignee", "is blank")
    entry = AuditEntry(at, by, "assigned", f"from {item.assignee or 'nobody'} to {to}")
    return replace(item, assignee=to, audit=(*item.audit, entry))


def add_note(item: DenialItem, *, text: str, by: str, at: datetime) -> DenialItem:
    if not text.strip():
        raise DenialActionError("note", "is blank")
    return replace(
        item,
        notes=(*item.notes, Note(at, by, text.strip())),
        audit=(*item.audit, AuditEntry(at, by, "noted")),
    )


@dataclass(frozen=True)
class ResubmitCorrected:
    """Claims sends a replacement claim: frequency 7, REF*F8 = the payer's claim number."""

    claim_id: str
    original_payer_claim_number: str
    correction: str
    frequency_code: str = "7"


@dataclass(frozen=True)
class FileAppeal:
    claim_id: str
    deadline: date
    level: int = 1
    argument: str = ""


@dataclass(frozen=True)
class WriteOff:
    claim_id: str
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class BillPatient:
    claim_id: str
    amount: Decimal
    reason: str


DenialCommand = ResubmitCorrected | FileAppeal | WriteOff | BillPatient


@dataclass(frozen=True)
class ActionOutcome:
    item: DenialItem
    command: DenialCommand
    audit: AuditEntry


def act(
    item: DenialItem,
    action: QueueAction,
    *,
    by: str,
    at: datetime,
    reason: str = "",
    amount: Decimal | None = None,
) -> ActionOutcome:
    """Take one of the four actions on an open item; DenialActionError when it is not allowed."""
    if item.status != "open":
        raise DenialActionError("status", f"item is {item.status}, not open")
    reason = reason.strip()
    command = _COMMANDS[action](item, at.date(), reason, amount)
    entry = AuditEntry(at, by, action, _describe(command))
    updated = replace(item, status=STATUS_AFTER[action], audit=(*item.audit, entry))
    return ActionOutcome(updated, command, entry)


def _resubmit(item: DenialItem, today: date, reason: str, amount: Decimal | None):
    if not reason:
        raise DenialActionError("reason", "say what was corrected")
    if not item.payer_claim_number:
        raise DenialActionError(
            "payer_claim_number", "a replacement claim must name the payer's claim number"
        )
    return ResubmitCorrected(item.claim_id, item.payer_claim_number, reason)


def _appeal(item: DenialItem, today: date, reason: str, amount: Decimal | None):
    if not item.appealable or item.appeal_deadline is None:
        raise DenialActionError("appealable", "the payer gave no appeal rights for this denial")
    if today > item.appeal_deadline:
        raise DenialActionError("appeal_deadline", f"passed on {item.appeal_deadline}")
    return FileAppeal(item.claim_id, item.appeal_deadline, argument=reason)


def _write_off(item: DenialItem, today: date, reason: str, amount: Decimal | None):
    if not reason:
        raise DenialActionError("reason", "a write-off needs a reason")
    return WriteOff(item.claim_id, _amount(item, amount), reason)


def _bill_patient(item: DenialItem, today: date, reason: str, amount: Decimal | None):
    # Billing a patient for a denied amount is only allowed with grounds (a signed waiver,
    # a non-covered service the plan excludes): the biller must state them.
    if not reason:
        raise DenialActionError("reason", "state why the patient may be billed (e.g. a waiver)")
    return BillPatient(item.claim_id, _amount(item, amount), reason)


def _amount(item: DenialItem, amount: Decimal | None) -> Decimal:
    if amount is None:
        return item.denied_amount
    if amount <= 0 or amount > item.denied_amount:
        raise DenialActionError("amount", "must be more than 0 and at most the denied amount")
    return amount.quantize(Decimal("0.01"))


def _describe(command: DenialCommand) -> str:
    if isinstance(command, ResubmitCorrected):
        return f"frequency {command.frequency_code} replacing {command.original_payer_claim_number}"
    if isinstance(command, FileAppeal):
        return f"level {command.level} appeal due {command.deadline}"
    if isinstance(command, WriteOff):
        return f"{command.amount} written off: {command.reason}"
    return f"{command.amount} billed to patient: {command.reason}"


_COMMANDS = {
    "correct-and-resubmit": _resubmit,
    "appeal": _appeal,
    "write-off": _write_off,
    "bill-patient": _bill_patient,
}
