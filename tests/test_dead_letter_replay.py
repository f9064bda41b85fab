"""Dead letters replayed through a service's operator API, on the real broker and PostgreSQL:
only with an operator key; each letter put back on its original topic once, marked with who
replayed it, and not again unless asked; the replayed record is consumed again (a record
that is still poison comes back as a new letter)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from claimflow_shared.runtime.tenancy import hash_api_key
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED
from tests.stacks import POISON_PREFIX
from tests.support import documented_event, new_tenant, read_topic

pytestmark = pytest.mark.infra


async def test_an_operator_replays_a_dead_letter_once_and_the_replay_is_marked(stack):
    tenant = new_tenant("replay")
    encounter_id = f"{POISON_PREFIX}R{uuid.uuid4().hex[:8].upper()}"
    key = f"{tenant}:{encounter_id}".encode()
    value = documented_event(tenant, encounter_id, 1, seed=5)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(ENCOUNTER_DOCUMENTED.name, value, key=key)
    finally:
        await producer.stop()
    dlq = ENCOUNTER_DOCUMENTED.dlq
    (letter,) = await read_topic(stack.kafka_bootstrap, dlq, lambda r: r.key == key, 60)

    keys = stack.home / "api-keys"
    keys.write_text(
        f"ops:operator:*:{hash_api_key('ops-secret')}\n"
        f"clerk:tenant:{tenant}:{hash_api_key('clerk-secret')}\n"
    )
    ops, clerk = {"X-API-Key": "ops-secret"}, {"X-API-Key": "clerk-secret"}
    body = {"dlq_topic": dlq, "offsets": [letter.offset]}
    base = stack.process("coding").url
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            assert (await client.post("/v1/ops/dlq/replay", json=body)).status_code == 401
            refused = await client.post("/v1/ops/dlq/replay", json=body, headers=clerk)
            assert refused.status_code == 403

            def listed(answer: httpx.Response) -> dict:
                (mine,) = [x for x in answer.json()["letters"] if x["offset"] == letter.offset]
                return mine

            before = await client.get("/v1/ops/dlq", params={"limit": 1000}, headers=ops)
            assert listed(before)["replayed"] is False

            first = await client.post("/v1/ops/dlq/replay", json=body, headers=ops)
            assert first.json() == {"service": "coding", "replayed": 1, "skipped": 0}
            again = await client.post("/v1/ops/dlq/replay", json=body, headers=ops)
            assert (again.json()["replayed"], again.json()["skipped"]) == (0, 1)
            after = await client.get("/v1/ops/dlq", params={"limit": 1000}, headers=ops)
            assert listed(after)["replayed"] is True
    finally:
        keys.unlink()

    originals = await read_topic(
        stack.kafka_bootstrap, ENCOUNTER_DOCUMENTED.name, lambda r: r.key == key, 60, count=2
    )
    assert len(originals) == 2, "the letter went back to its topic once"
    replayed = dict(originals[1].headers)
    assert originals[1].value == value
    assert replayed["dlq.replayed_by"] == b"operator:ops"
    assert replayed["dlq.replayed_from"] == f"{dlq}@{letter.offset}".encode()
    # Coding took the replayed record again; still poison, it is a new letter of its own.
    letters = await read_topic(stack.kafka_bootstrap, dlq, lambda r: r.key == key, 60, count=2)
    assert len(letters) == 2 and letters[1].offset > letter.offset
