"""Setting a tenant up through the admin API, as an operator would."""

from __future__ import annotations

import httpx

from services.intake.tests.unit.builders import BILLING_NPI, RENDERING_NPI

PAYERS = {
    "MEDICARE": {
        "name": "Medicare",
        "claim_filing_indicator": "MB",
        "member_id_source": "patient-id",
    },
    "MEDICAID": {
        "name": "Medicaid",
        "aliases": ["Dual Eligible"],
        "claim_filing_indicator": "MC",
        "member_id_source": "patient-id",
    },
    "HUMANA": {"name": "Humana", "member_id_source": "patient-id"},
    "BCBS": {
        "name": "Blue Cross Blue Shield",
        "aliases": ["BCBS", "Blue Cross & Blue Shield"],
        "claim_filing_indicator": "BL",
    },
}
BILLING = {
    "kind": "organization",
    "npi": BILLING_NPI,
    "name": "ACME MEDICAL GROUP",
    "tax_id": "123456789",
    "address": {"line1": "1 Main St", "city": "Boston", "state": "MA", "postal_code": "021101234"},
    "local_ids": ["urn:acme:org|ACME"],
}
RENDERING = {
    "kind": "individual",
    "npi": RENDERING_NPI,
    "first_name": "Ada",
    "last_name": "Quill",
    "taxonomy": "207Q00000X",
    "local_ids": ["urn:acme:staff|AQ1"],
}


async def set_up_tenant(
    client: httpx.AsyncClient, tenant: str, *, hl7_facilities: list[str] | None = None
) -> None:
    """The payers Synthea and the test EHRs name, a billing organisation that is the
    tenant's default, and one rendering practitioner."""
    headers = {"X-Tenant-ID": tenant}
    for payer_id, body in PAYERS.items():
        (await client.put(f"/v1/payers/{payer_id}", json=body, headers=headers)).raise_for_status()
    for body in (BILLING, RENDERING):
        (await client.post("/v1/providers", json=body, headers=headers)).raise_for_status()
    settings: dict = {"billing_npi": BILLING_NPI}
    if hl7_facilities is not None:
        settings["hl7_sending_facilities"] = hl7_facilities
    (await client.put("/v1/tenant", json=settings, headers=headers)).raise_for_status()
