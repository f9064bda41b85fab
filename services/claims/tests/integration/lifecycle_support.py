"""Support for the lifecycle tests: the claims service on a real (SQLite) database with the
payer simulator in-process as its clearinghouse, the whole claim lifecycle in seconds
without Kafka. What the service publishes is read back from its outbox; remittances come
from the simulator's 835s."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from claimflow_claims import handlers
from claimflow_claims.adapters.clearinghouse import SubmissionReceipt
from claimflow_claims.adapters.tables import ClaimRecord
from claimflow_claims.submission import ClaimSubmitter
from claimflow_claims.unit_of_work import SqlClaimsUnitOfWork
from claimflow_cli.synthetic import encounter
from claimflow_shared.events import EventEnvelope
from claimflow_shared.events.models import (
    EncounterCoded,
    LineAdjustment,
    PaymentInfo,
    RemittanceAdjustment,
    RemittanceReceived,
)
from claimflow_shared.runtime.tables import OutboxMessage
from claimflow_shared.runtime.uow import UnitsOfWork
from claimflow_shared.topics import TOPICS
from claimflow_shared.x12 import read_segments
from payer_simulator.clearinghouse import receive_837, remit_queued
from payer_simulator.settings import SimulatorSettings
from payer_simulator.store import Store

TENANT = "acme"


class InProcessSimulator:
    """The clearinghouse port over the payer simulator's own functions and store."""

    def __init__(self, home: Path, **rates: float) -> None:
        self.settings = SimulatorSettings(
            data_dir=home,
            seed=7,
            denial_rate=rates.get("denial_rate", 0.0),
            line_denial_rate=rates.get("line_denial_rate", 0.0),
        )
        self.store = Store(self.settings.database_path)
        self.received: list[str] = []
        self._seen_835 = 0

    async def submit(self, *, file_name: str, content: str) -> SubmissionReceipt:
        self.received.append(content)
        result = receive_837(store=self.store, settings=self.settings, text=content)
        return SubmissionReceipt(
            submission_id=result.submission_id,
            ack_999=result.ack_999,
            ack_277ca=result.ack_277ca,
            already_held=frozenset(
                c["claim_id"] for c in result.claims if c["status"] == "duplicate"
            ),
        )

    async def close(self) -> None:
        self.store.close()

    def new_835s(self) -> list[str]:
        remit_queued(store=self.store, settings=self.settings)
        with self.store.transaction() as tx:
            files = tx.remittances(after=self._seen_835, limit=1000)
        if files:
            self._seen_835 = files[-1].seq
        return [f.content for f in files]


def _amount(text: str) -> Decimal:
    return Decimal(text or "0").quantize(Decimal("0.01"))


def remittances_of(text: str) -> list[RemittanceReceived]:
    """What the remittance service publishes for each CLP of an 835, read plainly (the
    claims tests must not import another service)."""
    found: list[dict[str, Any]] = []
    payment = None
    line: dict[str, Any] | None = None
    for segment in read_segments(text):
        if segment.id == "BPR":
            payment = PaymentInfo(
                method=segment.el(4) or "NON",
                trace_number="TRACE",
                payment_date=datetime.strptime(segment.el(16), "%Y%m%d").date(),
            )
        elif segment.id == "CLP":
            line = None
            found.append(
                {
                    "claim_id": segment.el(1),
                    "status_code": segment.el(2),
                    "total_charge": _amount(segment.el(3)),
                    "paid": _amount(segment.el(4)),
                    "patient_responsibility": _amount(segment.el(5)),
                    "payer_claim_number": segment.el(7),
                    "claim_adjustments": [],
                    "lines": [],
                }
            )
        elif segment.id == "SVC" and found:
            code = segment.components(1)
            line = {
                "code": code[1] if len(code) > 1 else "",
                "modifiers": [m for m in code[2:] if m],
                "charge": _amount(segment.el(2)),
                "paid": _amount(segment.el(3)),
                "adjustments": [],
            }
            found[-1]["lines"].append(line)
        elif segment.id == "REF" and segment.el(1) == "6R" and line is not None:
            line["line_number"] = int(segment.el(2))
        elif segment.id == "CAS" and found:
            target = line["adjustments"] if line is not None else found[-1]["claim_adjustments"]
            for start in range(2, 19, 3):
                if segment.el(start):
                    target.append(
                        RemittanceAdjustment(
                            group=segment.el(1),
                            carc=segment.el(start),
                            amount=_amount(segment.el(start + 1)),
                        )
                    )
    out = []
    for clp in found:
        lines = [LineAdjustment(**line) for line in clp.pop("lines")]
        if clp["status_code"] == "22":
            status = "reversed"
        elif clp["paid"] <= 0:
            status = "denied"
        elif any(line.paid <= 0 for line in lines):
            status = "partially-paid"
        else:
            status = "paid"
        out.append(
            RemittanceReceived(
                **clp,
                status=status,
                lines=lines,
                payment=payment,
                remittance_file_id="835-test",
            )
        )
    return out


