"""The admin API over a real database: tenant-scoped, audited with the principal, refusing
what would make the master data wrong with the field and the reason."""

from __future__ import annotations

from services.intake.tests.integration.master_data import BILLING, RENDERING, set_up_tenant
from services.intake.tests.unit.builders import BILLING_NPI, make_npi

ACME = {"X-Tenant-ID": "acme"}
GLOBEX = {"X-Tenant-ID": "globex"}


async def test_a_tenant_set_up_through_the_api_reads_back_with_its_counts(intake):
    await set_up_tenant(intake.client, "acme", hl7_facilities=["ACMEHOSP"])
    tenant = (await intake.client.get("/v1/tenant", headers=ACME)).json()
    assert tenant["billing_npi"] == BILLING_NPI
    assert tenant["hl7_sending_facilities"] == ["ACMEHOSP"]
    assert (tenant["payers"], tenant["providers"], tenant["facilities"]) == (4, 2, 0)
    payer = (await intake.client.get("/v1/payers/bcbs", headers=ACME)).json()
    assert payer["aliases"] == ["BCBS", "Blue Cross & Blue Shield"]
    providers = (await intake.client.get("/v1/providers", headers=ACME)).json()
    assert [p["can_bill"] for p in providers] == [True, False]
    assert [p["can_render"] for p in providers] == [False, True]


async def test_every_change_is_audited_with_the_principal(intake):
    await set_up_tenant(intake.client, "acme")
    await intake.client.put(
        "/v1/payers/HUMANA", json={"name": "Humana", "timely_filing_days": 180}, headers=ACME
    )
    audit = (await intake.client.get("/v1/tenant/audit", headers=ACME)).json()
    assert {a["principal"] for a in audit} == {"operator:dev-acme"}
    last = audit[-1]
    assert (last["action"], last["entity"], last["key"]) == ("updated", "payer", "HUMANA")
    assert (last["before"]["timely_filing_days"], last["after"]["timely_filing_days"]) == (365, 180)
    assert [a["entity"] for a in audit].count("provider") == 2


async def test_a_bad_change_is_refused_naming_the_field_and_changes_nothing(intake):
    response = await intake.client.post(
        "/v1/providers", json={**RENDERING, "npi": "1234567890"}, headers=ACME
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["location"] == "/providers/0/npi"
    assert "check digit" in response.json()["detail"][0]["reason"]
    assert (await intake.client.get("/v1/providers", headers=ACME)).json() == []
    assert (await intake.client.get("/v1/tenant/audit", headers=ACME)).json() == []


async def test_a_provider_already_registered_is_a_conflict_naming_its_id(intake):
    first = (await intake.client.post("/v1/providers", json=BILLING, headers=ACME)).json()
    again = await intake.client.post("/v1/providers", json=BILLING, headers=ACME)
    assert again.status_code == 409 and again.json()["detail"]["id"] == first["id"]
    changed = await intake.client.put(
        f"/v1/providers/{first['id']}", json={**BILLING, "taxonomy": "261QP2300X"}, headers=ACME
    )
    assert changed.status_code == 200 and changed.json()["taxonomy"] == "261QP2300X"
    assert changed.json()["id"] == first["id"]


async def test_one_tenant_never_sees_or_changes_another_tenants_master_data(intake):
    await set_up_tenant(intake.client, "acme")
    provider = (await intake.client.get("/v1/providers", headers=ACME)).json()[0]
    assert (await intake.client.get("/v1/payers", headers=GLOBEX)).json() == []
    assert (await intake.client.get("/v1/providers", headers=GLOBEX)).json() == []
    assert (await intake.client.get("/v1/payers/BCBS", headers=GLOBEX)).status_code == 404
    for call in (
        intake.client.get(f"/v1/providers/{provider['id']}", headers=GLOBEX),
        intake.client.delete(f"/v1/providers/{provider['id']}", headers=GLOBEX),
        intake.client.delete("/v1/payers/BCBS", headers=GLOBEX),
        intake.client.put(f"/v1/providers/{provider['id']}", json=RENDERING, headers=GLOBEX),
    ):
        assert (await call).status_code == 404
    assert len((await intake.client.get("/v1/providers", headers=ACME)).json()) == 2


async def test_a_sending_facility_belongs_to_one_tenant(intake):
    await set_up_tenant(intake.client, "acme", hl7_facilities=["ACMEHOSP"])
    taken = await intake.client.put(
        "/v1/tenant", json={"hl7_sending_facilities": ["acmehosp"]}, headers=GLOBEX
    )
    assert taken.status_code == 409


async def test_deleting_an_entry_and_bounds_on_ids(intake):
    await set_up_tenant(intake.client, "acme")
    assert (await intake.client.delete("/v1/payers/HUMANA", headers=ACME)).status_code == 204
    assert (await intake.client.get("/v1/payers/HUMANA", headers=ACME)).status_code == 404
    assert (await intake.client.get("/v1/providers/-1", headers=ACME)).status_code == 422
    assert (await intake.client.get(f"/v1/providers/{2**70}", headers=ACME)).status_code == 422
    default_gone = await intake.client.put(
        "/v1/tenant", json={"billing_npi": make_npi(999)}, headers=ACME
    )
    assert default_gone.status_code == 422
    assert default_gone.json()["detail"][0]["location"] == "/defaults/billing_npi"


async def test_a_control_character_in_master_data_is_a_422_naming_the_field(intake):
    created = await intake.client.post("/v1/providers", json=BILLING, headers=ACME)
    provider_id = created.json()["id"]
    changed = {**RENDERING, "first_name": "\u0000Ann"}
    response = await intake.client.put(f"/v1/providers/{provider_id}", json=changed, headers=ACME)
    assert response.status_code == 422
    assert "first_name" in response.text and "\u0000" not in response.text
