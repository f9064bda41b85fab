"""Benchmark: posting throughput of the remittance service end to end on a real database, in
process: `claim.submitted` handled in consumer-sized batches (expect the claim, KPI fact),
then balanced 835 files posted through `import_835` (read, judge, deduplicate, match within
the tenant, post claims and lines, denials to the queue, patient charges, KPI facts, the
events into the outbox, all written set-wise at commit), then the same files again (all
duplicates). Reports claims/s and CPU milliseconds per claim of this process (the database
server's own CPU is not in it: on PostgreSQL read it beside, on SQLite it is in-process).
Ends with one JSON line.

    .venv/bin/python bench/remittance_posting.py --claims 5000 --per-file 500
    DATABASE_URL=postgresql+asyncpg://... .venv/bin/python bench/remittance_posting.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from claimflow_remittance import handlers
from claimflow_remittance.ledger import import_835
from claimflow_remittance.unit_of_work import SqlRemittanceUnitOfWork
from claimflow_shared.runtime.db import Database
from claimflow_shared.runtime.uow import UnitsOfWork
from services.remittance.tests.unit.builders import (
    Clp,
    denied_clp,
    era,
    paid_clp,
    partial_clp,
    submitted,
)

BATCH = 500


def outcome(claim_id: str, rng: random.Random) -> Clp:
    """About 80% paid, 10% with a line denied, 10% denied in full (a busy day's mix)."""
    roll = rng.random()
    number = f"P{claim_id}"
    if roll < 0.8:
        return paid_clp(claim_id, payer_claim_number=number)
    if roll < 0.9:
        return partial_clp(claim_id, payer_claim_number=number)
    return denied_clp(claim_id, payer_claim_number=number)


async def run(claims: int, per_file: int, url: str) -> dict:
    db = Database(url)
    await db.create_tables()
    uows = UnitsOfWork(SqlRemittanceUnitOfWork, db, producer="claimflow-remittance/bench")
    tenant = f"bench-{uuid.uuid4().hex[:6]}"
    run_id = uuid.uuid4().hex[:8].upper()
    ids = [f"B{run_id}{n:06d}-1" for n in range(claims)]
    events = [
        submitted(claim_id, tenant=tenant, mrn=f"M{n % 997}") for n, claim_id in enumerate(ids)
    ]
    rng = random.Random(7)
    files = [
        era(*(outcome(c, rng) for c in ids[start : start + per_file]), trace=f"T{run_id}{start}")
        for start in range(0, claims, per_file)
    ]

    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, claims, BATCH):
        batch = events[start : start + BATCH]
        async with uows() as uow:
            await handlers.load_submitted(uow=uow, events=batch)
            for event in batch:
                uow.cause = event
                await handlers.on_claim_submitted(uow=uow, event=event)
    expect = (time.process_time() - cpu, time.perf_counter() - wall)

    cpu, wall = time.process_time(), time.perf_counter()
    posted = 0
    for n, text in enumerate(files):
        async with uows(principal="bench") as uow:
            result = await import_835(
                uow=uow, source="upload", source_ref=f"{tenant}:{n}", content=text,
                received_by="bench", tenant_id=tenant,
            )  # fmt: skip
        posted += len(result.posted)
    post = (time.process_time() - cpu, time.perf_counter() - wall)

    cpu, wall = time.process_time(), time.perf_counter()
    duplicates = 0
    for n, text in enumerate(files):
        async with uows(principal="bench") as uow:
            result = await import_835(
                uow=uow, source="upload", source_ref=f"{tenant}:again:{n}", content=text,
                received_by="bench", tenant_id=tenant,
            )  # fmt: skip
        duplicates += result.duplicate
    again = (time.process_time() - cpu, time.perf_counter() - wall)
    await db.dispose()
    assert posted == claims, f"posted {posted} of {claims}"
    assert duplicates == len(files)

    def figures(cpu_s: float, wall_s: float) -> dict:
        return {
            "claims_per_s": round(claims / wall_s, 1),
            "cpu_ms_per_claim": round(1000 * cpu_s / claims, 3),
            "wall_s": round(wall_s, 2),
        }

    return {
        "database": url.split(":", 1)[0],
        "claims": claims,
        "per_file": per_file,
        "expect_claim_submitted": figures(*expect),
        "post_835": figures(*post),
        "duplicate_835": figures(*again),
        "paid_total": str(sum((outcome_paid(f) for f in files), Decimal("0"))),
    }


def outcome_paid(text: str) -> Decimal:
    return sum(
        (Decimal(s.split("*")[2]) for s in text.split("~\n") if s.startswith("BPR")), Decimal("0")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=5000)
    parser.add_argument("--per-file", type=int, default=500)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    with tempfile.TemporaryDirectory() as home:
        url = url or f"sqlite+aiosqlite:///{Path(home) / 'bench.db'}"
        report = asyncio.run(run(args.claims, args.per_file, url))
    for phase in ("expect_claim_submitted", "post_835", "duplicate_835"):
        figures = report[phase]
        print(
            f"{phase:24} {figures['claims_per_s']:>9} claims/s "
            f"{figures['cpu_ms_per_claim']:>7} CPU ms/claim ({figures['wall_s']} s)"
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
