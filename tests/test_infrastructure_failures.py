"""The broker or the database dies mid-batch: when it comes back, the batch finishes with
nothing lost and nothing doubled. Needs the local runners (it kills their processes)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.support import get_json, new_tenant, postings, send_encounters, wait_for

pytestmark = pytest.mark.infra


async def _finishes_exactly_once(stack, tenant: str, ids: list[str]) -> None:
    async def all_posted():
        rows = await postings(stack, tenant)
        return rows if len({r["encounter_id"] for r in rows}) >= len(ids) else None

    rows = await wait_for(all_posted, timeout=300, what="the batch to finish")
    await asyncio.sleep(2)
    rows = await postings(stack, tenant)
    assert Counter(r["encounter_id"] for r in rows) == Counter(ids)
    claims = await get_json(stack, "claims", "/v1/claims", tenant)
    assert Counter(c["encounter_id"] for c in claims) == Counter(ids)


async def _outage_mid_batch(stack, *, tenant: str, seed: int, stop, start) -> None:
    ids = await send_encounters(stack, tenant, 120, seed=seed)

    async def flowing() -> bool:
        return len(await postings(stack, tenant)) >= 5

    await wait_for(flowing, timeout=120, interval=0.1, what="the batch to start flowing")
    await asyncio.to_thread(stop)
    await asyncio.sleep(3)
    await asyncio.to_thread(start)
    await _finishes_exactly_once(stack, tenant, ids)


async def test_a_killed_broker_restarted_loses_and_doubles_nothing(stack, infra):
    if infra.broker is None:
        pytest.skip("the broker is not ours to kill (external or testcontainers)")
    await _outage_mid_batch(
        stack,
        tenant=new_tenant("broker"),
        seed=31,
        stop=infra.broker.kill,
        start=infra.broker.start,
    )


async def test_a_database_restart_mid_batch_is_retried_without_skipping(stack, infra):
    if infra.postgres is None:
        pytest.skip("the database is not ours to stop (external or testcontainers)")
    await _outage_mid_batch(
        stack,
        tenant=new_tenant("pgdown"),
        seed=37,
        stop=lambda: infra.postgres.stop("immediate"),
        start=infra.postgres.start,
    )
