"""The claims HTTP API on a real database: search, one claim's story, its 837, commands,
fee schedules; tenants see only their own claims; bad parameters name the field."""

from __future__ import annotations

from claimflow_shared.x12 import read_segments
from services.claims.tests.integration.lifecycle_support import coded_visit


async def test_search_finds_claims_by_state_payer_type_and_service_dates(harness, api):
    await harness.coded(coded_visit(mrn="MRN1"), "E1")
    await harness.coded(coded_visit(mrn="MRN2", lines=[("99213", 2, [], [1])]), "E2")
    held = (await api.get("/v1/claims", params={"state": "held"})).json()
    assert [c["encounter_id"] for c in held] == ["E2"]
    assert held[0]["findings"][0]["edit"] == "mue"
    assert len((await api.get("/v1/claims", params={"payer_id": "SIMPAYER1"})).json()) == 2
    assert (await api.get("/v1/claims", params={"claim_type": "837I"})).json() == []
    assert (await api.get("/v1/claims", params={"service_to": "2000-01-01"})).json() == []
    page = (await api.get("/v1/claims", params={"limit": 1})).json()
    rest = (await api.get("/v1/claims", params={"after_id": page[0]["id"]})).json()
    assert [c["encounter_id"] for c in page + rest] == ["E1", "E2"]


async def test_bad_search_parameters_are_refused_naming_the_field(api):
    for params in ({"limit": 0}, {"after_id": -1}, {"state": "lost"}, {"limit": 10**9}):
        response = await api.get("/v1/claims", params=params)
        assert response.status_code == 422
        assert next(iter(params)) in response.text


async def test_a_claim_shows_its_lines_edits_files_acks_payments_and_timeline(harness, api):
    await harness.coded(coded_visit(mrn="MRN1"), "E1")
    await harness.submit_all()
    await harness.remit()
    [claim] = (await api.get("/v1/claims")).json()
    detail = (await api.get(f"/v1/claims/{claim['claim_id']}")).json()
    assert detail["lines"][0]["code"] == "99213" and detail["diagnoses"] == ["J069"]
    [sent] = detail["submissions"]
    assert sent["file_name"] == "837P-000000001.x12"
    assert (sent["ack_999"], sent["ack_277ca"], sent["codes"]) == (
        "accepted",
        "accepted",
        ["A2:20"],
    )
    assert sent["payer_claim_number"] == detail["payer_claim_number"]
    assert detail["payments"][0]["kind"] == "remittance"
    assert [s["to_state"] for s in detail["timeline"]][:4] == [
        "created",
        "scrubbed",
        "submitted",
        "submitted",
    ]
    x12 = await api.get(f"/v1/claims/{claim['claim_id']}/x12")
    assert x12.headers["content-type"].startswith("application/edi-x12")
    assert any(s.id == "CLM" and s.el(1) == claim["claim_id"] for s in read_segments(x12.text))


async def test_another_tenants_claim_is_not_found(harness, api):
    await harness.coded(coded_visit(mrn="MRN1"), "E1")
    [claim] = (await api.get("/v1/claims")).json()
    other = {"X-Tenant-ID": "other"}
    assert (await api.get(f"/v1/claims/{claim['claim_id']}", headers=other)).status_code == 404
    assert (await api.get(f"/v1/claims/{claim['claim_id']}/x12", headers=other)).status_code == 404
    response = await api.post(
        f"/v1/claims/{claim['claim_id']}/void", json={"reason": "x"}, headers=other
    )
    assert response.status_code == 404


async def test_correct_void_and_release_answer_with_the_claim_that_goes_on(harness, api):
    await harness.coded(coded_visit(mrn="MRN1", lines=[("99213", 2, [], [1])]), "E1")
    [held] = (await api.get("/v1/claims")).json()
    response = await api.post(
        f"/v1/claims/{held['claim_id']}/release", json={"reason": "two visits that day"}
    )
    assert response.json()["state"] == "scrubbed"
    await harness.submit_all()
    await harness.remit()
    corrected = await api.post(
        f"/v1/claims/{held['claim_id']}/correct",
        json={"reason": "one unit", "corrections": [{"line_number": 1, "units": 1}]},
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["frequency_code"] == "7"
    again = await api.post(f"/v1/claims/{held['claim_id']}/void", json={"reason": "x"})
    assert again.status_code == 409 and "corrected" in again.json()["detail"]
    unknown = await api.post(
        f"/v1/claims/{corrected.json()['claim_id']}/correct",
        json={"reason": "x", "corrections": [{"line_number": 7, "units": 1}]},
    )
    assert unknown.status_code == 422 and "line_number" in unknown.json()["detail"]


async def test_a_fee_schedule_is_imported_listed_and_refused_with_every_problem(api):
    good = "code_system,code,modifier,unit_price\nCPT,99213,,150.00\nREV,0450,,900.5\n"
    response = await api.put(
        "/v1/fee-schedules",
        params={"payer_id": "SIMPAYER1", "name": "2026 commercial"},
        content=good,
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["version"], response.json()["row_count"]) == (1, 2)
    listed = (await api.get("/v1/fee-schedules")).json()
    assert [(s["payer_id"], s["name"]) for s in listed] == [("SIMPAYER1", "2026 commercial")]
    rows = (await api.get("/v1/fee-schedules/rows", params={"payer_id": "SIMPAYER1"})).json()
    assert [r["unit_price"] for r in rows] == ["150.00", "900.50"]
    bad = "code_system,code,modifier,unit_price\nCPT,99213,,x\n"
    refused = await api.put("/v1/fee-schedules", content=bad)
    assert refused.status_code == 422
    assert refused.json()["detail"]["problems"] == [
        {
            "line": 2,
            "column": "unit_price",
            "message": refused.json()["detail"]["problems"][0]["message"],
        }
    ]
