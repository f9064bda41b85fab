"""KPIs from the projection the events and actions fill, against figures worked out by hand
for a small seeded book of ten claims."""

from __future__ import annotations

from datetime import date, timedelta

from claimflow_remittance import handlers
from services.remittance.tests.integration.conftest import as_tenant, deliver
from services.remittance.tests.integration.test_http import post_835
from services.remittance.tests.unit.builders import (
    denied_clp,
    era,
    paid_clp,
    partial_clp,
    rejected,
    submitted,
)


async def reject(uows, claim_id):
    await deliver(
        uows, rejected(claim_id), handle=handlers.on_claim_rejected, load=handlers.load_rejected
    )


async def test_kpis_over_a_seeded_book_equal_the_figures_worked_out_by_hand(api, uows):
    # Ten $200 claims: five paid ($120, $50 contractual, $30 coinsurance), one with a line
    # denied (bundling, $50), one denied in full (medical necessity), one rejected by the
    # payer's front end and never paid, one not answered yet, one paid after a rejection.
    for n in range(1, 11):
        await deliver(uows, submitted(f"C{n}-1"))
    await reject(uows, "C8-1")
    await reject(uows, "C10-1")
    await post_835(
        api,
        era(
            *(paid_clp(f"C{n}-1", payer_claim_number=f"P{n}") for n in range(1, 6)),
            partial_clp("C6-1", payer_claim_number="P6"),
            denied_clp("C7-1", payer_claim_number="P7"),
            paid_clp("C10-1", payer_claim_number="P10"),
        ),
    )
    patient = (await api.get("/v1/patients", headers=as_tenant())).json()[0]["patient_key"]
    await api.post(
        f"/v1/patients/{patient}/payments",
        json={"amount": "30.00", "claim_id": "C1-1"},
        headers=as_tenant(),
    )
    [item] = (await api.get("/v1/denials", params={"category": "medical-necessity"},
                            headers=as_tenant())).json()  # fmt: skip
    await api.post(
        f"/v1/denials/{item['item_id']}/actions",
        json={"action": "write-off", "reason": "no documentation"},
        headers=as_tenant(),
    )
    today = date.today()

    response = await api.get(
        "/v1/kpis",
        params={"period_start": (today - timedelta(days=1)).isoformat(), "period_end": today},
        headers=as_tenant(),
    )

    assert response.status_code == 200, response.text
    k = response.json()["overall"]
    assert k["claims_submitted"] == 10
    assert k["clean_claim_rate"] == "0.8000"  # C8 and C10 rejected
    assert k["claims_adjudicated"] == 8
    assert k["initial_denial_rate"] == "0.2500"  # C6, C7
    assert k["denial_rate_by_category"]["bundling"] == "0.1250"
    assert k["denial_rate_by_category"]["medical-necessity"] == "0.1250"
    assert k["denial_rate_by_category"]["timely-filing"] == "0.0000"
    assert k["first_pass_resolution_rate"] == "0.6250"  # C1-C5 of 8
    # Collected 5x120 + 120 + 120 + 30 from the patient = 870; charges 2000 less contractual
    # 5x50 + 30 + 50 = 1670.
    assert k["net_collection_rate"] == f"{870 / 1670:.4f}"
    # Outstanding: C2-C5 30 each, C6 50 (denied, not written off), C8 200, C9 200, C10 30.
    assert k["ar_total"] == "600.00"
    assert k["ar_aging"] == {
        "0-30": "600.00", "31-60": "0.00", "61-90": "0.00", "91-120": "0.00", "120+": "0.00",
    }  # fmt: skip
    assert k["days_in_ar"] == f"{600 / (2000 / 90):.1f}"
    c = k["cost_to_collect"]
    assert (c["claims_submitted"], c["rejections"], c["write_offs"], c["written_off"]) == (
        10,
        2,
        1,
        "200.00",
    )
    assert c["collected"] == "870.00"
    [acme] = response.json()["by_payer"]
    assert acme["payer_id"] == "ACME1" and acme["clean_claim_rate"] == "0.8000"
    other = await api.get("/v1/kpis", headers=as_tenant("t2"))
    assert other.json()["overall"]["claims_submitted"] == 0