def envelope(payload, *, encounter_id: str, tenant: str = TENANT) -> EventEnvelope:
    topic = next(t for t in TOPICS.values() if t.payload is type(payload))
    return EventEnvelope[type(payload)](
        event_id=uuid.uuid4(),
        event_type=topic.event_type,
        schema_version=topic.version,
        tenant_id=tenant,
        encounter_id=encounter_id,
        occurred_at=datetime.now(UTC),
        producer="test/1",
        payload=payload,
    )


def coded_encounter(n: int, *, seed: int = 3, **changes: Any) -> EncounterCoded:
    """A synthetic encounter, coded as the coding service codes a clean one."""
    from claimflow_coding.domain.coding import Coded, code_encounter
    from claimflow_shared.events import EncounterDocumented

    body = encounter(TENANT, n, seed=seed) | changes
    documented = EncounterDocumented.model_validate(body)
    outcome = code_encounter(documented, coder="test")
    assert isinstance(outcome, Coded), "synthetic encounters code cleanly"
    return outcome.to_event(documented)


@dataclass
class ClaimsHarness:
    uows: UnitsOfWork[SqlClaimsUnitOfWork]
    submitter: ClaimSubmitter
    simulator: InProcessSimulator
    events: list[dict] = field(default_factory=list)

    async def handle(self, handler, prefetch, event: EventEnvelope) -> None:
        async with self.uows() as uow:
            uow.cause = event
            if prefetch is not None:
                await prefetch(uow=uow, events=[event])
            await handler(uow=uow, event=event)

    async def coded(self, payload: EncounterCoded, encounter_id: str) -> None:
        await self.handle(
            handlers.on_encounter_coded,
            handlers.load_for_coded,
            envelope(payload, encounter_id=encounter_id),
        )

    async def submit_all(self) -> int:
        sent = 0
        while await self.submitter.submit_once():
            sent += 1
        return sent

    async def remit(self) -> list[RemittanceReceived]:
        """Every 835 the simulator has now, applied as `remittance.received` events."""
        applied = []
        for text in self.simulator.new_835s():
            for remittance in remittances_of(text):
                record = await self.claim(remittance.claim_id)
                await self.handle(
                    handlers.on_remittance_received,
                    handlers.lock_and_load,
                    envelope(remittance, encounter_id=record.encounter_id),
                )
                applied.append(remittance)
        return applied

    async def claim(self, claim_id: str) -> ClaimRecord:
        async with self.uows() as uow:
            rows = await uow.session.execute(
                select(ClaimRecord).where(ClaimRecord.claim_id == claim_id)
            )
            return rows.scalars().one()

    async def claims(self, encounter_id: str) -> list[ClaimRecord]:
        async with self.uows() as uow:
            return await uow.claims.search(TENANT, encounter_id=encounter_id)

    async def published(self, event_type: str) -> list[dict]:
        async with self.uows() as uow:
            rows = await uow.session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.event_type == event_type)
                .order_by(OutboxMessage.id)
            )
            return [json.loads(r.value) for r in rows.scalars()]


def days_ago(n: int) -> date:
    return date.fromordinal(date.today().toordinal() - n)


