"""Benchmark: CPU the claims stage spends per encounter in its own code, without the broker
and the database: the `encounter.coded` handler (charge, scrub, stage rows and events over an
in-memory unit of work, a batch prefetch per 500 events) and the submitter's side of an
interchange (read the stored claims, write the 837P/837I, read the 999 and 277CA, walk each
claim through its acknowledgments and stage `claim.submitted`/`claim.accepted`). The payer
simulator's answers are made beforehand and not timed. Ends with one JSON line.

    .venv/bin/python bench/claims_stage.py --encounters 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from claimflow_claims import billing, handlers
from claimflow_claims.adapters.tables import SubmissionFile
from claimflow_claims.domain.model import Claim
from claimflow_claims.settings import Settings
from claimflow_claims.submission import (
    ClaimSubmitter,
    SubmissionReceipt,
    _acknowledge,
    apply_acknowledgment,
    transaction_of,
)
from claimflow_shared.events import EventEnvelope
from claimflow_shared.events.models import EncounterCoded
from payer_simulator.clearinghouse import receive_837
from payer_simulator.settings import SimulatorSettings
from payer_simulator.store import Store
from services.claims.tests.integration.lifecycle_support import coded_encounter
from services.claims.tests.unit.conftest import FakeClaimsUnitOfWork

BATCH = 500


def coded_events(count: int) -> list[EventEnvelope[EncounterCoded]]:
    return [
        EventEnvelope[EncounterCoded](
            event_id=uuid.uuid4(),
            event_type="encounter.coded",
            schema_version="1.1",
            tenant_id="bench",
            encounter_id=f"E{n:07d}",
            occurred_at=datetime.now(UTC),
            producer="bench/1",
            payload=coded_encounter(n, seed=17),
        )
        for n in range(count)
    ]


async def charge_all(events) -> tuple[float, list]:
    """CPU seconds of the handler over every event; the claims it staged."""
    records = []
    spent = 0.0
    for start in range(0, len(events), BATCH):
        batch = events[start : start + BATCH]
        uow = FakeClaimsUnitOfWork()
        began = time.process_time()
        await handlers.load_for_coded(uow=uow, events=batch)
        for event in batch:
            uow.cause = event
            await handlers.on_encounter_coded(uow=uow, event=event)
        spent += time.process_time() - began
        records += list(uow.claims.records.values())
    return spent, records


async def submit_all(records, settings: Settings, simulator: Path) -> tuple[float, int]:
    """CPU seconds of our side of every interchange (the simulator's answers not timed)."""
    submitter = ClaimSubmitter(uows=None, clearinghouse=None, settings=settings)  # type: ignore[arg-type]
    sim_settings = SimulatorSettings(data_dir=simulator, seed=3)
    store = Store(sim_settings.database_path)
    groups = defaultdict(list)
    for record in records:
        if record.state == "scrubbed":
            groups[(record.claim_type, record.payer_id)].append(record)
    spent, icn, files = 0.0, 0, 0
    for group in groups.values():
        for start in range(0, len(group), settings.submit_batch_size):
            chunk = group[start : start + settings.submit_batch_size]
            icn += 1
            began = time.process_time()
            claims = [Claim.model_validate_json(r.claim) for r in chunk]
            content = submitter._write(icn, icn, claims)
            file = SubmissionFile(
                file_name=f"F{icn}.x12",
                interchange_control_number=icn,
                first_transaction_number=icn,
                content=content,
                claim_ids=[c.claim_id for c in claims],
                claim_count=len(claims),
            )
            spent += time.process_time() - began
            answer = receive_837(store=store, settings=sim_settings, text=content)
            receipt = SubmissionReceipt(answer.submission_id, answer.ack_999, answer.ack_277ca)
            began = time.process_time()
            acknowledgments = _acknowledge(file, receipt)
            uow = FakeClaimsUnitOfWork()
            now = datetime.now(UTC)
            for index, (record, claim) in enumerate(zip(chunk, claims, strict=True)):
                apply_acknowledgment(
                    uow,
                    record,
                    claim,
                    acknowledgments[claim.claim_id],
                    file=file,
                    transaction=transaction_of(file, index),
                    at=now,
                )
            billing.publish_state_changes(uow)
            spent += time.process_time() - began
            files += 1
    store.close()
    return spent, files


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encounters", type=int, default=2000)
    args = parser.parse_args()
    events = coded_events(args.encounters)
    await charge_all(events[:50])  # warm caches (rule tables, fee schedule)
    charged_s, records = await charge_all(events)
    kinds = defaultdict(int)
    for record in records:
        kinds[record.claim_type] += 1
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), submit_batch_size=100)
        submitted_s, files = await submit_all(records, settings, Path(tmp) / "sim")
    result = {
        "encounters": args.encounters,
        "claims": dict(kinds),
        "interchanges": files,
        "handler_cpu_ms_per_encounter": round(charged_s * 1000 / args.encounters, 3),
        "submitter_cpu_ms_per_claim": round(submitted_s * 1000 / len(records), 3),
        "claims_code_cpu_ms_per_encounter": round(
            (charged_s + submitted_s) * 1000 / args.encounters, 3
        ),
    }
    for key, value in result.items():
        print(f"{key:36s} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
