"""Ten thousand generated bad messages on a stage's topic, then good ones: every bad one
ends in the dead-letter topic, every good one is handled, and the consumer never stops."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from claimflow_cli.synthetic import encounter
from claimflow_shared.runtime.consumer import UndecodableEvent, decode_event
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED
from tests.support import get_json, new_tenant, records_on, wait_for

pytestmark = pytest.mark.infra

BAD = 10_000
GOOD = 20


def _event(tenant: str, n: int, **changes) -> dict:
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": ENCOUNTER_DOCUMENTED.event_type,
        "schema_version": ENCOUNTER_DOCUMENTED.version,
        "tenant_id": tenant,
        "encounter_id": f"EBAD{n:06d}",
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": "fuzz/1",
        "payload": encounter(tenant, n, seed=13),
    }
    event.update(changes)
    return event


def bad_message(rng: random.Random, tenant: str, n: int) -> bytes:
    """One of many ways an event can be wrong, chosen by the seeded generator."""
    good = _event(tenant, n)
    kind = rng.randrange(16)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind == 1:
        text = json.dumps(good)
        return text[: rng.randrange(1, len(text))].encode()
    if kind == 2:
        return json.dumps(rng.choice([[1, 2], "event", 42, None, True])).encode()
    if kind == 3:
        return json.dumps(good | {"event_type": "claim.paid"}).encode()
    if kind == 4:
        return json.dumps(good | {"schema_version": f"{rng.randrange(2, 99)}.0"}).encode()
    if kind == 5:
        good["payload"]["patient"]["birth_date"] = rng.choice([12345, [], {}, "31/12/1980"])
        return json.dumps(good).encode()
    if kind == 6:
        digits = "9" * rng.randrange(4400, 6000)
        text = json.dumps(good).replace('"sequence": 1', f'"sequence": {digits}', 1)
        return text.encode()
    if kind == 7:
        depth = rng.randrange(2000, 20000)
        return ('{"payload": ' + "[" * depth + "]" * depth + "}").encode()
    if kind == 8:
        return json.dumps(good | {"occurred_at": "9999-12-31T23:59:59-14:00"}).encode()
    if kind == 9:
        text = json.dumps(good)
        number = rng.choice(["NaN", "Infinity", "-Infinity", "1e999"])
        return text.replace('"units": 1', f'"units": {number}', 1).encode()
    if kind == 10:
        good["payload"]["patient"]["first_name"] = "A\u0000" + chr(rng.randrange(1, 31))
        return json.dumps(good).encode()
    if kind == 11:
        return json.dumps(good | {"event_id": "not-a-uuid"}).encode()
    if kind == 12:
        return b""
    if kind == 13:
        del good["payload"]
        return json.dumps(good).encode()
    if kind == 14:
        good["payload"]["diagnoses"] = [{"sequence": 1, "code": "x" * 100_000}]
        return json.dumps(good).encode()
    good["tenant_id"] = "../" + "A" * rng.randrange(1, 300)
    return json.dumps(good).encode()


def bad_headers(rng: random.Random) -> list[tuple[str, bytes | None]]:
    return rng.choice([[], [("x-bad", b"\xff\xfe\x00")], [("x-null", None)], [("", b"")]])


def test_every_generated_message_is_one_the_decoder_refuses():
    rng = random.Random(20261123)
    for n in range(2000):
        with pytest.raises(UndecodableEvent):
            decode_event(ENCOUNTER_DOCUMENTED, bad_message(rng, "t-gen", n))


async def test_ten_thousand_bad_messages_are_dead_lettered_and_the_good_ones_handled(stack):
    tenant = new_tenant("fuzz")
    rng = random.Random(20261123)
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.kafka_bootstrap, linger_ms=20, max_request_size=4_000_000
    )
    await producer.start()
    try:
        for n in range(BAD):
            await producer.send(
                ENCOUNTER_DOCUMENTED.name,
                bad_message(rng, tenant, n),
                key=f"{tenant}:bad{n}".encode(),
                headers=bad_headers(rng),
            )
        for n in range(GOOD):
            good = _event(tenant, BAD + n, encounter_id=f"EGOOD{n:04d}")
            await producer.send(
                ENCOUNTER_DOCUMENTED.name,
                json.dumps(good).encode(),
                key=f"{tenant}:good{n}".encode(),
            )
        await producer.flush()
    finally:
        await producer.stop()

    async def good_ones_coded():
        summary = await get_json(stack, "coding", "/v1/summary", tenant)
        return summary["coded"] + summary["query"] == GOOD

    await wait_for(good_ones_coded, timeout=600, interval=2, what="the good events to be coded")
    prefix = f"{tenant}:bad".encode()

    async def all_dead_lettered():
        letters = await records_on(
            stack.kafka_bootstrap,
            ENCOUNTER_DOCUMENTED.dlq,
            lambda r: (r.key or b"").startswith(prefix),
        )
        return letters if len({r.key for r in letters}) >= BAD else None

    letters = await wait_for(all_dead_lettered, timeout=300, interval=5, what="10,000 letters")
    assert len({r.key for r in letters}) == BAD
    assert stack.process("coding").ready()
