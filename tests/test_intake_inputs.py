"""Intake's inputs through the real broker, PostgreSQL and the other stages: Synthea FHIR
bundles yield exactly their billable encounters as events and each runs on until the cycle
stops; HL7 v2 over MLLP is ACKed and published, or NAKed with ERR and publishes nothing; an
amendment reaches claims; one tenant never sees another's encounters, payers or providers."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest

from claimflow_cli.synthetic import encounter
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED
from services.intake.tests.unit.builders import (
    hl7_message,
    hl7_segments,
    json_encounter,
    read_synthea,
    synthea_file,
    synthea_patient_files,
)
from tests.intake_support import (
    encounter_view,
    end_offsets,
    events_since,
    intake_client,
    mllp_exchange,
    mllp_port,
    set_up_tenant,
    wait_for_events,
)
from tests.support import get_json, new_tenant, wait_for

pytestmark = pytest.mark.infra

FHIR = {"Content-Type": "application/fhir+json"}


def billable_by_hand(raw: dict) -> dict[str, bool]:
    """Which encounters a biller would send, read straight from the JSON (not through
    intake): a payer other than "no insurance" on a non-pharmacy claim of the encounter,
    and a patient address with a real ZIP code."""
    resources = [e["resource"] for e in raw["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    real_zip = patient["address"][0].get("postalCode", "00000") != "00000"
    payers: dict[str, set[str]] = {}
    for claim in (r for r in resources if r["resourceType"] == "Claim"):
        if claim["type"]["coding"][0]["code"] == "pharmacy":
            continue
        for item in claim["item"]:
            for ref in item.get("encounter", []):
                encounter_id = ref["reference"].removeprefix("urn:uuid:")
                payers.setdefault(encounter_id, set()).update(
                    i["coverage"]["display"] for i in claim["insurance"]
                )
    return {
        r["id"]: real_zip and bool(payers.get(r["id"])) and "NO_INSURANCE" not in payers[r["id"]]
        for r in resources
        if r["resourceType"] == "Encounter"
    }


async def test_synthea_bundles_yield_exactly_their_billable_encounters_and_each_runs_until_the_cycle_stops(  # noqa: E501
    stack,
):
    tenant = new_tenant("synthea")
    headers = {"X-Tenant-ID": tenant}
    start = await end_offsets(stack.kafka_bootstrap)
    accepted: dict[str, str] = {}  # FHIR encounter id -> ClaimFlow encounter id
    async with intake_client(stack) as client:
        await set_up_tenant(client, tenant)
        for name in ("practitionerInformation", "hospitalInformation"):
            loaded = await client.post(
                "/v1/fhir", content=synthea_file(name), headers={**headers, **FHIR}
            )
            assert loaded.status_code == 200, loaded.text
        for path in synthea_patient_files():
            raw = read_synthea(path)
            response = await client.post(
                "/v1/fhir?source_system=synthea", content=raw, headers={**headers, **FHIR}
            )
            assert response.status_code == 200, response.text
            expected = billable_by_hand(json.loads(raw))
            results = response.json()["results"]
            assert [r["fhir_id"] for r in results] == list(expected)
            for result in results:
                assert (result["outcome"] == "accepted") == expected[result["fhir_id"]], result
                if result["outcome"] == "accepted":
                    accepted[result["fhir_id"]] = result["encounter_id"]
                else:
                    assert result["problems"] and result["encounter_id"] is None
        assert len(accepted) >= 50

        events = await wait_for_events(stack.kafka_bootstrap, start, {tenant}, len(accepted))
        assert sorted(e["encounter_id"] for e in events) == sorted(accepted.values())
        assert {e["payload"]["source"]["document_id"] for e in events} == set(accepted)
        assert {e["event_type"] for e in events} == {ENCOUNTER_DOCUMENTED.event_type}

        async def all_stopped():
            views = [await encounter_view(client, tenant, e) for e in accepted.values()]
            return views if all(v["stopped"] for v in views) else None

        # Coding, claims and the payer move each encounter on until only a person or the
        # payer could move it further: paid or denied, or a coder query, or a held claim.
        views = await wait_for(all_stopped, timeout=180, interval=2, what="every cycle to stop")
    for view in views:
        stages = [t["event_type"] for t in view["timeline"]]
        assert stages[0] == "encounter.documented"
        assert "encounter.coded" in stages or "coding.query-raised" in stages


async def test_an_hl7_dft_over_mllp_is_acked_and_published_a_bad_one_naked_and_publishes_nothing(
    stack,
):
    tenant = new_tenant("hl7")
    facility = f"HOSP{uuid.uuid4().hex[:8].upper()}"
    async with intake_client(stack) as client:
        await set_up_tenant(client, tenant, hl7_facilities=[facility])
    start = await end_offsets(stack.kafka_bootstrap)

    def dft(control_id: str, visit: str, **changes: dict[int, str]) -> bytes:
        segments = hl7_segments()
        segments["MSH"] = {**segments["MSH"], 4: facility, 10: control_id}
        segments["PV1"] = {**segments["PV1"], 19: visit}
        for name, fields in changes.items():
            segments[name] = {**segments[name], **fields}
        return hl7_message(segments).encode()

    unrouted = hl7_segments()
    unrouted["MSH"] = {**unrouted["MSH"], 4: f"NOBODY{uuid.uuid4().hex[:6]}", 10: "MSG-X"}
    answers = await mllp_exchange(
        mllp_port(stack),
        [
            dft("MSG-1", "V-1"),
            dft("MSG-2", "V-2", PID={7: "20991231"}),
            hl7_message(unrouted).encode(),
            b"\x00\x01 not hl7 at all",
            dft("MSG-3", "V-3"),
        ],
    )
    good, bad, lost, garbage, after = (a.split("\r") for a in answers)
    assert good[1].startswith("MSA|AA|MSG-1")
    assert bad[1].startswith("MSA|AE|MSG-2")
    err = next(s for s in bad if s.startswith("ERR"))
    assert "PID^1^7" in err and "20991231" not in answers[1]
    assert lost[1].startswith("MSA|AR|MSG-X") and "MSH^1^4" in answers[2]
    assert garbage[1].startswith("MSA|AR")
    assert after[1].startswith("MSA|AA|MSG-3")

    events = await wait_for_events(stack.kafka_bootstrap, start, {tenant}, 2)
    visits = sorted(e["payload"]["source"]["document_id"] for e in events)
    assert len(events) == 2 and all(v.endswith(("V-1", "V-3")) for v in visits)
    async with intake_client(stack) as client:
        listed = (await client.get("/v1/encounters", headers={"X-Tenant-ID": tenant})).json()
    assert len(listed) == 2


async def test_an_amendment_reaches_claims_and_a_held_claim_is_rebuilt_and_paid_or_denied(stack):
    tenant = new_tenant("amend")
    headers = {"X-Tenant-ID": tenant}
    body = encounter(tenant, 1, seed=19)
    stale = (date.today() - timedelta(days=500)).isoformat()  # past timely filing: held
    body["period_start"] = body["period_end"] = stale
    for line in body["procedures"]:
        line["service_date"] = stale
    async with intake_client(stack) as client:
        first = await client.post("/v1/encounters", json=body, headers=headers)
        assert first.status_code == 201, first.text
        encounter_id = first.json()["encounter_id"]

        async def claim(states: set[str]):
            claims = await get_json(stack, "claims", "/v1/claims", tenant)
            return claims[0] if claims and claims[0]["state"] in states else None

        held = await wait_for(lambda: claim({"held"}), timeout=60, what="the claim to be held")
        assert any(f["edit"] == "timely-filing" for f in held["findings"])

        fixed = (date.today() - timedelta(days=5)).isoformat()
        body["period_start"] = body["period_end"] = fixed
        for line in body["procedures"]:
            line["service_date"] = fixed
        amended = await client.post("/v1/encounters", json=body, headers=headers)
        assert amended.status_code == 200
        assert amended.json() == {"encounter_id": encounter_id, "status": "amended", "revision": 2}

        settled = await wait_for(
            lambda: claim({"paid", "partially_paid", "denied"}),
            timeout=120,
            what="the rebuilt claim to be paid or denied",
        )
        assert settled["claim_id"] == held["claim_id"]
        detail = await get_json(stack, "claims", f"/v1/claims/{settled['claim_id']}", tenant)
        reasons = [a["reason"] or "" for a in detail["audit"]]
        assert any("rebuilt from revision 2" in r for r in reasons)
        claims_timeline = await get_json(stack, "claims", f"/v1/timeline/{encounter_id}", tenant)
        coded = [e for e in claims_timeline["entries"] if e["event_type"] == "encounter.coded"]
        assert len(coded) == 2

        view = await encounter_view(client, tenant, encounter_id)
        assert view["revision"] == 2 and view["claim_id"] == settled["claim_id"]
        assert view["status"] in ("paid", "partially-paid", "denied") and view["stopped"]


async def test_one_tenant_cannot_see_another_tenants_encounters_payers_or_providers(stack):
    owner, other = new_tenant("own"), new_tenant("other")
    mine, theirs = {"X-Tenant-ID": owner}, {"X-Tenant-ID": other}
    async with intake_client(stack) as client:
        await set_up_tenant(client, owner)
        accepted = await client.post("/v1/encounters", json=json_encounter(1), headers=mine)
        assert accepted.status_code == 201, accepted.text
        encounter_id = accepted.json()["encounter_id"]
        provider = (await client.get("/v1/providers", headers=mine)).json()[0]
        job = await client.post(
            "/v1/bulk", content=json.dumps(json_encounter(2)).encode() + b"\n", headers=mine
        )
        job_id = job.json()["job_id"]

        for path in ("/v1/encounters", "/v1/payers", "/v1/providers", "/v1/facilities", "/v1/bulk"):
            assert (await client.get(path, headers=theirs)).json() == [], path
        for path in (
            f"/v1/encounters/{encounter_id}",
            "/v1/payers/BCBS",
            f"/v1/providers/{provider['id']}",
            f"/v1/bulk/{job_id}",
            f"/v1/bulk/{job_id}/results",
        ):
            assert (await client.get(path, headers=theirs)).status_code == 404, path
        assert (await client.delete("/v1/payers/BCBS", headers=theirs)).status_code == 404
        removed = await client.delete(f"/v1/providers/{provider['id']}", headers=theirs)
        assert removed.status_code == 404
        timeline = await client.get(f"/v1/timeline/{encounter_id}", headers=theirs)
        assert timeline.json()["entries"] == []
        # The other tenant's documents are its own: the same body is a new encounter there
        # (and is refused, for it has no payers by those names).
        refused = await client.post("/v1/encounters", json=json_encounter(1), headers=theirs)
        assert refused.status_code == 422
        assert len((await client.get("/v1/payers", headers=mine)).json()) == 4
        assert (await client.get(f"/v1/encounters/{encounter_id}", headers=mine)).status_code == 200


async def test_a_replayed_request_with_its_idempotency_key_publishes_once(stack):
    tenant = new_tenant("idem")
    start = await end_offsets(stack.kafka_bootstrap)
    headers = {"X-Tenant-ID": tenant, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    async with intake_client(stack) as client:
        answers = [
            await client.post("/v1/encounters", json=encounter(tenant, 1), headers=headers)
            for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true"]
    assert len({a.json()["encounter_id"] for a in answers}) == 1
    await wait_for_events(stack.kafka_bootstrap, start, {tenant}, 1)
    assert len(await events_since(stack.kafka_bootstrap, start, {tenant})) == 1
