"""Bulk files through the real intake process, broker and PostgreSQL: a 100,000-record NDJSON
upload streams through in flat memory (the intake process's own peak, from /proc) with a
correct report and exactly its events on the topic; a job whose process is SIGKILLed
mid-file resumes after the restart and publishes nothing twice."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from services.intake.tests.unit.builders import json_encounter
from tests.intake_support import (
    Offsets,
    end_offsets,
    intake_client,
    reset_peak,
    set_up_tenant,
    vm_kib,
)
from tests.stacks import own_infrastructure, running_stack
from tests.support import new_tenant, wait_for

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Intake alone, on a broker and database of its own: the 120,000 encounters published
    here would otherwise keep the shared stack's later stages busy for many minutes, and the
    tests after this module waiting behind them."""
    with (
        own_infrastructure() as infra,
        running_stack(infra, tmp_path_factory.mktemp("bulk-stack"), ["intake"]) as stack,
    ):
        yield stack


MIB = 1024


def _record(n: int, *, changed: bool = False) -> dict:
    body = json_encounter(n)
    # A category code, not a billable one: coding answers each with a coder query, so the
    # 100,000 encounters stop there instead of loading every stage after it.
    body["diagnoses"] = [{"sequence": 1, "code": "E11"}]
    if n % 100 == 0:
        body["place_of_service"] = "00"  # not a POS code: rejected
    if changed:
        body["place_of_service"] = "22"
    return body


def write_file(path: Path) -> dict[str, int]:
    """100,000 records: 98,000 documents, then the first 1,000 again unchanged, then the
    next 1,000 changed; returns the report they must give."""
    with path.open("w", encoding="utf-8") as out:
        for n in range(1, 98_001):
            out.write(json.dumps(_record(n)) + "\n")
        for n in range(1, 1_001):
            out.write(json.dumps(_record(n)) + "\n")
        for n in range(1_001, 2_001):
            out.write(json.dumps(_record(n, changed=True)) + "\n")
    return {
        "records": 100_000,
        # 98,000 new minus every hundredth; the ten rejected ones among the changed are new.
        "accepted": 98_000 - 980 + 10,
        "duplicate": 990,
        "amended": 990,
        "rejected": 980 + 10,
    }


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(256 * 1024):
            yield chunk


async def _upload(client, tenant: str, path: Path) -> dict:
    response = await client.post(
        "/v1/bulk",
        params={"source_system": "ehr-1", "file_name": path.name},
        content=_chunks(path),
        headers={"X-Tenant-ID": tenant, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 202, response.text
    return response.json()


async def _job(client, tenant: str, job_id: str) -> dict:
    response = await client.get(f"/v1/bulk/{job_id}", headers={"X-Tenant-ID": tenant})
    response.raise_for_status()
    return response.json()


async def _keys_since(bootstrap: str, start: Offsets, tenant: str) -> Counter[str]:
    """How many distinct events each encounter of the tenant has since `start` (by message key,
    `tenant:encounter`, and the event id header, without decoding the events). The relay
    delivers at least once: a record sent again after a crash carries the same event id, which
    every consumer's inbox drops; a second event id for one encounter would be a real
    duplicate."""
    prefix = f"{tenant}:".encode()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = list(start)
        consumer.assign(tps)
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        ends = await consumer.end_offsets(tps)
        seen: set[tuple[str, bytes]] = set()
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=20_000)).values():
                seen.update(
                    (r.key.decode(), dict(r.headers).get("event_id", b""))
                    for r in records
                    if r.key and r.key.startswith(prefix)
                )
        return Counter(key for key, _ in seen)
    finally:
        await consumer.stop()


