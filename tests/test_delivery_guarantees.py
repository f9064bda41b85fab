"""At-least-once delivery with exactly-once effects, dead letters, and crashes mid-batch."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest

from claimflow_cli.synthetic import encounter
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED, message_key
from tests.support import (
    event_json,
    get_json,
    new_tenant,
    postings,
    publish,
    read_topic,
    send_encounters,
    wait_for,
    wait_for_postings,
)

pytestmark = pytest.mark.infra


def _documented(tenant: str, encounter_id: str, n: int) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "encounter.documented",
        "schema_version": "1.0",
        "tenant_id": tenant,
        "encounter_id": encounter_id,
        "causation_id": None,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": "test/1",
        "payload": encounter(tenant, n, seed=99),
    }


async def test_the_same_event_delivered_twice_changes_nothing_the_second_time(stack):
    tenant = new_tenant("dup")
    event = _documented(tenant, "EDUP0001", 1)
    raw = json.dumps(event).encode()
    key = message_key(tenant, "EDUP0001")
    await publish(stack.kafka_bootstrap, ENCOUNTER_DOCUMENTED.name, key, raw)
    await publish(stack.kafka_bootstrap, ENCOUNTER_DOCUMENTED.name, key, raw)
    rows = await wait_for_postings(stack, tenant, 1)
    await asyncio.sleep(3)  # give a second copy every chance to be (wrongly) processed
    rows = await postings(stack, tenant)
    assert len(rows) == 1
    timeline = await get_json(stack, "coding", "/v1/timeline/EDUP0001", tenant)
    consumed = [e for e in timeline["entries"] if e["direction"] == "consumed"]
    produced = [e for e in timeline["entries"] if e["direction"] == "produced"]
    assert [e["event_id"] for e in consumed] == [event["event_id"]]
    assert len(produced) == 1
    claims = await get_json(stack, "claims", "/v1/claims", tenant)
    assert len(claims) == 1


async def test_a_malformed_message_goes_to_the_dlq_and_the_stage_moves_on(stack):
    tenant = new_tenant("dlq")
    key = message_key(tenant, "EPOISON1")  # same key: same partition as the good one behind
    broken = _documented(tenant, "EPOISON1", 1)
    broken["payload"]["patient"]["birth_date"] = "not-a-date"
    await publish(
        stack.kafka_bootstrap, ENCOUNTER_DOCUMENTED.name, key, json.dumps(broken).encode()
    )
    await publish(stack.kafka_bootstrap, ENCOUNTER_DOCUMENTED.name, key, b"{garbage")
    good = _documented(tenant, "EPOISON1", 2)
    await publish(stack.kafka_bootstrap, ENCOUNTER_DOCUMENTED.name, key, json.dumps(good).encode())
    await wait_for_postings(stack, tenant, 1)
    letters = await read_topic(
        stack.kafka_bootstrap,
        ENCOUNTER_DOCUMENTED.dlq,
        lambda r: r.key == key.encode(),
        timeout=20,
    )
    assert len(letters) == 2
    headers = [dict(letter.headers) for letter in letters]
    errors = [h["dlq.error"].decode() for h in headers]
    assert any("payload.patient.birth_date" in e for e in errors), errors
    assert any("not JSON" in e for e in errors), errors
    assert all(h["dlq.original_topic"] == ENCOUNTER_DOCUMENTED.name.encode() for h in headers)
    assert all(h["dlq.consumer_group"] == b"claimflow-coding" for h in headers)
    assert event_json(letters[0])["event_id"] == broken["event_id"]


@pytest.mark.parametrize("victim", ["coding", "claims", "remittance"])
async def test_a_service_killed_mid_batch_finishes_it_with_nothing_lost_or_doubled(stack, victim):
    tenant = new_tenant(f"kill-{victim}")
    ids = await send_encounters(stack, tenant, 120, seed=23)

    async def victim_has_started():
        done = {
            "coding": lambda s: s["coded"],
            "claims": lambda s: s["submitted"],
            "remittance": lambda s: s["posted"],
        }[victim](await get_json(stack, victim, "/v1/summary", tenant))
        return done >= 5

    await wait_for(
        victim_has_started,
        timeout=180,
        interval=0.1,
        what=f"{victim} to be part-way through the batch",
    )
    process = stack.process(victim)
    process.kill()
    await asyncio.sleep(1)
    process.start()
    await asyncio.to_thread(process.wait_ready, 90)
    rows = await wait_for_postings(stack, tenant, len(ids), timeout=300)
    assert Counter(r["encounter_id"] for r in rows) == Counter(ids)
    claims = await get_json(stack, "claims", "/v1/claims", tenant)
    assert Counter(c["encounter_id"] for c in claims) == Counter(ids)
