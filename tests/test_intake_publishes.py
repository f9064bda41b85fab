"""Intake through the real broker and database: accepted encounters become events once."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from claimflow_cli.synthetic import encounter
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED

pytestmark = pytest.mark.infra


def _parse(record) -> dict:
    """Other tests put deliberately broken messages on this topic."""
    try:
        event = json.loads(record.value)
    except (ValueError, RecursionError):
        return {}
    return event if isinstance(event, dict) else {}


async def _events_for(bootstrap: str, tenant: str, want: int, timeout_s: float = 20) -> list:
    consumer = AIOKafkaConsumer(
        ENCOUNTER_DOCUMENTED.name,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"test-{uuid.uuid4()}",
    )
    await consumer.start()
    found = []
    try:
        deadline = 0.0
        while deadline < timeout_s and len(found) < want:
            batch = await consumer.getmany(timeout_ms=500)
            deadline += 0.5
            for records in batch.values():
                found += [e for e in map(_parse, records) if e.get("tenant_id") == tenant]
    finally:
        await consumer.stop()
    return found


async def test_accepted_encounter_is_published_once_even_when_posted_twice(stack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    body = encounter(tenant, 1)
    async with httpx.AsyncClient(base_url=stack.process("intake").url) as client:
        first = await client.post("/v1/encounters", json=body, headers={"X-Tenant-ID": tenant})
        again = await client.post("/v1/encounters", json=body, headers={"X-Tenant-ID": tenant})
    assert first.status_code == 201, first.text
    assert again.status_code == 200
    assert again.json()["encounter_id"] == first.json()["encounter_id"]
    events = await _events_for(stack.kafka_bootstrap, tenant, want=2, timeout_s=8)
    assert len(events) == 1
    event = events[0]
    assert event["encounter_id"] == first.json()["encounter_id"]
    assert event["event_type"] == "encounter.documented"
    assert event["payload"]["patient"]["mrn"] == body["patient"]["mrn"]


async def test_bad_encounter_gets_422_naming_the_field_and_publishes_nothing(stack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    body = encounter(tenant, 2)
    body["providers"]["billing"]["npi"] = "1234567890"  # fails the Luhn check digit
    async with httpx.AsyncClient(base_url=stack.process("intake").url) as client:
        response = await client.post("/v1/encounters", json=body, headers={"X-Tenant-ID": tenant})
        listed = await client.get("/v1/encounters", headers={"X-Tenant-ID": tenant})
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["field"].endswith("providers.billing.npi")
    assert "check digit" in error["reason"]
    assert "1234567890" not in response.text and body["patient"]["last_name"] not in response.text
    assert listed.json() == []
    assert await _events_for(stack.kafka_bootstrap, tenant, want=1, timeout_s=3) == []
