"""The claim lifecycle through the real broker, PostgreSQL, the services and the payer
simulator: 837P and 837I accepted and paid, every scrubber edit held with its code, a 277CA
rejection, a replacement and a void, and the patient's share billed to the secondary payer."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from claimflow_shared.events import EventEnvelope
from claimflow_shared.events.models import EncounterCoded
from claimflow_shared.topics import (
    CLAIM_ACCEPTED,
    CLAIM_HELD,
    CLAIM_REJECTED,
    CLAIM_STATE_CHANGED,
    ENCOUNTER_CODED,
    REMITTANCE_RECEIVED,
)
from claimflow_shared.x12 import read_segments
from services.claims.tests.integration.lifecycle_support import coded_visit, pyx12_errors
from tests.support import (
    events_on,
    get_json,
    new_tenant,
    publish,
    send_encounters,
    wait_for,
    wait_for_postings,
)

pytestmark = pytest.mark.infra

ADJUDICATED = {"paid", "partially_paid", "denied"}
PAID = {"paid", "partially_paid"}
CLAIMFLOW = str(Path(sys.executable).parent / "claimflow")


async def publish_coded(stack, tenant: str, encounter_id: str, payload: EncounterCoded) -> None:
    """An `encounter.coded` as the coding service would publish it."""
    envelope = EventEnvelope[EncounterCoded](
        event_id=uuid.uuid4(),
        event_type=ENCOUNTER_CODED.event_type,
        schema_version=ENCOUNTER_CODED.version,
        tenant_id=tenant,
        encounter_id=encounter_id,
        occurred_at=datetime.now(UTC),
        producer="tests/1",
        payload=payload,
    )
    await publish(
        stack.kafka_bootstrap,
        ENCOUNTER_CODED.name,
        f"{tenant}:{encounter_id}",
        envelope.model_dump_json().encode(),
    )


async def claims_of(stack, tenant: str, **params) -> list[dict]:
    return await get_json(stack, "claims", "/v1/claims", tenant, **params)


async def claim(stack, tenant: str, claim_id: str) -> dict:
    return await get_json(stack, "claims", f"/v1/claims/{claim_id}", tenant)


async def command(stack, tenant: str, claim_id: str, action: str, body: dict) -> dict:
    async with httpx.AsyncClient(base_url=stack.process("claims").url, timeout=30) as client:
        response = await client.post(
            f"/v1/claims/{claim_id}/{action}", json=body, headers={"X-Tenant-ID": tenant}
        )
    assert response.status_code == 200, response.text
    return response.json()


async def wait_claim(stack, tenant: str, claim_id: str, states: set[str], timeout=120) -> dict:
    async def reached():
        found = await claim(stack, tenant, claim_id)
        return found if found["state"] in states else None

    return await wait_for(reached, timeout=timeout, what=f"{claim_id} in {sorted(states)}")


async def interchange(stack, tenant: str, claim_id: str) -> str:
    async with httpx.AsyncClient(base_url=stack.process("claims").url, timeout=30) as client:
        response = await client.get(f"/v1/claims/{claim_id}/x12", headers={"X-Tenant-ID": tenant})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/edi-x12")
    return response.text


async def test_clean_837p_and_837i_claims_are_accepted_and_then_paid(stack):
    tenant = new_tenant("both")
    ids = await send_encounters(stack, tenant, 24, seed=23)
    await wait_for_postings(stack, tenant, len(ids), timeout=240)

    async def settled():
        rows = await claims_of(stack, tenant)
        return rows if rows and {r["state"] for r in rows} <= ADJUDICATED else None

    rows = await wait_for(settled, timeout=60, what="claim states to follow the 835s")
    accepted = {
        e["payload"]["claim_id"]: e["payload"]
        for e in await events_on(stack.kafka_bootstrap, CLAIM_ACCEPTED.name, {tenant})
    }
    for claim_type, guide in (("837P", "005010X222A1"), ("837I", "005010X223A2")):
        paid = [r for r in rows if r["claim_type"] == claim_type and r["state"] in PAID]
        assert paid, f"no {claim_type} claim was paid"
        first = paid[0]
        assert accepted[first["claim_id"]]["accepted_by"] == "277CA"
        assert accepted[first["claim_id"]]["payer_claim_number"] == first["payer_claim_number"]
        steps = [s["to_state"] for s in (await claim(stack, tenant, first["claim_id"]))["timeline"]]
        assert steps.index("accepted") < steps.index(first["state"])
        text = await interchange(stack, tenant, first["claim_id"])
        assert next(s.el(3) for s in read_segments(text) if s.id == "ST") == guide
        assert f"CLM*{first['claim_id']}*" in text


def _edit_variants() -> dict[str, dict]:
    today = date.today()
    return {
        "taxonomy": dict(taxonomy="999Z00000X"),
        "diagnosis-pointer": dict(lines=[("99213", 1, [], [4])]),
        "subscriber": dict(relationship="19"),
        "billing-provider-address": dict(billing_postal="27601", payer_id="SIMPAYER2"),
        "mue": dict(lines=[("36415", 3, [], [1])]),
        "ncci-ptp": dict(lines=[("99284", 1, [], [1]), ("99283", 1, [], [1])]),
        "medical-necessity": dict(lines=[("93000", 1, [], [1])], diagnoses=["J06.9"]),
        "age-sex": dict(diagnoses=["N40.0"], sex="F"),
        "service-date": dict(service_date=today + timedelta(days=2)),
        "timely-filing": dict(service_date=today - timedelta(days=400)),
        "duplicate-line": dict(lines=[("97110", 1, [], [1]), ("97110", 1, [], [1])]),
        "charges": dict(lines=[("99499", 1, [], [1])]),
        "institutional": dict(facility=True, encounter_class="inpatient", place_of_service="21"),
    }


async def test_each_scrubber_edit_holds_a_claim_with_its_edit_code(stack):
    tenant = new_tenant("edits")
    variants = _edit_variants()
    for n, visit in enumerate(variants.values()):
        await publish_coded(stack, tenant, f"EDIT{n:03d}", coded_visit(mrn=f"MRNE{n}", **visit))
    await publish_coded(stack, tenant, "EDUP1", coded_visit(mrn="MRNDUP"))
    await publish_coded(stack, tenant, "EDUP2", coded_visit(mrn="MRNDUP"))

    async def charged():
        rows = await claims_of(stack, tenant)
        return rows if len(rows) == len(variants) + 2 else None

    rows = await wait_for(charged, timeout=90, what="a claim for every encounter")
    by_encounter = {r["encounter_id"]: r for r in rows}
    for n, edit in enumerate(variants):
        record = by_encounter[f"EDIT{n:03d}"]
        errors = {f["edit"] for f in record["findings"] if f["severity"] == "error"}
        assert (edit, record["state"]) == (edit, "held") and edit in errors, (edit, errors)
    # The two copies travel on two partitions: whichever comes second is the duplicate.
    pair = [by_encounter["EDUP1"], by_encounter["EDUP2"]]
    assert sorted(r["state"] for r in pair) == ["held", "scrubbed"] or sorted(
        r["state"] == "held" for r in pair
    ) == [False, True]
    [duplicate] = [r for r in pair if r["state"] == "held"]
    assert {f["edit"] for f in duplicate["findings"]} == {"duplicate-claim"}
    events = await events_on(stack.kafka_bootstrap, CLAIM_HELD.name, {tenant})
    codes = {f["edit"] for e in events for f in e["payload"]["findings"]}
    assert set(variants) | {"duplicate-claim"} <= codes
    assert all(e["payload"]["stage"] == "scrubber" for e in events)
    assert all(f["hint"] for e in events for f in e["payload"]["findings"])


async def test_a_released_claim_the_payer_rejects_lands_as_claim_rejected(stack):
    tenant = new_tenant("reject")
    tomorrow = date.today() + timedelta(days=1)
    await publish_coded(stack, tenant, "EREJ1", coded_visit(service_date=tomorrow))

    async def held():
        rows = await claims_of(stack, tenant, state="held")
        return rows or None

    [record] = await wait_for(held, timeout=60, what="the claim to be held")
    await command(stack, tenant, record["claim_id"], "release", {"reason": "date is right"})
    rejected = await wait_claim(stack, tenant, record["claim_id"], {"rejected"})
    [sent] = rejected["submissions"]
    assert (sent["ack_999"], sent["ack_277ca"]) == ("accepted", "rejected")
    events = await events_on(stack.kafka_bootstrap, CLAIM_REJECTED.name, {tenant})
    stages = [
        e["payload"]["stage"] for e in events if e["payload"]["claim_id"] == record["claim_id"]
    ]
    assert stages == ["scrubber", "277CA"], "held first (for claim.rejected 1.0 readers)"
    [event] = [e for e in events if e["payload"]["stage"] == "277CA"]
    assert any(code.startswith("A7:187") for code in event["payload"]["codes"])
    steps = [(s["event"], s["actor"]) for s in rejected["timeline"]]
    assert ("released", f"operator:dev-{tenant}") in steps, "the biller who released it"


async def test_a_corrected_claim_replaces_the_original_and_a_void_cancels_it(stack):
    tenant = new_tenant("fix")
    await publish_coded(
        stack,
        tenant,
        "EFIX1",
        coded_visit(mrn="MRNFIX1", lines=[("97110", 2, [], [1])], diagnoses=["M54.50"]),
    )
    await publish_coded(stack, tenant, "EFIX2", coded_visit(mrn="MRNFIX2"))

    async def both_adjudicated():
        rows = await claims_of(stack, tenant)
        return rows if len(rows) == 2 and {r["state"] for r in rows} <= ADJUDICATED else None

    rows = await wait_for(both_adjudicated, timeout=120, what="both originals adjudicated")
    first, second = sorted(rows, key=lambda r: r["encounter_id"])

    replacement = await command(
        stack,
        tenant,
        first["claim_id"],
        "correct",
        {"reason": "three units documented", "corrections": [{"line_number": 1, "units": 3}]},
    )
    assert replacement["frequency_code"] == "7"
    assert replacement["original_claim_id"] == first["claim_id"]
    text = await _sent(stack, tenant, replacement["claim_id"])
    refs = [s.el(2) for s in read_segments(text) if s.id == "REF" and s.el(1) == "F8"]
    assert refs == [first["payer_claim_number"]]
    await wait_claim(stack, tenant, replacement["claim_id"], ADJUDICATED)

    async def original_reversed():
        found = await claim(stack, tenant, first["claim_id"])
        statuses = [p["status"] for p in found["payments"]]
        return found if "reversed" in statuses else None

    original = await wait_for(original_reversed, timeout=90, what="the original's reversal")
    assert original["state"] == "corrected"

    void = await command(stack, tenant, second["claim_id"], "void", {"reason": "wrong patient"})
    assert void["frequency_code"] == "8"
    closed = await wait_claim(stack, tenant, void["claim_id"], {"closed"})
    assert closed["timeline"][-1]["event"] == "original_reversed"
    voided = await claim(stack, tenant, second["claim_id"])
    assert voided["state"] == "voided"
    assert "reversed" in [p["status"] for p in voided["payments"]]


async def _sent(stack, tenant: str, claim_id: str) -> str:
    async def sent():
        found = await claim(stack, tenant, claim_id)
        return found if found["submissions"] else None

    await wait_for(sent, timeout=60, what=f"{claim_id} to be sent")
    return await interchange(stack, tenant, claim_id)


def _medicare_and_medigap(n: int) -> list[dict]:
    return [
        {
            "payer": {"payer_id": "SIMPAYER2", "name": "SIMULATED MEDICARE ADV"},
            "member_id": f"MA{n:06d}",
            "priority": "primary",
        },
        {
            "payer": {"payer_id": "SIMMEDIGAP", "name": "SIMULATED MEDIGAP CARRIER"},
            "member_id": f"MG{n:06d}",
            "priority": "secondary",
        },
    ]


async def test_the_patients_share_is_billed_to_the_secondary_payer_which_pays_it(stack):
    tenant = new_tenant("cob")
    for n in range(3):
        visit = coded_visit(
            mrn=f"MRNCOB{n}",
            lines=[("99214", 1, [], [1]), ("80053", 1, [], [1]), ("36415", 1, [], [1])],
            diagnoses=["E11.9", "I10"],
            coverages=_medicare_and_medigap(n),
        )
        await publish_coded(stack, tenant, f"ECOB{n}", visit)

    async def secondary_paid():
        rows = await claims_of(stack, tenant)
        paid = [r for r in rows if r["payer_responsibility"] == "secondary" and r["state"] in PAID]
        return paid or None

    [secondary, *_] = await wait_for(secondary_paid, timeout=180, what="a paid secondary claim")
    assert secondary["payer_id"] == "SIMMEDIGAP" and secondary["original_claim_id"]
    primary = await claim(stack, tenant, secondary["original_claim_id"])
    assert primary["state"] in PAID
    text = await interchange(stack, tenant, secondary["claim_id"])
    with tempfile.TemporaryDirectory() as tmp:
        assert pyx12_errors(text, Path(tmp)) == []
    segments = _claim_loop(text, secondary["claim_id"])
    amt_d = [Decimal(s.el(2)) for s in segments if s.id == "AMT" and s.el(1) == "D"]
    assert amt_d == [Decimal(primary["paid"])], "the primary's payment in 2320"
    assert any(s.id == "SVD" and s.el(1) == "SIMPAYER2" for s in segments)
    received = await events_on(stack.kafka_bootstrap, REMITTANCE_RECEIVED.name, {tenant})
    [as_secondary] = [e for e in received if e["payload"]["claim_id"] == secondary["claim_id"]]
    assert as_secondary["payload"]["status_code"] == "2"
    assert Decimal(as_secondary["payload"]["paid"]) > 0
    changes = await events_on(stack.kafka_bootstrap, CLAIM_STATE_CHANGED.name, {tenant})
    billed = [
        t
        for e in changes
        if e["payload"]["claim_id"] == primary["claim_id"]
        for t in e["payload"]["transitions"]
        if t["event"] == "next_payer_billed"
    ]
    assert len(billed) == 1 and secondary["claim_id"] in billed[0]["reason"]


def _claim_loop(text: str, claim_id: str) -> list:
    """The segments of one claim's loop 2300 and below in an interchange."""
    found, inside = [], False
    for segment in read_segments(text):
        if segment.id in {"CLM", "HL", "SE"}:
            inside = segment.id == "CLM" and segment.el(1) == claim_id
        if inside:
            found.append(segment)
    return found


