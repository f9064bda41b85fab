"""Remittance through the real broker, PostgreSQL and the running services: posting a paid, a
partially paid, a denied, a reversed-then-repaid and a crossover claim, a PLB, the same 835
twice, the denial queue to `denial.worked`, the appeal packet and patient statement PDFs,
tenant isolation of uploads, and KPIs against figures computed here from the events.

Claims with exact outcomes are published as `claim.submitted` straight onto Kafka (only the
remittance service consumes it, so the rest of the pipeline never sees them) and paid by
hand-built 835s uploaded through `POST /v1/remittances`; the session's simulator settings
stay untouched for the other tests."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import uuid
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from claimflow_shared.codes import npi_check_digit
from claimflow_shared.topics import (
    CLAIM_DENIED,
    CLAIM_REJECTED,
    CLAIM_SUBMITTED,
    DENIAL_WORKED,
    PATIENT_BALANCE_DUE,
    REMITTANCE_RECEIVED,
)
from services.remittance.tests.unit.builders import (
    Clp,
    denied_clp,
    era,
    paid_clp,
    partial_clp,
    submitted,
)
from tests.support import (
    events_on,
    get_json,
    new_tenant,
    postings,
    publish,
    send_encounters,
    wait_for,
    wait_for_postings,
)

pytestmark = pytest.mark.infra

D = Decimal


def new_npi() -> str:
    first = str(random.randint(100_000_000, 999_999_999))
    return first + str(npi_check_digit(first))


def claim_ids(prefix: str, count: int) -> list[str]:
    run = uuid.uuid4().hex[:10].upper()
    return [f"{prefix}{run}-{n}" for n in range(1, count + 1)]


async def expect_claims(stack, tenant: str, claims: list[str], npi: str) -> None:
    """Publish `claim.submitted` for each claim and wait until remittance has them."""
    for claim_id in claims:
        event = submitted(claim_id, tenant=tenant, npi=npi, mrn=f"MRN-{tenant}")
        await publish(
            stack.kafka_bootstrap,
            CLAIM_SUBMITTED.name,
            f"{tenant}:{event.encounter_id}",
            event.model_dump_json().encode(),
        )

    async def known():
        kpis = await get_json(stack, "remittance", "/v1/kpis", tenant)
        return kpis["overall"]["claims_submitted"] == len(claims)

    await wait_for(known, timeout=60, what=f"{len(claims)} expected claims")


async def upload(stack, tenant: str, text: str, name: str = "era.835") -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.process("remittance").url, timeout=60) as api:
        return await api.post(
            "/v1/remittances",
            content=text.encode(),
            headers={"X-Tenant-ID": tenant, "X-File-Name": name},
        )


async def call(stack, method: str, path: str, tenant: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.process("remittance").url, timeout=60) as api:
        return await api.request(method, path, headers={"X-Tenant-ID": tenant}, **kwargs)


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    pages = PdfReader(io.BytesIO(data)).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


async def test_paid_partial_denied_reversed_and_crossover_claims_post_through_the_broker(stack):
    tenant, npi = new_tenant("remit"), new_npi()
    paid, partial, denied, reprocessed, crossed = claim_ids("R", 5)
    await expect_claims(stack, tenant, [paid, partial, denied, reprocessed, crossed], npi)
    first_835 = era(
        paid_clp(paid, payer_claim_number="PCN-A"),
        partial_clp(partial, payer_claim_number="PCN-B"),
        denied_clp(denied, payer_claim_number="PCN-C"),
        paid_clp(reprocessed, payer_claim_number="PCN-D"),
        paid_clp(crossed, status="19", payer_claim_number="PCN-E",
                 extra=["NM1*TT*2*MEDIGAP CARRIER*****PI*MG001"], remarks=["MA18"]),
        plb=[("L6", "-3.75")],
        payee_npi=npi,
    )  # fmt: skip

    answer = await upload(stack, tenant, first_835)
    again = await upload(stack, tenant, first_835, name="the-same-again.835")
    later_835 = era(
        paid_clp(reprocessed, status="22", payer_claim_number="PCN-D", sign=-1),
        Clp(reprocessed, payer_claim_number="PCN-D2", extra=["REF*F8*PCN-D"],
            lines=[("99213", "150.00", "100.00", [("CO", "45", "20"), ("PR", "2", "30")]),
                   ("36415", "50.00", "30.00", [("CO", "45", "20")])]),
        payee_npi=npi,
    )  # fmt: skip
    repaid = await upload(stack, tenant, later_835)

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert [(p["status"], p["paid"]) for p in body["posted"]] == [
        ("paid", "120.00"),
        ("partially-paid", "120.00"),
        ("denied", "0.00"),
        ("paid", "120.00"),
        ("paid", "120.00"),
    ]
    assert body["provider_adjustments"] == [{"reason": "L6", "kind": "interest", "amount": "3.75"}]
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert repaid.status_code == 201 and repaid.json()["posted"][0]["reverses"]

    rows = await postings(stack, tenant)
    assert len(rows) == 7  # five, then a reversal and its correction; the duplicate nothing
    by_claim = {}
    for row in rows:
        by_claim.setdefault(row["claim_id"], []).append(row)
    original, reversal, correction = by_claim[reprocessed]
    assert original["reversed_by"] == reversal["posting_key"]
    assert (reversal["status"], reversal["paid"]) == ("reversed", "-120.00")
    assert (correction["paid"], correction["original_payer_claim_number"]) == ("130.00", "PCN-D")
    assert sum(D(r["paid"]) for r in by_claim[reprocessed]) == D("130.00")
    account = (await call(stack, "GET", "/v1/provider-account", tenant)).json()
    assert account["balance"] == {"ACME1": {"interest": "3.75"}}

    wanted = {tenant}
    received = await events_on(stack.kafka_bootstrap, REMITTANCE_RECEIVED.name, wanted)
    assert Counter(e["payload"]["status"] for e in received) == Counter(
        {"paid": 4, "partially-paid": 1, "denied": 1, "reversed": 1}
    )
    [forwarded] = [e["payload"] for e in received if e["payload"]["claim_id"] == crossed]
    assert forwarded["crossover"]["action"] == "await-crossover"
    assert forwarded["crossover"]["carrier_name"] == "MEDIGAP CARRIER"
    assert all(line["submitted_line_numbers"] for e in received for line in e["payload"]["lines"])
    denials = await events_on(stack.kafka_bootstrap, CLAIM_DENIED.name, wanted)
    assert sorted((e["payload"]["claim_id"], e["payload"]["category"]) for e in denials) == sorted(
        [(partial, "bundling"), (denied, "medical-necessity")]
    )
    balances = await events_on(stack.kafka_bootstrap, PATIENT_BALANCE_DUE.name, wanted)
    assert {e["payload"]["claim_id"] for e in balances} == {paid, reprocessed, crossed}

    patient = (await call(stack, "GET", "/v1/patients", tenant)).json()[0]["patient_key"]
    statement = await call(
        stack, "POST", f"/v1/patients/{patient}/statement", tenant, json={"as_of": "2024-01-31"}
    )
    text = pdf_text(statement.content)
    assert "Ann Lee" in text and "$90.00" in text  # three visits' coinsurance of $30
    assert "Insurance paid in total" in text and "How to pay" in text


async def test_a_denial_reaches_the_queue_and_resubmitting_publishes_denial_worked(stack):
    tenant, npi = new_tenant("deny"), new_npi()
    coding, necessity = claim_ids("Q", 2)
    await expect_claims(stack, tenant, [coding, necessity], npi)
    modifier = Clp(coding, payer_claim_number="ICN-1", lines=[
        ("99213", "150.00", "120.00", [("CO", "45", "30")]),
        ("36415", "50.00", "0", [("CO", "4", "50")], ["N519"]),
    ])  # fmt: skip
    await upload(stack, tenant, era(modifier, denied_clp(necessity, payer_claim_number="ICN-2")))

    queue = (await call(stack, "GET", "/v1/denials", tenant)).json()
    items = {d["claim_id"]: d for d in queue}
    assert (items[coding]["category"], items[coding]["suggested_action"]) == (
        "coding",
        "correct-and-resubmit",
    )
    assert items[necessity]["category"] == "medical-necessity"
    acted = await call(
        stack,
        "POST",
        f"/v1/denials/{items[coding]['item_id']}/actions",
        tenant,
        json={
            "action": "correct-and-resubmit",
            "reason": "modifier 59 added to the venipuncture line",
            "corrections": [{"line_number": 2, "modifiers": ["59"]}],
        },
    )
    slots = (
        await call(stack, "GET", f"/v1/denials/{items[necessity]['item_id']}/appeal-slots", tenant)
    ).json()
    packet = await call(
        stack,
        "POST",
        f"/v1/denials/{items[necessity]['item_id']}/appeal-packet",
        tenant,
        json={
            "arguments": {s["heading"]: f"See record: {s['heading']}." for s in slots},
            "attachments": ["Progress note", "Lab report"],
        },
    )

    assert acted.status_code == 200 and acted.json()["status"] == "resubmitted"
    [worked] = await events_on(stack.kafka_bootstrap, DENIAL_WORKED.name, {tenant})
    p = worked["payload"]
    assert (p["claim_id"], p["action"], p["payer_claim_number"]) == (
        coding,
        "correct-and-resubmit",
        "ICN-1",
    )
    assert p["corrections"][0]["line_number"] == 2 and p["corrections"][0]["modifiers"] == ["59"]
    assert p["worked_by"].startswith("operator:dev-")  # the local stack's insecure dev mode
    assert packet.status_code == 200
    text = pdf_text(packet.content)
    for fact in (necessity, "ICN-2", "reason code 50", "N115", "1. Progress note", "Lab report"):
        assert fact in text, fact
    assert all(f"See record: {s['heading']}." in text for s in slots)


async def test_another_tenant_naming_pipeline_claims_posts_nothing_and_learns_nothing(stack):
    owner, intruder = new_tenant("own"), new_tenant("peek")
    ids = await send_encounters(stack, owner, 3, seed=77)
    rows = await wait_for_postings(stack, owner, len(ids))
    claims = [r["claim_id"] for r in rows]
    # The simulator's 835s reached the owner through the clearinghouse by payee NPI.
    files = (await call(stack, "GET", "/v1/remittances", owner)).json()
    assert files and {f["source"] for f in files} == {"clearinghouse"}

    answer = await upload(
        stack, intruder, era(*(paid_clp(c, payer_claim_number=c) for c in claims))
    )

    body = answer.json()
    assert body["posted"] == []
    assert {u["reason"] for u in body["unmatched"]} == {"no claim with this CLP01 for the tenant"}
    assert len(await postings(stack, owner)) == len(rows)
    assert await postings(stack, intruder) == []
    assert (await call(stack, "GET", "/v1/unmatched", owner)).json() == []
    theirs = await call(stack, "GET", f"/v1/claims/{claims[0]}/postings", intruder)
    assert theirs.status_code == 404


async def test_kpis_of_a_pipeline_batch_equal_the_figures_computed_from_its_events(stack):
    tenant = new_tenant("kpi")
    await send_encounters(stack, tenant, 30, seed=19)
    last: list = []

    async def agree():
        settled, expected = await kpis_from_events(stack, tenant)
        reported = pick((await get_json(stack, "remittance", "/v1/kpis", tenant))["overall"])
        last[:] = [expected, reported]
        return settled and expected["claims_submitted"] >= 20 and expected == reported

    try:
        await wait_for(agree, timeout=240, interval=3, what="every claim answered")
    finally:
        expected, reported = last
    assert reported == expected


def pick(reported: dict) -> dict:
    return {
        "claims_submitted": reported["claims_submitted"],
        "claims_adjudicated": reported["claims_adjudicated"],
        "clean_claim_rate": reported["clean_claim_rate"],
        "first_pass_resolution_rate": reported["first_pass_resolution_rate"],
        "initial_denial_rate": reported["initial_denial_rate"],
        "denials_by_category": {
            c: r for c, r in reported["denial_rate_by_category"].items() if r != "0.0000"
        },
        "net_collection_rate": reported["net_collection_rate"],
        "ar_total": reported["ar_total"],
        "days_in_ar": reported["days_in_ar"],
    }


def rate(numerator, denominator) -> str | None:
    if not denominator:
        return None
    return f"{(D(numerator) / D(denominator)).quantize(D('0.0001'), 'ROUND_HALF_UP')}"


async def kpis_from_events(stack, tenant: str) -> tuple[bool, dict]:
    """The KPIs worked out here from what is on Kafka, without the service's code: claims
    submitted today, their front-end rejections, first remittances and denials."""
    wanted = {tenant}
    submitted_events = await events_on(stack.kafka_bootstrap, CLAIM_SUBMITTED.name, wanted)
    rejected_events = await events_on(stack.kafka_bootstrap, CLAIM_REJECTED.name, wanted)
    received = await events_on(stack.kafka_bootstrap, REMITTANCE_RECEIVED.name, wanted)
    denied = await events_on(stack.kafka_bootstrap, CLAIM_DENIED.name, wanted)
    today = date.today().isoformat()
    charges = {
        e["payload"]["claim_id"]: D(e["payload"]["total_charge"])
        for e in submitted_events
        if e["payload"]["frequency_code"] == "1" and e["occurred_at"][:10] == today
    }
    rejected = {e["payload"]["claim_id"] for e in rejected_events} & set(charges)
    first: dict[str, dict] = {}
    paid: Counter = Counter()
    contractual: Counter = Counter()
    denial_reasons = {
        e["payload"]["claim_id"]: {(a["group"], a["carc"]) for a in e["payload"]["adjustments"]}
        for e in denied
    }
    categories = {}
    for e in denied:
        categories.setdefault(e["payload"]["claim_id"], e["payload"]["category"])
    for e in received:
        p = e["payload"]
        claim = p["claim_id"]
        if claim not in charges:
            continue
        first.setdefault(claim, p)
        paid[claim] += D(p["paid"])
        reasons = denial_reasons.get(claim, set())
        for a in [*p["claim_adjustments"], *(x for ln in p["lines"] for x in ln["adjustments"])]:
            if a["group"] == "CO" and (a["group"], a["carc"]) not in reasons:
                contractual[claim] += D(a["amount"])
    adjudicated = len(first)
    denied_first = [c for c, p in first.items() if p["status"] in ("denied", "partially-paid")]
    by_category = Counter(categories[c] for c in denied_first)
    resolved = [c for c, p in first.items() if p["status"] == "paid" and c not in rejected]
    # No patient payments or write-offs in this batch; a claim owing nothing adds nothing.
    outstanding = sum((max(charges[c] - paid[c] - contractual[c], D("0")) for c in charges), D("0"))
    daily = sum(charges.values(), D("0")) / 90
    settled = all(c in first or c in rejected for c in charges)
    return settled, {
        "claims_submitted": len(charges),
        "claims_adjudicated": adjudicated,
        "clean_claim_rate": rate(len(charges) - len(rejected), len(charges)),
        "first_pass_resolution_rate": rate(len(resolved), adjudicated),
        "initial_denial_rate": rate(len(denied_first), adjudicated),
        "denials_by_category": {c: rate(n, adjudicated) for c, n in by_category.items()},
        "net_collection_rate": rate(
            sum(paid.values(), D("0")), sum(charges.values(), D("0")) - sum(contractual.values())
        ),
        "ar_total": f"{outstanding:.2f}",
        "days_in_ar": f"{(outstanding / daily).quantize(D('0.1'), 'ROUND_HALF_UP')}"
        if daily
        else None,
    }


def test_claimflow_era_import_and_kpi_from_the_command_line(stack, tmp_path):
    claimflow = str(Path(sys.executable).parent / "claimflow")
    tenant = new_tenant("cli")
    path = tmp_path / "unknown-claims.835"
    path.write_text(era(paid_clp("NOSUCHCLAIM-1")))
    stack.save()
    env = {"CLAIMFLOW_HOME": str(stack.home), "PATH": "/usr/bin:/bin"}

    imported = subprocess.run(
        [claimflow, "era", "import", str(path), "--tenant", tenant, "--json"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    kpi = subprocess.run(
        [claimflow, "kpi", "--tenant", tenant],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip

    assert imported.returncode == 0, imported.stderr[-2000:]
    [result] = json.loads(imported.stdout)
    assert result["file"] == "unknown-claims.835" and result["unmatched_count"] == 1
    assert kpi.returncode == 0, kpi.stderr[-2000:]
    assert "Clean claim rate" in kpi.stdout and "A/R aging" in kpi.stdout
