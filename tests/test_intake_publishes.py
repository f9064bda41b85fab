"""Intake through the real broker and database: accepted encounters become events once."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from claimflow_cli.synthetic import encounter
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED
from tests.support import events_on

pytestmark = pytest.mark.infra


async def _events_for(bootstrap: str, tenant: str) -> list:
    """The tenant's events on the topic, to its end as it is after the relay had its time."""
    await asyncio.sleep(2)
    return await events_on(bootstrap, ENCOUNTER_DOCUMENTED.name, {tenant})


async def test_accepted_encounter_is_published_once_even_when_posted_twice(stack):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    body = encounter(tenant, 1)
    async with httpx.AsyncClient(base_url=stack.process("intake").url) as client:
        first = await client.post("/v1/encounters", json=body, headers={"X-Tenant-ID": tenant})
        again = await client.post("/v1/encounters", json=body, headers={"X-Tenant-ID": tenant})
    assert first.status_code == 201, first.text
    assert again.status_code == 200
    assert again.json()["encounter_id"] == first.json()["encounter_id"]
    events = await _events_for(stack.kafka_bootstrap, tenant)
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
    assert await _events_for(stack.kafka_bootstrap, tenant) == []
