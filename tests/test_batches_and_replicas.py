"""Batched consumption through the real broker and PostgreSQL: a poison record is isolated
inside its batch, and replicas of a stage share the work through a crash and a scale-up
with nothing lost or doubled, reconciled from sources that do not share a database."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaProducer

from claimflow_shared.topics import ENCOUNTER_DOCUMENTED
from tests.stacks import POISON_PREFIX
from tests.support import (
    documented_event,
    get_json,
    metric,
    new_tenant,
    postings,
    read_topic,
    reconcile,
    send_encounters,
    wait_for,
)

pytestmark = pytest.mark.infra


async def test_a_poison_record_mid_batch_is_the_only_one_dead_lettered(stack):
    tenant = new_tenant("poison")
    ids = (
        [f"EMID{n:04d}" for n in range(3)]
        + [f"{POISON_PREFIX}1"]
        + [f"EMID{n:04d}" for n in range(3, 6)]
    )
    # One key for all seven: one partition, in this order, sent as one produce request so
    # that coding takes them in one poll batch.
    key = f"{tenant}:batch".encode()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, linger_ms=200)
    await producer.start()
    try:
        for n, encounter_id in enumerate(ids):
            await producer.send(
                ENCOUNTER_DOCUMENTED.name,
                documented_event(tenant, encounter_id, n, seed=77),
                key=key,
            )
        await producer.flush()
    finally:
        await producer.stop()
    good = [i for i in ids if not i.startswith(POISON_PREFIX)]

    async def all_good_coded():
        summary = await get_json(stack, "coding", "/v1/summary", tenant)
        return summary["coded"] + summary["query"] >= len(good)

    await wait_for(all_good_coded, timeout=60, what="the good records to be coded")
    letters = await read_topic(
        stack.kafka_bootstrap, ENCOUNTER_DOCUMENTED.dlq, lambda r: r.key == key, timeout=15
    )
    assert [json.loads(r.value)["encounter_id"] for r in letters] == [f"{POISON_PREFIX}1"]
    assert dict(letters[0].headers)["dlq.error_type"] == b"InjectedFault"
    for encounter_id in good:
        timeline = await get_json(stack, "coding", f"/v1/timeline/{encounter_id}", tenant)
        consumed = [e for e in timeline["entries"] if e["direction"] == "consumed"]
        produced = [e for e in timeline["entries"] if e["direction"] == "produced"]
        assert len(consumed) == 1 and len(produced) == 1, encounter_id
    log = stack.process("coding").log_file.read_text()
    assert "applying its records one at a time" in log, "the seven arrived in one batch"


async def _handled_by(process, event_type: str) -> float:
    return await metric(
        process.url,
        "claimflow_events_consumed_total",
        event_type=event_type,
        outcome="handled",
    )


async def test_replicas_share_a_10000_encounter_batch_through_a_kill_and_an_add(stack):
    tenants = [new_tenant("replicas") for _ in range(4)]
    await asyncio.to_thread(stack.scale, "coding", 2)
    await asyncio.to_thread(stack.scale, "claims", 3)
    try:
        await asyncio.sleep(5)  # the groups settle before the batch arrives
        sent = await asyncio.gather(*(send_encounters(stack, t, 2500, seed=61) for t in tenants))
        ids = {i for batch in sent for i in batch}
        assert len(ids) == 10_000

        async def submitted(at_least: int):
            counts = [
                (await get_json(stack, "claims", "/v1/summary", t))["submitted"] for t in tenants
            ]
            return sum(counts) >= at_least

        await wait_for(lambda: submitted(2000), timeout=300, what="the batch to be under way")
        stack.process("claims-2").kill()
        stack.replicas["claims"] = 4
        added = stack.process("claims-4")
        await asyncio.to_thread(added.start().wait_ready, 120)

        async def all_posted():
            rows = [r for t in tenants for r in await postings(stack, t)]
            return rows if len({r["encounter_id"] for r in rows}) >= len(ids) else None

        await wait_for(all_posted, timeout=900, interval=2, what="10,000 postings")
        await asyncio.sleep(3)  # give any doubled effect the time to show
        await reconcile(stack, tenants, ids)
        for name in ("coding", "coding-2"):
            assert await _handled_by(stack.process(name), "encounter.documented") > 0, name
        for name in ("claims", "claims-3", "claims-4"):
            assert await _handled_by(stack.process(name), "encounter.coded") > 0, name
    finally:
        stack.process("claims-2").kill()
        stack.replicas["claims"] = 4
        await asyncio.to_thread(stack.scale, "claims", 1)
        await asyncio.to_thread(stack.scale, "coding", 1)