async def _wait_keys(bootstrap: str, start: Offsets, tenant: str, events: int, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        keys = await _keys_since(bootstrap, start, tenant)
        if sum(keys.values()) >= events or time.monotonic() > deadline:
            await asyncio.sleep(1)
            return await _keys_since(bootstrap, start, tenant)
        await asyncio.sleep(2)


async def test_a_100000_record_ndjson_upload_streams_in_flat_memory_with_a_correct_report(
    stack, tmp_path
):
    tenant = new_tenant("bulk")
    path = tmp_path / "encounters.ndjson"
    expected = write_file(path)
    size_kib = path.stat().st_size // 1024
    pid = stack.process("intake").pid
    assert pid is not None
    start = await end_offsets(stack.kafka_bootstrap)
    async with intake_client(stack, timeout=600) as client:
        await set_up_tenant(client, tenant)
        assert reset_peak(pid), "cannot reset the intake process's peak RSS"
        rss_before = vm_kib(pid, "VmRSS")
        job = await _upload(client, tenant, path)
        assert job["bytes_total"] == path.stat().st_size

        peaks: dict[int, int] = {}  # tenths of the file done -> the peak so far

        async def finished():
            current = await _job(client, tenant, job["job_id"])
            peaks.setdefault(current["records"] * 10 // 100_000, vm_kib(pid, "VmHWM"))
            return current if current["status"] in ("done", "failed") else None

        done = await wait_for(finished, timeout=900, interval=1, what="the 100,000-record job")
        peak = vm_kib(pid, "VmHWM")
        rejected = (
            await client.get(
                f"/v1/bulk/{job['job_id']}/results",
                params={"status": "rejected", "limit": 10_000},
                headers={"X-Tenant-ID": tenant},
            )
        ).json()
    samples = ", ".join(f"{tenth * 10}%: {kib / MIB:.0f}" for tenth, kib in sorted(peaks.items()))
    print(
        f"\n100,000 records, {size_kib / MIB:.0f} MiB: intake RSS {rss_before / MIB:.0f} MiB "
        f"before; peak RSS (MiB) as the job went: {samples}; {peak / MIB:.0f} at the end"
    )
    assert done["status"] == "done", done
    assert {k: done[k] for k in expected} == expected
    assert done["bytes_done"] == done["bytes_total"]
    # Flat: what the process takes on is front-loaded (connections, statement caches, worker
    # threads, the consumer's fetch buffers filling as the stages answer) and bounded; a
    # cost per record would make the second half of the file cost what the first did.
    # Held whole, the ~60 MiB file would take several times its size once parsed.
    halfway = min(kib for tenth, kib in peaks.items() if tenth >= 5)
    assert peak - rss_before < 96 * MIB
    assert peak - halfway < (halfway - rss_before) / 2
    assert len(rejected) == expected["rejected"]
    assert rejected[0]["position"] == "line 100"
    assert rejected[0]["problems"][0]["location"] == "/place_of_service"

    events = expected["accepted"] + expected["amended"]
    keys = await _wait_keys(stack.kafka_bootstrap, start, tenant, events, timeout=300)
    assert sum(keys.values()) == events
    assert len(keys) == expected["accepted"]
    assert Counter(keys.values()) == {1: expected["accepted"] - 990, 2: 990}


async def test_a_job_whose_intake_is_killed_mid_file_resumes_and_publishes_nothing_twice(
    stack, tmp_path
):
    tenant = new_tenant("resume")
    path = tmp_path / "encounters.ndjson"
    with path.open("w", encoding="utf-8") as out:
        for n in range(1, 20_001):
            out.write(json.dumps(_record(n + 1_000_000) | {"place_of_service": "11"}) + "\n")
    start = await end_offsets(stack.kafka_bootstrap)
    intake = stack.process("intake")
    async with intake_client(stack) as client:
        await set_up_tenant(client, tenant)
        job = await _upload(client, tenant, path)

        async def partway():
            current = await _job(client, tenant, job["job_id"])
            return current if current["records"] >= 2_000 else None

        before = await wait_for(partway, timeout=120, interval=0.2, what="the job to start")
        assert before["status"] == "running" and before["records"] < 20_000
        intake.kill()
        intake.start()
        intake.wait_ready(120)

        async def finished():
            current = await _job(client, tenant, job["job_id"])
            return current if current["status"] == "done" else None

        done = await wait_for(finished, timeout=300, interval=1, what="the job to resume")
    assert (done["records"], done["accepted"], done["duplicate"]) == (20_000, 20_000, 0)
    keys = await _wait_keys(stack.kafka_bootstrap, start, tenant, 20_000, timeout=120)
    assert len(keys) == 20_000 and set(keys.values()) == {1}
