"""Coding through the real broker and database: auto-coding from SNOMED CT, the coder
worklist (query, resolution, billing), the compliance edits that hold an encounter, and the
statement coder behind `claimflow code --json`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from claimflow_cli.synthetic import encounter
from claimflow_shared.topics import CODING_QUERY_RAISED, ENCOUNTER_CODED, ENCOUNTER_DOCUMENTED
from claimflow_shared.topics import message_key as key_of
from tests.support import (
    events_on,
    get_json,
    new_tenant,
    publish,
    wait_for,
    wait_for_postings,
)

pytestmark = pytest.mark.infra

CLAIMFLOW = str(Path(sys.executable).parent / "claimflow")
SNOMED = "SNOMED-CT"


async def document(stack, tenant: str, encounter_id: str, body: dict[str, Any]) -> None:
    """Publish an `encounter.documented` event the way intake does."""
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": "encounter.documented",
        "schema_version": "1.1",
        "tenant_id": tenant,
        "encounter_id": encounter_id,
        "causation_id": None,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": "test/1",
        "payload": body,
    }
    await publish(
        stack.kafka_bootstrap,
        ENCOUNTER_DOCUMENTED.name,
        key_of(tenant, encounter_id),
        json.dumps(event).encode(),
    )


def visit(
    tenant: str,
    n: int,
    diagnoses: list[dict],
    procedures: list[tuple] | None = None,
    **patient: str,
) -> dict[str, Any]:
    """A demo encounter with these diagnoses and (system, code) lines pointing at all of them."""
    body = encounter(tenant, n, seed=31)
    body["patient"] = body["patient"] | patient
    day = body["period_start"]
    lines = procedures or [("CPT", "99213")]
    body["procedures"] = [
        {
            "sequence": i,
            "code_system": system,
            "code": code,
            "service_date": day,
            "diagnosis_sequences": [d["sequence"] for d in diagnoses][:4],
        }
        for i, (system, code) in enumerate(lines, start=1)
    ]
    body["diagnoses"] = diagnoses
    body["encounter_class"], body["place_of_service"] = "ambulatory", "11"
    return body


def codes(*given: str) -> list[dict]:
    return [{"sequence": i, "code": code} for i, code in enumerate(given, start=1)]


async def coding_of(stack, tenant: str, encounter_id: str, status: str) -> dict:
    async def decided():
        async with httpx.AsyncClient(base_url=stack.process("coding").url, timeout=10) as client:
            response = await client.get(
                f"/v1/encounters/{encounter_id}", headers={"X-Tenant-ID": tenant}
            )
        return response.json() if response.status_code == 200 else None

    outcome = await wait_for(decided, timeout=60, what=f"coding of {encounter_id}")
    assert outcome["status"] == status, outcome
    return outcome


async def only_event(stack, topic, tenant: str, encounter_id: str) -> dict:
    """The one event of the encounter on the topic (the relay publishes just after commit)."""

    async def published():
        return [
            e
            for e in await events_on(stack.kafka_bootstrap, topic.name, {tenant})
            if e["encounter_id"] == encounter_id
        ]

    found = await wait_for(published, timeout=30, what=f"{topic.event_type} of {encounter_id}")
    await asyncio.sleep(1)
    found = await published()
    assert len(found) == 1, [e["event_type"] for e in found]
    return found[0]


async def test_a_synthea_check_up_coded_only_in_snomed_and_cvx_is_auto_coded_end_to_end(stack):
    tenant = new_tenant("snomed")
    body = encounter(tenant, 1, seed=31)
    day = body["period_start"]
    body["patient"] = body["patient"] | {"birth_date": "1968-03-02", "sex": "F"}
    commercial = {"payer_id": "SIMPAYER1", "name": "SIMULATED HEALTH PLAN"}
    body["coverages"] = [body["coverages"][0] | {"payer": commercial}]
    body["source"] = {"system": "synthea", "document_id": f"urn:uuid:{uuid.uuid4()}"}
    body["encounter_class"], body["place_of_service"] = "ambulatory", "11"
    body["diagnoses"] = [
        {
            "sequence": i,
            "text": display,
            "codings": [{"system": SNOMED, "code": code, "display": display}],
        }
        for i, (code, display) in enumerate(
            [
                ("44054006", "Diabetes mellitus type 2 (disorder)"),
                ("59621000", "Essential hypertension (disorder)"),
                ("160903007", "Full-time employment (finding)"),
            ],
            start=1,
        )
    ]
    body["procedures"] = [
        {
            "sequence": i,
            "code_system": "CPT",
            "text": display,
            "service_date": day,
            "codings": [{"system": system, "code": code, "display": display}],
        }
        for i, (system, code, display) in enumerate(
            [
                (SNOMED, "185349003", "Encounter for check up (procedure)"),
                ("CVX", "140", "Influenza, seasonal, injectable, preservative free"),
            ],
            start=1,
        )
    ]
    await document(stack, tenant, "ESYN0001", body)
    outcome = await coding_of(stack, tenant, "ESYN0001", "coded")
    assert outcome["diagnoses"] == ["Z0001", "E119", "I10", "Z23"]
    assert [h["hcc"] for h in outcome["hcc_categories"]] == ["HCC38"]
    coded = (await only_event(stack, ENCOUNTER_CODED, tenant, "ESYN0001"))["payload"]
    assert [(d["code"], d["method"], d["decision"]) for d in coded["final_diagnoses"]] == [
        ("Z0001", "service", "suggested-accepted"),
        ("E119", "snomed-map", "suggested-accepted"),
        ("I10", "snomed-map", "suggested-accepted"),
        ("Z23", "service", "suggested-accepted"),
    ]
    assert all(0.8 <= d["confidence"] <= 1 for d in coded["final_diagnoses"])
    assert [(x["code"], x["modifiers"]) for x in coded["service_lines"]] == [
        ("99396", ["25"]),
        ("90656", []),
        ("90471", []),
    ]
    assert coded["code_sets"]["icd10cm"] and coded["revision"] == 1
    assert any(n["rule"] == "NOT-CODED" for n in coded["notes"])

    async def claim_built():
        claims = await get_json(stack, "claims", "/v1/claims", tenant)
        return [c for c in claims if c["encounter_id"] == "ESYN0001"] or None

    # Claims built it from the coded event: the stage after coding received it.
    assert await wait_for(claim_built, timeout=60, what="the claim of the coded encounter")


async def test_a_low_confidence_diagnosis_is_queried_resolved_by_a_coder_and_billed(stack):
    tenant = new_tenant("worklist")
    body = visit(tenant, 2, [{"sequence": 1, "text": "CHF exacerbation"}])
    await document(stack, tenant, "EWL00001", body)
    await coding_of(stack, tenant, "EWL00001", "query")
    raised = (await only_event(stack, CODING_QUERY_RAISED, tenant, "EWL00001"))["payload"]
    assert [r["rule"] for r in raised["reasons"]] == ["CAC-LOW-CONFIDENCE"]
    assert raised["candidates"][0]["candidates"][0]["code"] == "I509"

    headers = {"X-Tenant-ID": tenant}
    async with httpx.AsyncClient(base_url=stack.process("coding").url, timeout=30) as client:
        page = (
            await client.get("/v1/worklist", headers=headers, params={"rule": "CAC-LOW-CONFIDENCE"})
        ).json()
        (item,) = page
        assert (item["encounter_id"], item["status"]) == ("EWL00001", "open")
        assert (
            await client.post(f"/v1/worklist/{item['id']}/claim", headers=headers)
        ).status_code == 200
        corrected = await client.post(
            f"/v1/worklist/{item['id']}/correct",
            headers=headers,
            json={"diagnoses": ["I50.23"], "revision": 1, "note": "acute on chronic systolic"},
        )
        assert corrected.status_code == 200, corrected.text
        trail = corrected.json()["actions"]
    assert [a["action"] for a in trail] == ["raise", "claim", "correct"]
    assert trail[-1]["before"]["diagnoses"] == ["I509"]
    assert trail[-1]["after"]["final_diagnoses"] == ["I5023"]

    coded = (await only_event(stack, ENCOUNTER_CODED, tenant, "EWL00001"))["payload"]
    (diagnosis,) = coded["final_diagnoses"]
    assert (diagnosis["code"], diagnosis["decision"]) == ("I5023", "coder")
    assert diagnosis["decided_by"] == trail[-1]["principal"]
    # Billed: the claim went to the payer simulator and its remittance was posted.
    (posting,) = await wait_for_postings(stack, tenant, 1, timeout=180)
    assert posting["encounter_id"] == "EWL00001" and posting["status"] in {
        "paid",
        "partially-paid",
        "denied",
    }


@pytest.mark.parametrize(
    ("name", "diagnoses", "patient", "rule"),
    [
        ("excludes1", codes("E10.9", "E11.9"), {}, "ICD-EXCLUDES1"),
        ("sex", codes("N95.1"), {"sex": "M", "birth_date": "1960-01-01"}, "ICD-SEX"),
        ("age", codes("Z00.129"), {"birth_date": "1980-06-01"}, "ICD-AGE-PEDIATRIC"),
        ("seventh", codes("S52.521"), {}, "ICD-7TH-CHARACTER"),
        ("manifestation", codes("F02.80"), {}, "ICD-MANIFESTATION-FIRST"),
    ],
)
async def test_a_failed_edit_holds_the_encounter_with_the_rule_that_failed(
    stack, name, diagnoses, patient, rule
):
    tenant = new_tenant(name)
    await document(stack, tenant, "EHELD001", visit(tenant, 3, diagnoses, **patient))
    outcome = await coding_of(stack, tenant, "EHELD001", "query")
    assert rule in outcome["query_rules"]
    page = await get_json(stack, "coding", "/v1/worklist", tenant, rule=rule)
    assert [i["encounter_id"] for i in page] == ["EHELD001"]
    assert not [e for e in await events_on(stack.kafka_bootstrap, ENCOUNTER_CODED.name, {tenant})]


async def test_a_manifestation_is_coded_after_its_etiology_never_first(stack):
    tenant = new_tenant("etiology")
    await document(stack, tenant, "EMAN0001", visit(tenant, 4, codes("F02.80", "G30.9")))
    outcome = await coding_of(stack, tenant, "EMAN0001", "coded")
    assert outcome["diagnoses"] == ["G309", "F0280"]
    coded = (await only_event(stack, ENCOUNTER_CODED, tenant, "EMAN0001"))["payload"]
    assert [n["rule"] for n in coded["notes"]] == ["ICD-CODE-FIRST-ORDER"]
    assert all(line["diagnosis_pointers"][0] == 1 for line in coded["service_lines"])


async def test_a_tenants_threshold_set_by_an_operator_sends_a_suggestion_to_a_human(stack):
    tenant = new_tenant("strict")
    async with httpx.AsyncClient(base_url=stack.process("coding").url, timeout=30) as client:
        saved = await client.put(
            f"/v1/admin/tenants/{tenant}/settings", json={"auto_code_threshold": 0.99}
        )
    assert saved.status_code == 200
    body = visit(tenant, 5, [{"sequence": 1, "text": "T2DM w/ diabetic nephropathy"}])
    await document(stack, tenant, "ETHR0001", body)
    outcome = await coding_of(stack, tenant, "ETHR0001", "query")
    assert outcome["query_rules"] == ["CAC-LOW-CONFIDENCE"]


async def test_an_amendment_that_fixes_the_code_is_coded_and_the_item_superseded(stack):
    tenant = new_tenant("amend")
    body = visit(tenant, 6, codes("E11"))
    await document(stack, tenant, "EAMD0001", body)
    await coding_of(stack, tenant, "EAMD0001", "query")
    fixed = body | {
        "diagnoses": codes("E11.9"),
        "amendment": {"revision": 2, "supersedes_revision": 1, "changed": ["diagnoses"]},
    }
    await document(stack, tenant, "EAMD0001", fixed)

    async def recoded():
        outcome = await get_json(stack, "coding", "/v1/encounters/EAMD0001", tenant)
        return outcome if outcome["status"] == "coded" else None

    outcome = await wait_for(recoded, timeout=60, what="the amendment coded")
    assert (outcome["revision"], outcome["diagnoses"]) == (2, ["E119"])
    page = await get_json(stack, "coding", "/v1/worklist", tenant, status="superseded")
    assert [i["encounter_id"] for i in page] == ["EAMD0001"]


def test_claimflow_code_json_prints_one_object_per_statement_through_the_service(stack, tmp_path):
    statements = [
        "DM2 uncontrolled with hyperglycemia",
        "essential hypertension",
        "rule out pneumonia",
        "fx of left distal radius",
        "history of colon cancer",
        "",
        "CHF exacerbation",
    ]
    source = tmp_path / "statements.txt"
    source.write_text("\n".join(statements) + "\n")
    stack.save()
    run = subprocess.run(
        [CLAIMFLOW, "code", "--json", str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"CLAIMFLOW_HOME": str(stack.home), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["text"] for r in results] == [s for s in statements if s]
    for result in results:
        assert set(result) == {"text", "candidates", "decision", "reasons"}
        assert result["decision"] in {"auto", "query"}
        confidences = [c["confidence"] for c in result["candidates"]]
        assert confidences == sorted(confidences, reverse=True)
        assert len(result["candidates"]) >= 5
        for candidate in result["candidates"]:
            assert {"code", "description", "confidence"} <= set(candidate)
            assert len(candidate["code"]) == 3 or candidate["code"][3] == "."
        assert result["decision"] == "query" or not result["reasons"]
    assert results[0]["candidates"][0]["code"] == "E11.65"
    assert results[2]["decision"] == "query"
    # The same answer as the service's own endpoint: what scripts evaluate is production.
    direct = httpx.post(f"{stack.process('coding').url}/v1/code", json={"text": statements[0]})
    assert direct.json() == results[0]
