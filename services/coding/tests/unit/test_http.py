"""The coding API over its SQL repositories on an SQLite file (no broker): the worklist
round trip a coder makes, statement coding, settings, and the limits of every listing."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from claimflow_coding import handlers
from claimflow_coding.entrypoints import http
from claimflow_coding.settings import Settings
from claimflow_coding.unit_of_work import SqlCodingUnitOfWork
from claimflow_shared.runtime.http import install_error_handlers
from claimflow_shared.runtime.service import Runtime
from claimflow_shared.runtime.tables import OutboxMessage
from claimflow_shared.runtime.tenancy import Access
from services.coding.tests.unit.builders import envelope, synthetic

ACME = {"X-Tenant-ID": "acme"}


@pytest.fixture
async def stack(tmp_path):
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/coding.db",
        allow_insecure_dev=True,
        warm_up=False,
    )
    runtime = Runtime(settings, version="test")
    uows = runtime.units_of_work(SqlCodingUnitOfWork)
    await runtime.db.create_tables()
    app = FastAPI()
    install_error_handlers(app)  # as every service answers: 422s never echo the input
    app.state.access = Access(dev=True)
    app.include_router(http.router(uows, default_threshold=0.8))

    async def consume(event):
        async with uows() as uow:
            await handlers.load_codings(uow=uow, events=[event])
            uow.cause = event
            await handlers.on_encounter_documented(uow=uow, event=event, default_threshold=0.8)

    async def outbox() -> list[dict]:
        async with runtime.db.sessions() as session:
            rows = (await session.execute(OutboxMessage.__table__.select())).all()
        return [json.loads(r.value) for r in rows]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://coding") as client:
        yield client, consume, outbox
    await runtime.db.dispose()


async def test_a_coder_resolves_a_queried_encounter_through_the_api(stack):
    client, consume, outbox = stack
    await consume(envelope(synthetic(diagnoses=[{"sequence": 1, "text": "CHF exacerbation"}])))
    page = (
        await client.get("/v1/worklist", headers=ACME, params={"rule": "CAC-LOW-CONFIDENCE"})
    ).json()
    (item,) = page
    assert item["rules"] == ["CAC-LOW-CONFIDENCE"] and item["status"] == "open"
    after = {"after_id": item["id"]}
    assert (await client.get("/v1/worklist", headers=ACME, params=after)).json() == []
    detail = (await client.get(f"/v1/worklist/{item['id']}", headers=ACME)).json()
    assert detail["suggested_diagnoses"][0]["code"] == "I509"
    assert len(detail["candidates"][0]["candidates"]) >= 5
    assert "first_name" not in json.dumps(detail)  # no patient name on the worklist
    claimed = await client.post(f"/v1/worklist/{item['id']}/claim", headers=ACME)
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "operator:dev-acme"
    corrected = await client.post(
        f"/v1/worklist/{item['id']}/correct",
        headers=ACME,
        json={"diagnoses": ["I50.23"], "revision": 1, "note": "systolic, acute on chronic"},
    )
    assert corrected.status_code == 200, corrected.text
    body = corrected.json()
    assert body["status"] == "resolved"
    assert [a["action"] for a in body["actions"]] == ["raise", "claim", "correct"]
    events = await outbox()
    assert [e["event_type"] for e in events] == ["coding.query-raised", "encounter.coded"]
    assert events[1]["causation_id"] == events[0]["event_id"]
    assert events[1]["payload"]["final_diagnoses"][0]["decided_by"] == "operator:dev-acme"
    outcome = (await client.get(f"/v1/encounters/{events[1]['encounter_id']}", headers=ACME)).json()
    assert outcome["status"] == "coded" and outcome["diagnoses"] == ["I5023"]
    assert [h["hcc"] for h in outcome["hcc_categories"]] == ["HCC224"]
    assert events[1]["payload"]["risk_adjustment_eligible"] is True  # 99213 is face to face
    listed = (await client.get("/v1/encounters", headers=ACME, params={"hcc": "HCC224"})).json()
    assert [e["encounter_id"] for e in listed] == [events[1]["encounter_id"]]
    assert (await client.get("/v1/encounters", headers=ACME, params={"hcc": "HCC38"})).json() == []
    again = await client.post(f"/v1/worklist/{item['id']}/accept", headers=ACME)
    assert again.status_code == 409


async def test_another_tenant_sees_no_item_and_cannot_act_on_it(stack):
    client, consume, _ = stack
    await consume(envelope(synthetic(diagnoses=[{"sequence": 1, "code": "E11"}])))
    (item,) = (await client.get("/v1/worklist", headers=ACME)).json()
    other = {"X-Tenant-ID": "other"}
    assert (await client.get("/v1/worklist", headers=other)).json() == []
    assert (await client.get(f"/v1/worklist/{item['id']}", headers=other)).status_code == 404
    assert (await client.post(f"/v1/worklist/{item['id']}/claim", headers=other)).status_code == 404


async def test_a_refused_correction_names_the_edit_and_changes_nothing(stack):
    client, consume, outbox = stack
    await consume(envelope(synthetic(diagnoses=[{"sequence": 1, "code": "E11"}])))
    (item,) = (await client.get("/v1/worklist", headers=ACME)).json()
    await client.post(f"/v1/worklist/{item['id']}/claim", headers=ACME)
    refused = await client.post(
        f"/v1/worklist/{item['id']}/correct", headers=ACME, json={"diagnoses": ["E10.9", "E11.9"]}
    )
    assert refused.status_code == 422 and "ICD-EXCLUDES1" in refused.json()["detail"]
    assert [e["event_type"] for e in await outbox()] == ["coding.query-raised"]
    detail = (await client.get(f"/v1/worklist/{item['id']}", headers=ACME)).json()
    assert detail["status"] == "claimed"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"after_id": -1},
        {"after_id": 2**31},
        {"min_age_minutes": -5},
        {"status": "x"},
        {"hcc": "HCC38;"},
    ],
)
async def test_worklist_paging_and_filters_are_bounded(stack, params):
    client, _, _ = stack
    assert (await client.get("/v1/worklist", headers=ACME, params=params)).status_code == 422


async def test_statement_coding_answers_the_json_line_shape(stack):
    client, _, _ = stack
    one = (
        await client.post("/v1/code", headers=ACME, json={"text": "DM2 with hyperglycemia"})
    ).json()
    assert set(one) == {"text", "candidates", "decision", "reasons"}
    assert one["candidates"][0]["code"] == "E11.65" and one["decision"] == "auto"
    assert len(one["candidates"]) >= 5
    batch = await client.post(
        "/v1/code/batch", json={"statements": ["essential hypertension", "rule out pneumonia"]}
    )
    first, second = batch.json()
    assert first["candidates"][0]["code"] == "I10" and second["decision"] == "query"
    too_long = await client.post("/v1/code", json={"text": "x" * 1001})
    assert too_long.status_code == 422
    control = await client.post("/v1/code", json={"text": "chest pain\u0000"})
    assert control.status_code == 422 and "chest" not in control.text


async def test_an_operator_sets_a_tenants_threshold_and_the_tenant_reads_it(stack):
    client, _, _ = stack
    assert (await client.get("/v1/settings", headers=ACME)).json()["default"] is True
    saved = await client.put(
        "/v1/admin/tenants/acme/settings", json={"auto_code_threshold": 0.93, "note": "pilot"}
    )
    assert saved.status_code == 200 and saved.json()["auto_code_threshold"] == 0.93
    mine = (await client.get("/v1/settings", headers=ACME)).json()
    assert (mine["auto_code_threshold"], mine["default"]) == (0.93, False)
    bad = await client.put("/v1/admin/tenants/acme/settings", json={"auto_code_threshold": 1.5})
    assert bad.status_code == 422
