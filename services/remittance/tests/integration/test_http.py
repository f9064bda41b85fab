"""The remittance HTTP API: uploads (bounded, answered in full, recorded with who sent
them), the tenant's and the operators' views, and what one tenant cannot see of another."""

from __future__ import annotations

import httpx

from services.remittance.tests.integration.conftest import (
    OPERATOR,
    app_for,
    as_tenant,
    deliver,
)
from services.remittance.tests.unit.builders import (
    Clp,
    denied_clp,
    era,
    paid_clp,
    submitted,
)


async def post_835(api, text: str, tenant: str = "t1", name: str = "era.835"):
    return await api.post(
        "/v1/remittances",
        content=text.encode(),
        headers={**as_tenant(tenant), "X-File-Name": name},
    )


async def test_the_answer_to_an_upload_lists_posted_unmatched_and_problems(api, uows):
    await deliver(uows, submitted("C1-1"))
    await deliver(uows, submitted("C2-1"))

    response = await post_835(api, era(paid_clp("C1-1"), denied_clp("C2-1"), paid_clp("C9-1")))

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["duplicate"], body["posted_count"]) == ("posted", False, 2)
    assert [(p["claim_id"], p["status"], p["paid"]) for p in body["posted"]] == [
        ("C1-1", "paid", "120.00"),
        ("C2-1", "denied", "0.00"),
    ]
    assert body["posted"][1]["denial_category"] == "medical-necessity"
    assert [(u["claim_id"], u["kind"]) for u in body["unmatched"]] == [("C9-1", "unmatched-claim")]
    assert body["held"] == [] and body["problems"] == []


async def test_the_same_upload_again_is_answered_as_a_duplicate_and_posts_nothing(api, uows):
    await deliver(uows, submitted("C1-1"))
    text = era(paid_clp("C1-1"))

    first = await post_835(api, text)
    again = await post_835(api, text, name="renamed.835")

    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["posted"] == []
    postings = (await api.get("/v1/postings", headers=as_tenant())).json()
    assert len(postings) == 1


async def test_a_held_file_is_reported_and_an_operator_can_release_it(api, uows):
    await deliver(uows, submitted("C1-1"))
    text = era(paid_clp("C1-1")).replace("BPR*I*120*", "BPR*I*121*")

    held = (await post_835(api, text)).json()
    assert held["status"] == "held" and held["held"][0]["claim_id"] == "C1-1"
    tenant_try = await api.post(f"/v1/ops/files/{held['file_id']}/release", headers=as_tenant())
    released = await api.post(f"/v1/ops/files/{held['file_id']}/release", headers=OPERATOR)

    assert tenant_try.status_code == 403
    assert released.status_code == 200, released.text
    assert [p["claim_id"] for p in released.json()["posted"]] == ["C1-1"]
    detail = (await api.get(f"/v1/remittances/{held['file_id']}", headers=as_tenant())).json()
    assert (detail["status"], detail["released_by"]) == ("posted", "operator:ops")
    again = await api.post(f"/v1/ops/files/{held['file_id']}/release", headers=OPERATOR)
    assert again.status_code == 409


async def test_an_upload_larger_than_the_setting_is_refused_with_413(uows):
    app = app_for(uows, max_upload_bytes=2048)
    text = era(*(paid_clp(f"C{n}-1") for n in range(40)))
    assert len(text) > 2048

    async def chunks():
        for start in range(0, len(text), 500):
            yield text[start : start + 500].encode()

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://remittance"
    ) as api:
        declared = await post_835(api, text)
        streamed = await api.post("/v1/remittances", content=chunks(), headers=as_tenant())
        small = await post_835(api, era(paid_clp("C1-1")))

    assert declared.status_code == streamed.status_code == 413
    assert "2048 bytes" in declared.json()["detail"]
    assert small.status_code == 201


async def test_an_unreadable_upload_is_quarantined_for_operators_with_its_error(api):
    response = await post_835(api, "PATIENT JANE DOE OWES 100 DOLLARS")

    assert response.status_code == 422
    assert "JANE" not in response.text  # the error names the problem, never the content
    files = await api.get("/v1/ops/files", headers=OPERATOR, params={"status": "quarantined"})
    [file] = files.json()
    assert file["error"].startswith("not an 835") and file["received_by"] == "tenant:alice"
    assert (await api.get("/v1/ops/files", headers=as_tenant())).status_code == 403


async def test_uploads_record_the_authenticated_principal_and_stay_with_their_tenant(api, uows):
    await deliver(uows, submitted("C1-1"))
    body = (await post_835(api, era(paid_clp("C1-1")))).json()

    mine = await api.get(f"/v1/remittances/{body['file_id']}", headers=as_tenant("t1"))
    theirs = await api.get(f"/v1/remittances/{body['file_id']}", headers=as_tenant("t2"))

    assert mine.json()["received_by"] == "tenant:alice"
    [posting] = (await api.get("/v1/postings", headers=as_tenant("t1"))).json()
    assert posting["posted_by"] == "tenant:alice"
    assert theirs.status_code == 404
    assert (await api.get("/v1/remittances", headers=as_tenant("t2"))).json() == []


