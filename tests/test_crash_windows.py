"""A process dies at exactly the dangerous moment (test-only fault injection, see
claimflow_shared.runtime.faults), is restarted, and the batch finishes with nothing lost and
nothing doubled, as four witnesses that share no database agree: postings per encounter, the
events per claim on Kafka, the payer simulator's own receipts, and the money in its 835s."""

from __future__ import annotations

import asyncio

import pytest

from claimflow_shared.topics import ENCOUNTER_CODED
from tests.support import (
    events_on,
    new_tenant,
    reconcile,
    send_encounters,
    wait_for,
    wait_for_postings,
)

pytestmark = pytest.mark.infra

WINDOWS = [
    # After the clearinghouse took the interchange, before its answer is recorded: the very
    # same bytes go again and the payer sees each claim in one interchange.
    ("claims", "after-clearinghouse-post"),
    # After the relay published a batch, before it marked it: republished, absorbed.
    ("coding", "after-relay-send"),
    # After the database commit, before the offset commit: redelivered, absorbed.
    ("claims", "after-consumer-commit"),
    # In the middle of posting an 835: rolled back, the file is posted again, once.
    ("remittance", "mid-835-posting"),
]


@pytest.mark.parametrize(("service", "point"), WINDOWS, ids=[p for _, p in WINDOWS])
async def test_a_crash_in_the_window_loses_and_doubles_nothing(stack, service, point):
    process = stack.process(service)
    usual = process.env["CLAIMFLOW_FAULTS"]
    tenant = new_tenant(f"crash-{service[:5]}")
    try:
        process.stop()
        process.env["CLAIMFLOW_FAULTS"] = f"{usual};crash:{point}=2"
        await asyncio.to_thread(process.start().wait_ready, 90)
        ids = await send_encounters(stack, tenant, 60, seed=hash(point) % 1000)

        async def crashed() -> bool:
            return not process.running()

        await wait_for(crashed, timeout=180, interval=0.2, what=f"{service} to die at {point}")
        assert "crashing at " + point in process.log_file.read_text()
    finally:
        process.env["CLAIMFLOW_FAULTS"] = usual
        if not process.running():
            await asyncio.to_thread(process.start().wait_ready, 90)
    await wait_for_postings(stack, tenant, len(ids), timeout=300)
    await asyncio.sleep(3)  # time for a doubled effect to show
    await reconcile(stack, [tenant], set(ids))
    coded = await events_on(stack.kafka_bootstrap, ENCOUNTER_CODED.name, {tenant})
    per_encounter = {}
    for event in coded:
        per_encounter.setdefault(event["encounter_id"], set()).add(event["event_id"])
    assert {e: len(ids_) for e, ids_ in per_encounter.items()} == dict.fromkeys(ids, 1)
