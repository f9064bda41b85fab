"""The denial work queue over HTTP: filters, assign, note, the four actions as `denial.worked`
(audited with the principal), and the appeal packet as a PDF a payer can read."""

from __future__ import annotations

import io
from datetime import date, timedelta

from pypdf import PdfReader

from services.remittance.tests.integration.conftest import as_tenant, deliver, outbox
from services.remittance.tests.integration.test_http import post_835
from services.remittance.tests.unit.builders import (
    Clp,
    denied_clp,
    era,
    paid_clp,
    partial_clp,
    submitted,
)


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return " ".join(
        " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split()
    )


async def seeded(api, uows) -> dict[str, dict]:
    """Three denials of tenant t1 (medical necessity, bundling, timely filing), one of t2."""
    for claim_id in ("C1-1", "C2-1", "C3-1"):
        await deliver(uows, submitted(claim_id))
    await deliver(uows, submitted("C4-1", tenant="t2"))
    timely = Clp("C3-1", lines=[("99213", "150.00", "0", [("CO", "29", "150.00")]),
                                ("36415", "50.00", "0", [("CO", "29", "50.00")])])  # fmt: skip
    await post_835(api, era(denied_clp("C1-1"), partial_clp("C2-1"), timely))
    await post_835(api, era(denied_clp("C4-1")), tenant="t2")
    items = (await api.get("/v1/denials", headers=as_tenant())).json()
    return {item["claim_id"]: item for item in items}


async def test_each_denial_reaches_the_queue_with_its_category(api, uows):
    items = await seeded(api, uows)

    assert {c: (i["category"], i["suggested_action"]) for c, i in items.items()} == {
        "C1-1": ("medical-necessity", "appeal"),
        "C2-1": ("bundling", "appeal"),
        "C3-1": ("timely-filing", "write-off"),
    }
    assert items["C2-1"]["partial"] and items["C2-1"]["denied_lines"] == [2]
    assert items["C3-1"]["appeal_deadline"] is None  # CO-29 is not appealable
    # Nearest deadline first: appealable ones (same deadline) by amount, then no deadline.
    assert [i["claim_id"] for i in items.values()] == ["C1-1", "C2-1", "C3-1"]


async def test_the_queue_filters_by_payer_category_dollars_age_and_deadline(api, uows):
    await seeded(api, uows)

    async def claims(**params):
        rows = (await api.get("/v1/denials", params=params, headers=as_tenant())).json()
        return sorted(r["claim_id"] for r in rows)

    today = date.today()
    assert await claims(category="bundling") == ["C2-1"]
    assert await claims(payer_id="ACME1") == ["C1-1", "C2-1", "C3-1"]
    assert await claims(payer_id="OTHER") == []
    assert await claims(min_amount="100", max_amount="199.99") == []
    assert await claims(min_amount="200") == ["C1-1", "C3-1"]
    assert await claims(max_amount="60") == ["C2-1"]
    # The 835 paid on 2024-01-15: old denials.
    assert await claims(min_age_days=30) == ["C1-1", "C2-1", "C3-1"]
    assert await claims(max_age_days=30) == []
    assert await claims(deadline_by=(today + timedelta(days=1)).isoformat()) == ["C1-1", "C2-1"]


async def test_assign_note_and_resubmit_are_audited_and_publish_denial_worked(api, uows, db):
    items = await seeded(api, uows)
    item = items["C2-1"]["item_id"]

    assigned = await api.post(
        f"/v1/denials/{item}/assign", json={"assignee": "carol"}, headers=as_tenant()
    )
    noted = await api.post(
        f"/v1/denials/{item}/notes", json={"text": "add modifier 59"}, headers=as_tenant()
    )
    acted = await api.post(
        f"/v1/denials/{item}/actions",
        json={
            "action": "correct-and-resubmit",
            "reason": "distinct procedure: modifier 59 on line 2",
            "corrections": [{"line_number": 2, "modifiers": ["59"]}],
        },
        headers=as_tenant(),
    )

    assert assigned.json()["assignee"] == "carol" and noted.status_code == 201
    assert acted.status_code == 200, acted.text
    assert acted.json()["status"] == "resubmitted"
    detail = (await api.get(f"/v1/denials/{item}", headers=as_tenant())).json()
    assert [(a["what"], a["by"]) for a in detail["audit"]] == [
        ("opened", "claimflow-remittance/auto-post"),
        ("assigned", "tenant:alice"),
        ("noted", "tenant:alice"),
        ("correct-and-resubmit", "tenant:alice"),
    ]
    assert detail["notes"][0]["text"] == "add modifier 59"
    [worked] = await outbox(db, "denial.worked")
    p = worked["payload"]
    assert (p["claim_id"], p["action"], p["worked_by"]) == (
        "C2-1",
        "correct-and-resubmit",
        "tenant:alice",
    )
    assert p["corrections"] == [
        {"line_number": 2, "code": None, "modifiers": ["59"], "units": None,
         "diagnosis_pointers": None}
    ]  # fmt: skip
    assert p["payer_claim_number"] == "PCN1"
    denied = [e for e in await outbox(db, "claim.denied") if e["payload"]["claim_id"] == "C2-1"]
    assert worked["causation_id"] == denied[0]["event_id"]
    assert worked["encounter_id"] == "EC2-1"


