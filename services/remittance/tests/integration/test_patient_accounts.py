"""Patient balances over HTTP: what insurance left, payments against it, a payment plan, and
the statement a patient reads."""

from __future__ import annotations

from decimal import Decimal

from services.remittance.tests.integration.conftest import as_tenant, deliver, outbox
from services.remittance.tests.integration.test_denial_queue import pdf_text
from services.remittance.tests.integration.test_http import post_835
from services.remittance.tests.unit.builders import Clp, era, paid_clp, submitted


async def account_key(api) -> str:
    [balance] = (await api.get("/v1/patients", headers=as_tenant())).json()
    return balance["patient_key"]


async def two_visits(api, uows) -> str:
    """Two visits of one patient: $30 coinsurance, then a $25 copay."""
    await deliver(uows, submitted("C1-1"))
    await deliver(uows, submitted("C2-1", lines=[("99214", "180.00")]))
    copay = Clp(
        "C2-1", lines=[("99214", "180.00", "100.00", [("CO", "45", "55"), ("PR", "3", "25")])]
    )
    await post_835(api, era(paid_clp("C1-1"), copay))
    return await account_key(api)


async def test_the_patients_share_of_every_visit_adds_up_on_their_account(api, uows, db):
    key = await two_visits(api, uows)

    account = (await api.get(f"/v1/patients/{key}", headers=as_tenant())).json()

    assert (account["first_name"], account["total_due"], account["insurance_paid"]) == (
        "Ann",
        "55.00",
        "220.00",
    )
    assert [(v["claim_id"], v["balance"]) for v in account["visits"]] == [
        ("C1-1", "30.00"),
        ("C2-1", "25.00"),
    ]
    assert len(await outbox(db, "patient.balance-due")) == 2
    assert (await api.get(f"/v1/patients/{key}", headers=as_tenant("t2"))).status_code == 404


async def test_a_patient_payment_goes_to_the_visit_named_then_the_oldest(api, uows):
    key = await two_visits(api, uows)

    paid = await api.post(
        f"/v1/patients/{key}/payments",
        json={"amount": "40.00", "claim_id": "C2-1", "method": "card", "received_on": "2024-01-20"},
        headers=as_tenant(),
    )

    assert paid.status_code == 201, paid.text
    assert (paid.json()["balance"], paid.json()["credit"]) == ("15.00", "0.00")
    in_january = {"as_of": "2024-01-31"}  # a visit settled before this month is not shown
    visits = (await api.get(f"/v1/patients/{key}", params=in_january, headers=as_tenant())).json()[
        "visits"
    ]
    assert [(v["claim_id"], v["patient_paid"], v["balance"]) for v in visits] == [
        ("C1-1", "15.00", "15.00"),
        ("C2-1", "25.00", "0.00"),
    ]
    too_much = await api.post(
        f"/v1/patients/{key}/payments", json={"amount": "20.00"}, headers=as_tenant()
    )
    assert too_much.json()["credit"] == "5.00"


async def test_a_payment_plan_splits_the_balance_and_records_payments(api, uows):
    key = await two_visits(api, uows)

    plan = await api.post(
        f"/v1/patients/{key}/plans",
        json={"count": 3, "first_due": "2030-01-31"},
        headers=as_tenant(),
    )
    await api.post(f"/v1/patients/{key}/payments", json={"amount": "20.00"}, headers=as_tenant())
    second = await api.post(
        f"/v1/patients/{key}/plans",
        json={"count": 2, "first_due": "2030-01-31"},
        headers=as_tenant(),
    )

    assert plan.status_code == 201, plan.text
    assert [(i["due_on"], i["amount"]) for i in plan.json()["instalments"]] == [
        ("2030-01-31", "18.34"),
        ("2030-02-28", "18.33"),
        ("2030-03-31", "18.33"),
    ]
    [stored] = (await api.get(f"/v1/patients/{key}", headers=as_tenant())).json()["plans"]
    assert (stored["paid"], stored["remaining"]) == ("20.00", "35.00")
    assert [i["paid"] for i in stored["instalments"]] == ["18.34", "1.66", "0.00"]
    assert second.status_code == 422


async def test_the_statement_shows_visits_insurance_what_is_owed_aging_and_how_to_pay(api, uows):
    key = await two_visits(api, uows)
    await api.post(f"/v1/patients/{key}/plans", json={"count": 2, "first_due": "2030-01-31"},
                   headers=as_tenant())  # fmt: skip

    response = await api.post(
        f"/v1/patients/{key}/statement",
        json={"as_of": "2024-03-01", "how_to_pay": ["Pay at clinic.example/pay"]},
        headers=as_tenant(),
    )

    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    for fact in (
        "Ann Lee",
        "1 Main St",
        key,
        "$55.00",  # amount due
        "$220.00",  # insurance paid in total
        "01/10/2024",  # the visits
        "31-60",  # aging: due since the 835 of 2024-01-15
        "Your payment plan",
        "Pay at clinic.example/pay",
        "GOOD CLINIC",
    ):
        assert fact in text, fact
    assert "MRN" not in text


async def test_a_reversed_visit_nets_to_nothing_owed(api, uows):
    await deliver(uows, submitted("C1-1"))
    await post_835(api, era(paid_clp("C1-1", payer_claim_number="A")))
    await post_835(
        api,
        era(
            paid_clp("C1-1", status="22", payer_claim_number="A", sign=-1),
            Clp("C1-1", payer_claim_number="B", extra=["REF*F8*A"],
                lines=[("99213", "150", "150", []), ("36415", "50", "50", [])]),
        ),
    )  # fmt: skip

    key = await account_key(api)
    account = (
        await api.get(f"/v1/patients/{key}", params={"as_of": "2024-01-31"}, headers=as_tenant())
    ).json()
    assert Decimal(account["total_due"]) == 0
    assert [(v["insurance_paid"], v["balance"]) for v in account["visits"]] == [("200.00", "0.00")]
