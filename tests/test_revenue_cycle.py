"""The whole revenue cycle through the real broker, PostgreSQL and the payer simulator."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import httpx
import pytest

from claimflow_shared.x12 import read_segments
from tests.support import (
    get_json,
    new_tenant,
    postings,
    send_encounters,
    wait_for,
    wait_for_postings,
)

pytestmark = pytest.mark.infra

TERMINAL = {"paid", "partially-paid", "denied"}


async def test_300_encounters_across_3_tenants_each_reach_exactly_one_terminal_state(stack):
    tenants = [new_tenant("cycle") for _ in range(3)]
    sent = await asyncio.gather(*(send_encounters(stack, t, 100) for t in tenants))
    for tenant, ids in zip(tenants, sent, strict=True):
        rows = await wait_for_postings(stack, tenant, len(ids), timeout=300)
        per_encounter = Counter(r["encounter_id"] for r in rows)
        assert set(per_encounter) == set(ids), "every accepted encounter was posted"
        assert set(per_encounter.values()) == {1}, "no encounter was posted twice"
        assert {r["status"] for r in rows} <= TERMINAL

        async def claims_settled(tenant=tenant):
            claims = await get_json(stack, "claims", "/v1/claims", tenant)
            settled = {c["state"] for c in claims} <= {"paid", "partially_paid", "denied"}
            return claims if settled else None

        # The claim state follows remittance.received, one hop after the posting.
        claims = await wait_for(claims_settled, timeout=60, what="claim states to settle")
        assert Counter(c["encounter_id"] for c in claims) == Counter(ids)
    statuses = Counter()
    for tenant in tenants:
        statuses.update(r["status"] for r in await postings(stack, tenant))
    assert statuses["denied"] > 0 and statuses["paid"] > 0


async def test_payments_posted_equal_the_totals_of_the_simulators_835_files(stack):
    tenant = new_tenant("money")
    ids = await send_encounters(stack, tenant, 60, seed=5)
    rows = await wait_for_postings(stack, tenant, len(ids))
    our_claims = {r["claim_id"] for r in rows}
    files, after = [], 0
    while page := (await get_json(stack, "simulator", "/v1/remittances", after=after, limit=1000))[
        "files"
    ]:
        files += page
        after = page[-1]["seq"]
    bpr_total = Decimal("0")
    clp_total = Decimal("0")
    for file in files:
        segments = list(read_segments(file["content"]))
        claim_ids = {s.el(1) for s in segments if s.id == "CLP"}
        if claim_ids & our_claims:
            # One 835 per payer and billing provider, and each tenant bills as its own NPI.
            assert claim_ids <= our_claims
            bpr_total += sum(Decimal(s.el(2)) for s in segments if s.id == "BPR")
            clp_total += sum(Decimal(s.el(4)) for s in segments if s.id == "CLP")
    posted = sum(Decimal(r["paid"]) for r in rows)
    assert posted == clp_total == bpr_total
    assert posted > 0


async def test_one_tenant_cannot_see_another_tenants_claims_or_timeline(stack):
    owner, other = new_tenant("own"), new_tenant("other")
    ids = await send_encounters(stack, owner, 2, seed=41)
    rows = await wait_for_postings(stack, owner, len(ids))
    claim_id = rows[0]["claim_id"]
    async with httpx.AsyncClient(base_url=stack.process("claims").url) as client:
        mine = await client.get(f"/v1/claims/{claim_id}", headers={"X-Tenant-ID": owner})
        theirs = await client.get(f"/v1/claims/{claim_id}", headers={"X-Tenant-ID": other})
    assert mine.status_code == 200
    assert theirs.status_code == 404  # not 403: existence is not leaked
    assert await get_json(stack, "claims", "/v1/claims", other) == []
    timeline = await get_json(stack, "intake", f"/v1/timeline/{ids[0]}", other)
    assert timeline["entries"] == []