def _claimflow(stack, *args: str) -> subprocess.CompletedProcess:
    stack.save()
    return subprocess.run(
        [CLAIMFLOW, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"CLAIMFLOW_HOME": str(stack.home), "PATH": "/usr/bin:/bin"},
    )


async def test_the_cli_imports_a_fee_schedule_and_finds_the_claims_it_priced(stack, tmp_path):
    tenant = new_tenant("fees")
    schedule = tmp_path / "fees.csv"
    schedule.write_text("code_system,code,modifier,unit_price\nCPT,99213,,155.00\n")
    done = await asyncio.to_thread(
        _claimflow, stack, "fees", "import", str(schedule), "--tenant", tenant, "--payer",
        "SIMPAYER1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    await publish_coded(stack, tenant, "EFEE1", coded_visit(mrn="MRNFEE1"))

    async def priced():
        rows = await claims_of(stack, tenant)
        return rows or None

    [record] = await wait_for(priced, timeout=60, what="the claim to be charged")
    assert record["total_charge"] == "155.00"
    found = await asyncio.to_thread(
        _claimflow, stack, "claims", "search", "--tenant", tenant, "--payer", "SIMPAYER1", "--json"
    )
    assert found.returncode == 0, found.stderr[-2000:]
    assert [r["claim_id"] for r in json.loads(found.stdout)] == [record["claim_id"]]
    bad = tmp_path / "bad.csv"
    bad.write_text("code_system,code,modifier,unit_price\nCPT,99213,,lots\n")
    refused = await asyncio.to_thread(
        _claimflow, stack, "fees", "import", str(bad), "--tenant", tenant
    )
    assert refused.returncode == 1 and "unit_price" in refused.stderr
