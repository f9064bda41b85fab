"""Helpers for the cross-service tests: send encounters, wait for outcomes, read Kafka."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from claimflow_cli.synthetic import encounter
from claimflow_local.stack import Stack
from claimflow_shared.topics import CLAIM_SUBMITTED, ENCOUNTER_DOCUMENTED, REMITTANCE_RECEIVED
from claimflow_shared.x12 import read_segments


def new_tenant(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def send_encounters(stack: Stack, tenant: str, count: int, *, seed: int = 11) -> list[str]:
    async with httpx.AsyncClient(base_url=stack.process("intake").url, timeout=60) as client:
        ids: list[str] = []
        for start in range(0, count, 100):
            bodies = [
                encounter(tenant, n, seed=seed) for n in range(start, min(count, start + 100))
            ]
            response = await client.post(
                "/v1/encounters/batch", json={"encounters": bodies}, headers={"X-Tenant-ID": tenant}
            )
            response.raise_for_status()
            ids += [r["encounter_id"] for r in response.json()["results"]]
        return ids


async def get_json(
    stack: Stack, service: str, path: str, tenant: str | None = None, **params: Any
) -> Any:
    headers = {"X-Tenant-ID": tenant} if tenant else {}
    async with httpx.AsyncClient(base_url=stack.process(service).url, timeout=30) as client:
        response = await client.get(path, headers=headers, params=params)
        response.raise_for_status()
        return response.json()


async def wait_for(
    check: Callable[[], Any], *, timeout: float, interval: float = 0.5, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


async def postings(stack: Stack, tenant: str) -> list[dict]:
    return await get_json(stack, "remittance", "/v1/postings", tenant)


async def wait_for_postings(stack: Stack, tenant: str, count: int, timeout: float = 240):
    async def enough():
        rows = await postings(stack, tenant)
        return rows if len({r["encounter_id"] for r in rows}) >= count else None

    return await wait_for(enough, timeout=timeout, what=f"{count} postings for {tenant}")


async def publish(bootstrap: str, topic: str, key: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key.encode())
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    predicate: Callable[[Any], bool],
    timeout: float = 20,
    count: int = 1,
) -> list:
    """The records of `topic` matching `predicate`, once at least `count` are there (or
    what there is at `timeout`)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"test-{uuid.uuid4()}",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(found) < count:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [r for r in records if predicate(r)]
    finally:
        await consumer.stop()
    return found


def event_json(record) -> dict:
    return json.loads(record.value)


async def events_on(bootstrap: str, topic: str, tenants: set[str]) -> list[dict]:
    """Every event of these tenants on a topic, read from the beginning to the end offsets
    as they are now (broken messages other tests put there are skipped)."""
    found = []
    for record in await records_on(bootstrap, topic):
        try:
            event = json.loads(record.value)
        except (ValueError, RecursionError):
            continue
        if isinstance(event, dict) and event.get("tenant_id") in tenants:
            found.append(event)
    return found


async def records_on(
    bootstrap: str, topic: str, predicate: Callable[[Any], bool] = lambda _: True
) -> list:
    """Every record on a topic matching `predicate`, from the beginning to the end offsets
    as they are now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()
        partitions = [TopicPartition(topic, p) for p in metadata.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found += [record for record in records if predicate(record)]
        return found
    finally:
        await consumer.stop()


async def simulator_receipts(stack: Stack) -> dict[str, dict[str, int]]:
    """The payer simulator's own count of what arrived, per claim id."""
    return await get_json(stack, "simulator", "/v1/receipts")


async def metric(url: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus counter's samples matching these labels, from /metrics."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{url}/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


async def reconcile(stack, tenants: list[str], ids: set[str]) -> None:
    """Every encounter exactly once, by four witnesses that share no database."""
    rows = [r for t in tenants for r in await postings(stack, t)]
    assert Counter(r["encounter_id"] for r in rows) == Counter(ids), "one posting each"
    claims = {r["claim_id"] for r in rows}

    wanted = set(tenants)
    submitted = await events_on(stack.kafka_bootstrap, CLAIM_SUBMITTED.name, wanted)
    events_per_claim = Counter()
    for claim_id, event_ids in distinct_events(submitted).items():
        events_per_claim[claim_id] = len(event_ids)
    assert set(events_per_claim) == claims and set(events_per_claim.values()) == {1}

    received = await events_on(stack.kafka_bootstrap, REMITTANCE_RECEIVED.name, wanted)
    assert {c: len(e) for c, e in distinct_events(received).items()} == dict.fromkeys(claims, 1)

    receipts = await simulator_receipts(stack)
    assert {c: receipts[c]["interchanges"] for c in claims} == dict.fromkeys(claims, 1), (
        "the payer received every claim in exactly one interchange"
    )

    files, after = [], 0
    while page := (await get_json(stack, "simulator", "/v1/remittances", after=after, limit=500))[
        "files"
    ]:
        files += page
        after = page[-1]["seq"]
    paid_in_835s = Decimal("0")
    for file in files:
        segments = list(read_segments(file["content"]))
        paid_in_835s += sum(
            Decimal(s.el(4)) for s in segments if s.id == "CLP" and s.el(1) in claims
        )
    assert sum(Decimal(r["paid"]) for r in rows) == paid_in_835s


def distinct_events(events: list[dict]) -> dict[str, set[str]]:
    """Claim id → the distinct event ids about it (a relay may publish one event twice)."""
    found: dict[str, set[str]] = {}
    for event in events:
        found.setdefault(event["payload"]["claim_id"], set()).add(event["event_id"])
    return found


def documented_event(tenant: str, encounter_id: str, n: int, *, seed: int) -> bytes:
    """An `encounter.documented` event as a producer outside intake would put it on Kafka:
    the n-th synthetic visit of the tenant under the given encounter id."""
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": ENCOUNTER_DOCUMENTED.event_type,
            "schema_version": ENCOUNTER_DOCUMENTED.version,
            "tenant_id": tenant,
            "encounter_id": encounter_id,
            "occurred_at": datetime.now(UTC).isoformat(),
            "producer": "test/1",
            "payload": encounter(tenant, n, seed=seed),
        }
    ).encode()