async def test_actions_the_rules_refuse_name_the_field(api, uows):
    items = await seeded(api, uows)
    timely, bundled = items["C3-1"]["item_id"], items["C2-1"]["item_id"]

    async def act(item, **body):
        return await api.post(f"/v1/denials/{item}/actions", json=body, headers=as_tenant())

    no_appeal = await act(timely, action="appeal")
    no_reason = await act(timely, action="write-off")
    bad_line = await act(
        bundled, action="correct-and-resubmit", reason="x", corrections=[{"line_number": 9}]
    )
    written_off = await act(timely, action="write-off", reason="filed late, no proof")
    twice = await act(timely, action="write-off", reason="again")

    assert no_appeal.status_code == 422 and no_appeal.json()["detail"]["field"] == "appealable"
    assert no_reason.json()["detail"]["field"] == "reason"
    assert bad_line.json()["detail"]["field"] == "corrections[0].line_number"
    assert written_off.json()["status"] == "written-off"
    assert twice.json()["detail"]["field"] == "status"


async def test_another_tenants_denial_is_not_found(api, uows):
    await seeded(api, uows)
    [theirs] = (await api.get("/v1/denials", headers=as_tenant("t2"))).json()

    assert (
        await api.get(f"/v1/denials/{theirs['item_id']}", headers=as_tenant())
    ).status_code == 404
    acted = await api.post(
        f"/v1/denials/{theirs['item_id']}/actions",
        json={"action": "write-off", "reason": "x"},
        headers=as_tenant(),
    )
    assert acted.status_code == 404


async def test_an_appeal_packet_renders_the_claim_reasons_arguments_and_attachments(api, uows):
    items = await seeded(api, uows)
    item = items["C1-1"]["item_id"]
    slots = (await api.get(f"/v1/denials/{item}/appeal-slots", headers=as_tenant())).json()
    arguments = {s["heading"]: f"Filled for {s['heading'].lower()}." for s in slots}

    missing = await api.post(
        f"/v1/denials/{item}/appeal-packet", json={"arguments": {}}, headers=as_tenant()
    )
    packet = await api.post(
        f"/v1/denials/{item}/appeal-packet",
        json={"arguments": arguments, "attachments": ["Office note 2024-01-10", "Lab results"]},
        headers=as_tenant(),
    )

    assert missing.status_code == 422
    assert packet.status_code == 200 and packet.headers["content-type"] == "application/pdf"
    text = pdf_text(packet.content)
    for fact in ("C1-1", "PCN1", "Ann Lee", "M123", "$200.00", "GOOD CLINIC", "ACME HEALTH"):
        assert fact in text, fact
    assert "reason code 50" in text and "N115" in text
    for heading, argument in arguments.items():
        assert heading in text and argument in text
    assert "1. Office note 2024-01-10" in text and "2. Lab results" in text
    detail = (await api.get(f"/v1/denials/{item}", headers=as_tenant())).json()
    assert detail["audit"][-1]["what"] == "appeal-packet"


async def test_billing_the_patient_for_a_denial_puts_it_on_their_account(api, uows, db):
    items = await seeded(api, uows)
    item = items["C3-1"]["item_id"]

    acted = await api.post(
        f"/v1/denials/{item}/actions",
        json={"action": "bill-patient", "reason": "signed waiver on file", "amount": "40.00"},
        headers=as_tenant(),
    )

    assert acted.json()["status"] == "billed-to-patient"
    balances = (await api.get("/v1/patients", headers=as_tenant())).json()
    assert [b["balance"] for b in balances] == ["40.00"]
    due = [e for e in await outbox(db, "patient.balance-due") if e["payload"]["claim_id"] == "C3-1"]
    assert due[0]["payload"]["amount"] == "40.00"


async def test_a_paid_claim_never_reaches_the_queue(api, uows):
    await deliver(uows, submitted("C9-1"))
    await post_835(api, era(paid_clp("C9-1")))

    assert (
        await api.get("/v1/denials", params={"status": "any"}, headers=as_tenant())
    ).json() == []