async def test_another_tenants_claim_in_an_upload_is_unmatched_and_invisible(api, uows):
    await deliver(uows, submitted("C1-1", tenant="t1"))

    body = (await post_835(api, era(paid_clp("C1-1")), tenant="t2")).json()

    assert body["posted"] == [] and body["unmatched"][0]["reason"] == (
        "no claim with this CLP01 for the tenant"
    )
    assert (await api.get("/v1/postings", headers=as_tenant("t1"))).json() == []
    [waiting] = (await api.get("/v1/unmatched", headers=as_tenant("t2"))).json()
    assert waiting["claim_id"] == "C1-1"
    assert (await api.get("/v1/unmatched", headers=as_tenant("t1"))).json() == []
    everyone = (await api.get("/v1/ops/unmatched", headers=OPERATOR)).json()
    assert [u["tenant_id"] for u in everyone] == ["t2"]


async def test_a_person_places_a_waiting_payment_on_the_claim_it_pays(api, uows):
    await deliver(uows, submitted("C1-1"))
    body = (await post_835(api, era(paid_clp("XYZ-TYPO")))).json()
    [waiting] = (await api.get("/v1/unmatched", headers=as_tenant())).json()

    placed = await api.post(
        f"/v1/unmatched/{waiting['id']}/post", json={"claim_id": "C1-1"}, headers=as_tenant()
    )

    assert body["unmatched"][0]["kind"] == "unmatched-claim"
    assert placed.status_code == 200, placed.text
    [posting] = (await api.get("/v1/postings", headers=as_tenant())).json()
    assert (posting["claim_id"], posting["posted_by"]) == ("XYZ-TYPO", "tenant:alice")
    assert (await api.get("/v1/unmatched", headers=as_tenant())).json() == []
    other = await api.post(
        f"/v1/unmatched/{waiting['id']}/dismiss", json={"reason": "x"}, headers=as_tenant("t2")
    )
    assert other.status_code == 404


async def test_listing_parameters_are_bounded(api):
    for path, params in (
        ("/v1/ops/unmatched", {"limit": 5000}),
        ("/v1/ops/unmatched", {"after_id": -1}),
        ("/v1/ops/files", {"limit": 0}),
        ("/v1/unmatched", {"limit": 1001}),
        ("/v1/denials", {"limit": 501}),
        ("/v1/postings", {"after_id": -5}),
        ("/v1/denials", {"max_amount": "10000000000.0"}),  # more than a money column holds
        ("/v1/kpis", {"as_of": "0001-01-01"}),  # an aging window would overflow the calendar
        ("/v1/patients/P0000000000000000", {"as_of": "9999-12-31"}),
    ):
        headers = OPERATOR if "/ops/" in path else as_tenant()
        response = await api.get(path, params=params, headers=headers)
        assert response.status_code == 422, (path, params)


async def test_a_claims_postings_show_every_line_with_its_adjustments(api, uows):
    await deliver(uows, submitted("C1-1"))
    await post_835(api, era(paid_clp("C1-1"), plb=[("L6", "-1.10")]))

    [posting] = (await api.get("/v1/claims/C1-1/postings", headers=as_tenant())).json()
    account = (await api.get("/v1/provider-account", headers=as_tenant())).json()

    assert [(ln["code"], ln["line_numbers"], ln["paid"]) for ln in posting["lines"]] == [
        ("99213", [1], "90.00"),
        ("36415", [2], "30.00"),
    ]
    assert posting["lines"][0]["adjustments"][1] == {"group": "PR", "carc": "2", "amount": "30.00"}
    assert account["balance"] == {"ACME1": {"interest": "1.10"}}
    assert (await api.get("/v1/claims/C1-1/postings", headers=as_tenant("t2"))).status_code == 404


async def test_a_line_paid_under_another_code_is_matched_by_svc06(api, uows):
    await deliver(uows, submitted("C1-1"))
    recoded = Clp(
        "C1-1",
        lines=[("99212", "150.00", "150.00", []), ("36415", "50.00", "50.00", [])],
    )
    text = era(recoded).replace("SVC*HC:99212*150*150", "SVC*HC:99212*150*150**1*HC:99213")

    await post_835(api, text)

    [posting] = (await api.get("/v1/claims/C1-1/postings", headers=as_tenant())).json()
    assert [(ln["code"], ln["line_numbers"], ln["match"]) for ln in posting["lines"]] == [
        ("99212", [1], "original-code"),
        ("36415", [2], "exact"),
    ]
