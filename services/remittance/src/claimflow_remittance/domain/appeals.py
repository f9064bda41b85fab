"""An appeal packet: the claim's facts, the denial reasons in words a payer reads, the
arguments the biller wrote into the slots for this kind of denial, and the attachments."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from claimflow_remittance.domain.contacts import Contact
from claimflow_remittance.domain.denial_queue import DenialItem
from claimflow_remittance.domain.denials import plain_reasons

DATA = Path(__file__).resolve().parent / "data"


class AppealPacketError(ValueError):
    """The packet is not ready to send; names the field."""


@dataclass(frozen=True)
class ArgumentSlot:
    heading: str
    prompt: str
    text: str = ""


@dataclass(frozen=True)
class AppealLine:
    code: str
    modifiers: tuple[str, ...]
    service_date: date | None
    charge: Decimal
    paid: Decimal
    carcs: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppealPacket:
    practice: Contact
    payer: Contact
    claim_id: str
    payer_claim_number: str
    patient_name: str
    member_id: str
    service_from: date | None
    service_to: date | None
    total_charge: Decimal
    paid: Decimal
    denied_amount: Decimal
    denied_on: date
    appeal_deadline: date | None
    carcs: tuple[str, ...]
    rarcs: tuple[str, ...]
    lines: tuple[AppealLine, ...]
    arguments: tuple[ArgumentSlot, ...]
    attachments: tuple[str, ...]
    prepared_by: str
    prepared_on: date
    level: int = 1

    @property
    def denial_reasons(self) -> list[str]:
        return plain_reasons(self.carcs)

    def missing_arguments(self) -> list[str]:
        return [slot.heading for slot in self.arguments if not slot.text.strip()]


@cache
def argument_slots() -> Mapping[str, tuple[ArgumentSlot, ...]]:
    with (DATA / "appeal_arguments.csv").open(newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: (r["category"], int(r["order"])))
    slots: dict[str, list[ArgumentSlot]] = {}
    for row in rows:
        slots.setdefault(row["category"], []).append(ArgumentSlot(row["heading"], row["prompt"]))
    return {category: tuple(items) for category, items in slots.items()}


def slots_for(category: str) -> tuple[ArgumentSlot, ...]:
    """The argument slots a biller fills for this denial category."""
    return argument_slots().get(category) or argument_slots()["other"]


def fill_arguments(
    slots: Sequence[ArgumentSlot], filled: Mapping[str, str]
) -> tuple[ArgumentSlot, ...]:
    """The slots with the biller's text by heading; a heading that is no slot is refused."""
    unknown = set(filled) - {slot.heading for slot in slots}
    if unknown:
        raise AppealPacketError(f"arguments: no slot named {sorted(unknown)[0]!r}")
    return tuple(replace(slot, text=filled.get(slot.heading, "").strip()) for slot in slots)


def build_appeal_packet(
    item: DenialItem,
    *,
    practice: Contact,
    payer: Contact,
    patient_name: str,
    member_id: str,
    total_charge: Decimal,
    paid: Decimal,
    lines: Sequence[AppealLine],
    arguments: Mapping[str, str],
    attachments: Sequence[str],
    prepared_by: str,
    prepared_on: date,
) -> AppealPacket:
    """A packet for a denial in the queue; refused when an argument slot is still empty."""
    packet = AppealPacket(
        practice=practice,
        payer=payer,
        claim_id=item.claim_id,
        payer_claim_number=item.payer_claim_number or "",
        patient_name=patient_name,
        member_id=member_id,
        service_from=min((ln.service_date for ln in lines if ln.service_date), default=None),
        service_to=max((ln.service_date for ln in lines if ln.service_date), default=None),
        total_charge=total_charge,
        paid=paid,
        denied_amount=item.denied_amount,
        denied_on=item.denied_on,
        appeal_deadline=item.appeal_deadline,
        carcs=item.carcs,
        rarcs=item.rarcs,
        lines=tuple(lines),
        arguments=fill_arguments(slots_for(item.category), arguments),
        attachments=tuple(a.strip() for a in attachments if a.strip()),
        prepared_by=prepared_by,
        prepared_on=prepared_on,
    )
    missing = packet.missing_arguments()
    if missing:
        raise AppealPacketError(f"arguments: {missing[0]!r} is not filled in")
    return packet