def coded_visit(
    *,
    lines: list[tuple[str, int, list[str], list[int]]] | None = None,
    diagnoses: list[str] | None = None,
    service_date: date | None = None,
    coverages: list[dict] | None = None,
    payer_id: str = "SIMPAYER1",
    relationship: str = "18",
    billing_postal: str = "276011234",
    taxonomy: str | None = "207Q00000X",
    sex: str = "F",
    birth_date: date = date(1980, 2, 3),
    mrn: str = "MRN-1",
    facility: bool = False,
    encounter_class: str = "ambulatory",
    place_of_service: str = "11",
) -> EncounterCoded:
    """One coded encounter, clean unless told otherwise: an office visit billed by a group,
    or (`facility`) a hospital's own charges."""
    from claimflow_cli.synthetic import make_npi

    lines = lines or [("99213", 1, [], [1])]
    diagnoses = diagnoses or ["J06.9"]
    day = service_date or days_ago(3)
    billing_npi = make_npi(random.Random("billing"))
    rendering = {
        "npi": make_npi(random.Random("rendering")),
        "first_name": "Lee",
        "last_name": "Chen",
        "taxonomy": taxonomy,
    }
    providers = {
        "billing": {
            "npi": billing_npi,
            "name": "ACME COMMUNITY HOSPITAL" if facility else "ACME MEDICAL GROUP",
            "tax_id": "123456789",
            "address": {
                "line1": "1 Main St",
                "city": "Raleigh",
                "state": "NC",
                "postal_code": billing_postal,
            },
        },
        "rendering": rendering,
        "facility_npi": billing_npi if facility else None,
    }
    body = {
        "source": {"system": "test", "document_id": f"doc-{mrn}"},
        "patient": {
            "mrn": mrn,
            "first_name": "Ann",
            "last_name": "Rivera",
            "birth_date": birth_date.isoformat(),
            "sex": sex,
            "address": {
                "line1": "2 Oak Ave",
                "city": "Raleigh",
                "state": "NC",
                "postal_code": "27601",
            },
        },
        "coverages": coverages
        or [
            {
                "payer": {"payer_id": payer_id, "name": "SIMULATED HEALTH PLAN"},
                "member_id": f"M{mrn[-6:]}",
                "group_number": "G1",
                "relationship": relationship,
            }
        ],
        "providers": providers,
        "encounter_class": encounter_class,
        "period_start": day.isoformat(),
        "period_end": day.isoformat(),
        "place_of_service": place_of_service,
        "diagnoses": [{"sequence": i, "code": c} for i, c in enumerate(diagnoses, 1)],
        "procedures": [
            {
                "sequence": 1,
                "code_system": "CPT",
                "code": lines[0][0],
                "service_date": day.isoformat(),
            }
        ],
        "final_diagnoses": [
            {"sequence": i, "code": c, "decision": "given", "decided_by": "dr"}
            for i, c in enumerate(diagnoses, 1)
        ],
        "service_lines": [
            {
                "line_number": n,
                "code_system": "CPT" if code[0].isdigit() else "HCPCS",
                "code": code,
                "modifiers": modifiers,
                "units": units,
                "service_date": day.isoformat(),
                "diagnosis_pointers": pointers,
                "decision": "given",
                "decided_by": "dr",
            }
            for n, (code, units, modifiers, pointers) in enumerate(lines, 1)
        ],
        "code_sets": {"icd10cm": "2026", "cpt": "2026", "hcpcs": "2026"},
        "coded_by": "test",
    }
    return EncounterCoded.model_validate(body)


def pyx12_errors(text: str, tmp: Path) -> list[str]:
    """What pyx12 4.0 finds wrong with an X12 file (empty: it passes)."""
    import io
    import logging

    import pyx12.params
    import pyx12.x12n_document

    path = tmp / f"check-{uuid.uuid4().hex}.x12"
    path.write_text(text, encoding="ascii")
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                records.append(record.getMessage())

    handler = Collect()
    logger = logging.getLogger("pyx12")
    logger.addHandler(handler)
    try:
        ok = pyx12.x12n_document.x12n_document(
            param=pyx12.params.params(),
            src_file=str(path),
            fd_997=io.StringIO(),
            fd_html=None,
            fd_json=io.StringIO(),
        )
    finally:
        logger.removeHandler(handler)
    return records if not ok or records else []
