"""Tenant master data: payer names resolve by name or alias, providers by NPI or local id,
and what cannot be resolved is an error with the reason, never a guess."""

from __future__ import annotations

from dataclasses import replace

import pytest

from claimflow_intake.domain.registry import (
    DirectoryUpdate,
    Facility,
    Payer,
    PostalAddress,
    Provider,
    TenantDefaults,
    Unresolved,
    normalise_name,
)
from services.intake.tests.unit.builders import (
    BILLING_NPI,
    RENDERING_NPI,
    make_npi,
    tenant_registry,
)


@pytest.mark.parametrize(
    "spelling",
    ["Blue Cross Blue Shield", "BLUE CROSS & BLUE SHIELD", "blue-cross  blue shield", "BCBS"],
)
def test_a_payer_resolves_by_any_spelling_of_its_name_or_aliases(spelling, registry):
    assert registry.payer_by_name(spelling).payer_id == "BCBS"


def test_names_compare_without_case_accents_or_punctuation():
    assert normalise_name("  Sant\u00e9 & Co., Inc. ") == normalise_name("sante and co inc")


def test_an_unknown_payer_name_is_unresolved_with_its_reason(registry):
    with pytest.raises(Unresolved, match="not a name or alias"):
        registry.payer_by_name("Acme Health Plan")


@pytest.mark.parametrize("name", ["NO_INSURANCE", "Self Pay", "self-pay", "Uninsured"])
def test_self_pay_is_told_apart_from_an_unknown_payer(name, registry):
    with pytest.raises(Unresolved, match="self-pay"):
        registry.payer_by_name(name)


def test_a_name_two_payers_share_is_ambiguous_not_a_choice(registry):
    shared = replace(
        registry, payers=(*registry.payers, Payer("BCBSNC", "BCBS of NC", aliases=("BCBS",)))
    )
    with pytest.raises(Unresolved, match="more than one"):
        shared.payer_by_name("BCBS")
    assert any("already belongs to another payer" in p.reason for p in shared.problems())


def test_a_payer_id_wins_and_an_unknown_id_falls_back_to_the_name(registry):
    assert registry.resolve_payer(payer_id="medicare").payer_id == "MEDICARE"
    assert registry.resolve_payer(payer_id="X9", name="Humana").payer_id == "HUMANA"
    with pytest.raises(Unresolved, match="payer id is not known"):
        registry.resolve_payer(payer_id="X9")


def test_a_local_identifier_can_correct_a_sources_bad_npi(registry):
    bad = "9999999999"
    fixed = registry.merged(
        DirectoryUpdate(
            providers=(
                Provider(
                    "individual",
                    npi=make_npi(55),
                    first_name="Noah",
                    last_name="Okafor",
                    local_ids=(f"http://hl7.org/fhir/sid/us-npi|{bad}",),
                ),
            )
        )
    )
    found = fixed.rendering_provider(npi=bad, local=f"HTTP://HL7.ORG/fhir/sid/us-npi|{bad}")
    assert found.npi == make_npi(55)
    with pytest.raises(Unresolved, match="check digit"):
        registry.rendering_provider(npi=bad)


def test_a_valid_npi_not_in_the_registry_is_unresolved(registry):
    with pytest.raises(Unresolved, match="not in the tenant's provider registry"):
        registry.rendering_provider(npi=make_npi(999))


def test_an_organisation_cannot_render_and_a_practitioner_cannot_bill(registry):
    with pytest.raises(Unresolved, match="organisation, not a practitioner"):
        registry.rendering_provider(npi=BILLING_NPI)
    with pytest.raises(Unresolved, match="practitioner, not an organisation"):
        registry.billing_provider(npi=RENDERING_NPI)


def test_an_organisation_without_billing_identity_bills_under_the_default(registry):
    clinic = Provider("organization", name="Lowell Clinic", local_ids=("urn:synthea|ORG1",))
    loaded = registry.merged(DirectoryUpdate(providers=(clinic,)))
    assert loaded.billing_provider(local="urn:synthea|ORG1").npi == BILLING_NPI
    without_default = replace(loaded, defaults=TenantDefaults())
    with pytest.raises(Unresolved, match="no default billing provider"):
        without_default.billing_provider(local="urn:synthea|ORG1")


def test_a_directory_update_keeps_what_only_the_registry_knows(registry):
    update = Provider("individual", npi=RENDERING_NPI, first_name="Ada", last_name="Quill-Lee")
    merged = registry.merged(DirectoryUpdate(providers=(update,)))
    found = merged.rendering_provider(npi=RENDERING_NPI)
    assert found.last_name == "Quill-Lee" and found.taxonomy == "207Q00000X"
    assert "urn:acme:staff|AQ1" in found.local_ids
    assert len(merged.providers) == len(registry.providers)


def test_facilities_resolve_by_local_identifier_and_keep_their_place_of_service(registry):
    facility = Facility("Acme Urgent Care", local_ids=("urn:acme:loc|UC1",), place_of_service="20")
    loaded = registry.merged(DirectoryUpdate(facilities=(facility,)))
    reloaded = loaded.merged(
        DirectoryUpdate(facilities=(replace(facility, place_of_service=None),))
    )
    assert reloaded.facility("URN:ACME:LOC|UC1").place_of_service == "20"


def test_master_data_problems_name_the_entry_and_the_field():
    registry = tenant_registry(
        payers=(
            Payer("MEDICARE", "Medicare", claim_filing_indicator="XX"),
            Payer("medicare", "Other", timely_filing_days=0),
        ),
        providers=(
            Provider("organization", npi="1234567890", name="Bad", tax_id="12-345"),
            Provider(
                "individual",
                npi=RENDERING_NPI,
                first_name="A",
                last_name="B",
                taxonomy="999999999X",
            ),
            Provider(
                "organization",
                npi=BILLING_NPI,
                name="Acme",
                tax_id="123456789",
                address=PostalAddress("1 Main", "Boston", "Massachusetts", "02110"),
            ),
        ),
        facilities=(Facility("X", place_of_service="00"),),
    )
    found = {(p.location, p.reason.split(";")[0]) for p in registry.problems()}
    assert ("/payers/0/claim_filing_indicator", "not an X12 claim filing indicator code") in found
    assert ("/payers/1/payer_id", "payer id is used twice") in found
    assert ("/payers/1/timely_filing_days", "must be between 1 and 3650 days") in found
    assert (
        "/providers/0/npi",
        "fails the NPI check digit (Luhn over 80840 + the first 9 digits)",
    ) in found
    assert ("/providers/0/tax_id", "a tax id (EIN) is 9 digits") in found
    assert ("/providers/1/taxonomy", "not a NUCC taxonomy code") in found
    assert ("/providers/2/address/state", "not a USPS state code") in found
    assert ("/facilities/0/place_of_service", "not a CMS place-of-service code") in found


def test_the_test_registry_itself_is_clean(registry):
    assert registry.problems() == []


def test_a_local_identifier_without_a_system_matches_itself_only(registry):
    staff = Provider(
        "individual", npi=make_npi(31), first_name="Lu", last_name="Chen", local_ids=("LC7",)
    )
    loaded = registry.merged(DirectoryUpdate(providers=(staff,)))
    assert loaded.rendering_provider(local="LC7").npi == make_npi(31)
    assert loaded.rendering_provider(local="|LC7").npi == make_npi(31)
    with pytest.raises(Unresolved):
        loaded.rendering_provider(local="urn:other|LC7")
