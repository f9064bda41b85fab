"""Bulk files through the HTTP API over a real database: streamed to the spool, ingested in
batches with a result per record, resumed after a crash without publishing anything twice."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from claimflow_intake import bulk_jobs
from services.intake.tests.integration.master_data import set_up_tenant
from services.intake.tests.unit.builders import CSV_ROW, csv_text, json_encounter

ACME = {"X-Tenant-ID": "acme"}
GLOBEX = {"X-Tenant-ID": "globex"}


def ndjson(count: int, *, bad_every: int = 0) -> bytes:
    lines = []
    for n in range(1, count + 1):
        body = json_encounter(n)
        if bad_every and n % bad_every == 0:
            body["place_of_service"] = "00"
        lines.append(json.dumps(body))
    return ("\n".join(lines) + "\n").encode()


async def _upload(intake, data: bytes, **params) -> dict:
    async def chunks():
        for start in range(0, len(data), 7000):
            yield data[start : start + 7000]

    response = await intake.client.post("/v1/bulk", content=chunks(), params=params, headers=ACME)
    assert response.status_code == 202, response.text
    return response.json()


async def _results(intake, job_id: str, **params) -> list[dict]:
    response = await intake.client.get(f"/v1/bulk/{job_id}/results", params=params, headers=ACME)
    return response.json()


async def test_an_ndjson_upload_reports_every_record_and_publishes_the_accepted(intake):
    await set_up_tenant(intake.client, "acme")
    data = ndjson(120, bad_every=10) + json.dumps(json_encounter(1)).encode() + b"\n"
    job = await _upload(intake, data, source_system="ehr-1", file_name="visits.ndjson")
    assert (job["status"], job["bytes_total"], job["format"]) == ("queued", len(data), "ndjson")
    assert await intake.bulk.ingest_pending()
    done = (await intake.client.get(f"/v1/bulk/{job['job_id']}", headers=ACME)).json()
    assert done["status"] == "done" and done["bytes_done"] == len(data)
    assert (done["records"], done["accepted"], done["rejected"], done["duplicate"]) == (
        121,
        108,
        12,
        1,
    )
    results = await _results(intake, job["job_id"], limit=1000)
    assert [r["ordinal"] for r in results] == list(range(1, 122))
    rejected = await _results(intake, job["job_id"], status="rejected")
    assert rejected[0]["position"] == "line 10"
    assert rejected[0]["problems"][0]["location"] == "/place_of_service"
    assert len(await intake.published("acme")) == 108
    assert not (intake.settings.data_dir / "intake-bulk" / f"{job['job_id']}.ndjson").exists()


async def test_a_csv_upload_names_row_and_column(intake):
    await set_up_tenant(intake.client, "acme")
    bad = {**CSV_ROW, "document_id": "DOC-2", "patient_sex": "X"}
    data = csv_text([CSV_ROW, {**CSV_ROW, "line_code": "36415"}, bad]).encode()
    job = await _upload(intake, data, format="csv")
    await intake.bulk.ingest_pending()
    results = await _results(intake, job["job_id"])
    assert [(r["position"], r["status"]) for r in results] == [
        ("rows 2-3", "accepted"),
        ("row 4", "rejected"),
    ]
    assert results[1]["problems"][0]["location"] == "row 4, column patient_sex"
    (event,) = await intake.published("acme")
    assert len(event["payload"]["procedures"]) == 2


async def test_a_csv_without_a_usable_header_fails_the_job_with_the_reason(intake):
    job = await _upload(intake, b"document_id,nonsense\nDOC-1,x\n", format="csv")
    await intake.bulk.ingest_pending()
    failed = (await intake.client.get(f"/v1/bulk/{job['job_id']}", headers=ACME)).json()
    assert failed["status"] == "failed" and "nonsense" in failed["error"]


async def test_a_job_interrupted_mid_file_resumes_from_its_checkpoint_without_duplicates(
    intake, monkeypatch
):
    await set_up_tenant(intake.client, "acme")
    intake.settings.bulk_batch_records = 25
    job = await _upload(intake, ndjson(200))
    real = bulk_jobs.ingest_bulk_records
    calls = Counter()

    async def crash_on_the_fourth_batch(**kwargs):
        calls["batches"] += 1
        if calls["batches"] == 4:
            raise RuntimeError("the replica died")
        await real(**kwargs)

    monkeypatch.setattr(bulk_jobs, "ingest_bulk_records", crash_on_the_fourth_batch)
    with pytest.raises(RuntimeError):
        await intake.bulk.ingest_pending()
    halfway = (await intake.client.get(f"/v1/bulk/{job['job_id']}", headers=ACME)).json()
    assert (halfway["status"], halfway["records"], halfway["accepted"]) == ("running", 75, 75)
    monkeypatch.setattr(bulk_jobs, "ingest_bulk_records", real)
    assert await intake.bulk.ingest_pending()
    done = (await intake.client.get(f"/v1/bulk/{job['job_id']}", headers=ACME)).json()
    assert (done["status"], done["records"], done["accepted"], done["duplicate"]) == (
        "done",
        200,
        200,
        0,
    )
    events = await intake.published("acme")
    assert len(events) == 200 == len({e["encounter_id"] for e in events})
    results = await _results(intake, job["job_id"], limit=1000)
    assert [r["ordinal"] for r in results] == list(range(1, 201))


async def test_a_job_is_its_tenants_only(intake):
    job = await _upload(intake, ndjson(2))
    assert (await intake.client.get(f"/v1/bulk/{job['job_id']}", headers=GLOBEX)).status_code == 404
    assert (
        await intake.client.get(f"/v1/bulk/{job['job_id']}/results", headers=GLOBEX)
    ).status_code == 404
    assert (await intake.client.get("/v1/bulk", headers=GLOBEX)).json() == []


async def test_an_upload_over_the_limit_is_refused_and_leaves_no_spool(intake):
    intake.settings.bulk_max_bytes = 10_000
    response = await intake.client.post("/v1/bulk", content=ndjson(50), headers=ACME)
    assert response.status_code == 413
    (job,) = (await intake.client.get("/v1/bulk", headers=ACME)).json()
    assert job["status"] == "failed"
    assert list((intake.settings.data_dir / "intake-bulk").iterdir()) == []
