"""JSON, FHIR and HL7 v2 through the HTTP API over a real database: one answer per
encounter, idempotent retries, amendments published as such, nothing for what is refused."""

from __future__ import annotations

import json

from claimflow_cli.synthetic import encounter
from services.intake.tests.integration.master_data import set_up_tenant
from services.intake.tests.unit.builders import (
    hl7_message,
    hl7_segments,
    json_encounter,
    read_synthea,
    synthea_file,
    synthea_patient_files,
)

ACME = {"X-Tenant-ID": "acme"}
GLOBEX = {"X-Tenant-ID": "globex"}


async def test_an_idempotent_retry_gets_the_same_answer_and_publishes_once(intake):
    body = encounter("acme", 1)
    headers = {**ACME, "Idempotency-Key": "req-1"}
    first = await intake.client.post("/v1/encounters", json=body, headers=headers)
    again = await intake.client.post("/v1/encounters", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = await intake.client.post("/v1/encounters", json=encounter("acme", 2), headers=headers)
    assert other.status_code == 422
    assert len(await intake.published("acme")) == 1


async def test_without_a_key_the_same_document_is_a_duplicate_and_changed_content_an_amendment(
    intake,
):
    body = encounter("acme", 1)
    first = await intake.client.post("/v1/encounters", json=body, headers=ACME)
    again = await intake.client.post("/v1/encounters", json=body, headers=ACME)
    changed = "22" if body["place_of_service"] != "22" else "11"
    amended = await intake.client.post(
        "/v1/encounters", json={**body, "place_of_service": changed}, headers=ACME
    )
    assert (first.status_code, again.status_code, amended.status_code) == (201, 200, 200)
    assert again.json()["status"] == "duplicate"
    assert amended.json() == {
        "encounter_id": first.json()["encounter_id"],
        "status": "amended",
        "revision": 2,
    }
    events = await intake.published("acme")
    assert [e["schema_version"] for e in events] == ["1.1", "1.1"]
    assert events[1]["payload"]["amendment"]["changed"] == ["place_of_service"]
    view = (
        await intake.client.get(f"/v1/encounters/{first.json()['encounter_id']}", headers=ACME)
    ).json()
    assert (view["status"], view["revision"], view["stopped"]) == ("amended", 2, False)
    assert [t["event_type"] for t in view["timeline"]] == ["encounter.documented"] * 2


async def test_a_rejected_encounter_names_the_field_without_its_value(intake):
    body = encounter("acme", 1)
    body["patient"]["birth_date"] = "2199-01-01"
    response = await intake.client.post("/v1/encounters", json=body, headers=ACME)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["location"] == "/patient/birth_date"
    assert error["field"].endswith("patient.birth_date")
    assert "2199" not in response.text
    assert await intake.published() == []


async def test_a_batch_is_all_or_nothing_with_pointers_into_the_batch(intake):
    bad = encounter("acme", 2)
    bad["providers"]["billing"]["npi"] = "1234567890"
    response = await intake.client.post(
        "/v1/encounters/batch", json={"encounters": [encounter("acme", 1), bad]}, headers=ACME
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["location"] == "/encounters/1/providers/billing/npi"
    assert await intake.published() == []
    ok = await intake.client.post(
        "/v1/encounters/batch", json={"encounters": [encounter("acme", 1)]}, headers=ACME
    )
    assert ok.status_code == 201 and ok.json()["results"][0]["status"] == "accepted"


async def test_what_is_not_json_is_a_422_never_a_500(intake):
    for body in (b"{", b"\xff\xfe", b"[]", b"null", b'{"encounters": 7}', b"[" * 100_000):
        for path in ("/v1/encounters", "/v1/encounters/batch"):
            response = await intake.client.post(path, content=body, headers=ACME)
            assert response.status_code == 422, (path, body[:10], response.text)


async def test_one_tenant_cannot_see_another_tenants_encounters(intake):
    accepted = await intake.client.post("/v1/encounters", json=encounter("acme", 1), headers=ACME)
    encounter_id = accepted.json()["encounter_id"]
    theirs = await intake.client.get(f"/v1/encounters/{encounter_id}", headers=GLOBEX)
    assert theirs.status_code == 404
    assert (await intake.client.get("/v1/encounters", headers=GLOBEX)).json() == []
    assert len((await intake.client.get("/v1/encounters", headers=ACME)).json()) == 1


async def test_json_payer_names_resolve_through_the_registry(intake):
    await set_up_tenant(intake.client, "acme")
    response = await intake.client.post("/v1/encounters", json=json_encounter(1), headers=ACME)
    assert response.status_code == 201, response.text
    (event,) = await intake.published("acme")
    assert event["payload"]["coverages"][0]["payer"]["payer_id"] == "BCBS"
    unknown = json_encounter(2, coverages=[{"payer": {"name": "Acme Mutual"}, "member_id": "W1"}])
    refused = await intake.client.post("/v1/encounters", json=unknown, headers=ACME)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["location"] == "/coverages/0/payer/name"


# --- FHIR ------------------------------------------------------------------------------------


async def _load_synthea_directory(intake, tenant: str) -> None:
    for name in ("practitionerInformation", "hospitalInformation"):
        response = await intake.client.post(
            "/v1/fhir",
            content=synthea_file(name),
            headers={"X-Tenant-ID": tenant, "Content-Type": "application/fhir+json"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["results"] == []


async def test_synthea_bundles_answer_every_encounter_by_its_fhir_id(intake):
    await set_up_tenant(intake.client, "acme")
    await _load_synthea_directory(intake, "acme")
    tenant = (await intake.client.get("/v1/tenant", headers=ACME)).json()
    assert tenant["providers"] == 2 + 22 + 22 and tenant["facilities"] == 23
    path = next(p for p in synthea_patient_files() if p.name.startswith("Dennise990"))
    raw = read_synthea(path)
    headers = {**ACME, "Content-Type": "application/fhir+json"}
    url = "/v1/fhir?source_system=synthea"
    answer = (await intake.client.post(url, content=raw, headers=headers)).json()
    resources = [e["resource"] for e in json.loads(raw)["entry"]]
    encounter_ids = [r["id"] for r in resources if r["resourceType"] == "Encounter"]
    assert [r["fhir_id"] for r in answer["results"]] == encounter_ids
    outcomes = [r["outcome"] for r in answer["results"]]
    assert outcomes.count("accepted") == 17 and outcomes.count("rejected") == 7
    assert all(r["encounter_id"] for r in answer["results"] if r["outcome"] == "accepted")
    assert all("self-pay" in r["problems"][0]["reason"] for r in answer["results"] if r["problems"])
    events = await intake.published("acme")
    assert len(events) == 17
    again = (await intake.client.post(url, content=raw, headers=headers)).json()
    assert [r["outcome"] for r in again["results"]].count("duplicate") == 17
    assert len(await intake.published("acme")) == 17


async def test_a_bundle_that_is_not_a_bundle_is_a_422_naming_the_field(intake):
    headers = {**ACME, "Content-Type": "application/fhir+json"}
    for body, where in (
        (b'{"resourceType": "Patient"}', "/resourceType"),
        (b'{"resourceType": "Bundle", "type": "searchset"}', "/type"),
        (b"not json", "/"),
    ):
        response = await intake.client.post("/v1/fhir", content=body, headers=headers)
        assert response.status_code == 422
        assert response.json()["detail"][0]["location"] == where
    xml = {**ACME, "Content-Type": "text/xml"}
    wrong = await intake.client.post("/v1/fhir", content=b"{}", headers=xml)
    assert wrong.status_code == 415


# --- HL7 v2 ----------------------------------------------------------------------------------


async def test_hl7_over_http_is_answered_with_an_ack(intake):
    await set_up_tenant(intake.client, "acme")
    good = await intake.client.post("/v1/hl7", content=hl7_message(hl7_segments()), headers=ACME)
    assert good.status_code == 200 and "MSA|AA|MSG0001" in good.text
    assert good.headers["content-type"].startswith("x-application/hl7-v2+er7")
    segments = hl7_segments()
    segments["FT1"] = {**segments["FT1"], 20: "1234567890^Nobody^No^^^^^^NPI^^^^NPI"}
    segments["MSH"] = {**segments["MSH"], 10: "MSG0002"}
    segments["PV1"] = {**segments["PV1"], 7: "", 19: "V-2002"}
    bad = await intake.client.post("/v1/hl7", content=hl7_message(segments), headers=ACME)
    assert "MSA|AE|MSG0002" in bad.text and "\rERR|" in bad.text
    assert len(await intake.published("acme")) == 1
