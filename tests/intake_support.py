"""Helpers for intake's cross-service tests: talk to intake's HTTP API and MLLP listener, set
a tenant up, and read what intake published from a known point of the topic on."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from claimflow_intake.domain.mllp import encode_frame
from claimflow_local.stack import Stack
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED
from services.intake.tests.integration.master_data import set_up_tenant  # noqa: F401

Offsets = dict[TopicPartition, int]


def intake_client(stack: Stack, timeout: float = 120) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.process("intake").url, timeout=timeout)


def mllp_port(stack: Stack) -> int:
    return stack.port("intake-mllp")


async def mllp_exchange(port: int, messages: Iterable[bytes], timeout: float = 30) -> list[str]:
    """Send each message framed on one connection and read its answer, in order."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    try:
        for message in messages:
            writer.write(encode_frame(message))
            await writer.drain()
            frame = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), timeout)
            answers.append(frame.strip(b"\x0b\x1c\r").decode())
    finally:
        writer.close()
        await writer.wait_closed()
    return answers


async def end_offsets(bootstrap: str, topic: str = ENCOUNTER_DOCUMENTED.name) -> Offsets:
    """Where each partition of the topic ends now: read from here to see only what follows."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p) for p in metadata.partitions_for_topic(topic) or ()]
        return dict(await consumer.end_offsets(tps)) if tps else {}
    finally:
        await consumer.stop()


async def events_since(bootstrap: str, start: Offsets, tenants: set[str]) -> list[dict]:
    """Every event of these tenants from `start` to the partitions' current ends."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = list(start)
        consumer.assign(tps)
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        ends = await consumer.end_offsets(tps)
        found = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                for record in records:
                    try:
                        event = json.loads(record.value)
                    except ValueError:
                        continue
                    if isinstance(event, dict) and event.get("tenant_id") in tenants:
                        found.append(event)
        return found
    finally:
        await consumer.stop()


async def wait_for_events(
    bootstrap: str, start: Offsets, tenants: set[str], count: int, *, timeout: float = 60
) -> list[dict]:
    """The tenants' events since `start`, once there are at least `count` (then a moment
    more, so one published too many would show)."""
    deadline = time.monotonic() + timeout
    while True:
        events = await events_since(bootstrap, start, tenants)
        if len(events) >= count:
            await asyncio.sleep(1.0)
            return await events_since(bootstrap, start, tenants)
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(events)} of {count} events after {timeout:.0f}s")
        await asyncio.sleep(0.5)


def vm_kib(pid: int, field: str) -> int:
    """A memory figure of a process from /proc/<pid>/status (VmRSS, VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def reset_peak(pid: int) -> bool:
    """Start a process's VmHWM over from its current RSS (Linux `clear_refs` 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def encounter_view(client: httpx.AsyncClient, tenant: str, encounter_id: str) -> Any:
    response = await client.get(f"/v1/encounters/{encounter_id}", headers={"X-Tenant-ID": tenant})
    response.raise_for_status()
    return response.json()
