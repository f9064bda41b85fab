"""Changing a tenant's master data: every change checked, refused whole with the problems it
would add, and audited with the principal who made it."""

from __future__ import annotations

import pytest

from claimflow_intake.domain.registry import (
    Facility,
    Payer,
    PostalAddress,
    Provider,
    TenantDefaults,
)
from claimflow_intake.master_data import (
    AlreadyRegistered,
    MasterDataRefused,
    NotRegistered,
    add_facility,
    add_provider,
    delete_payer,
    delete_provider,
    put_payer,
    replace_provider,
    set_tenant,
)
from services.intake.tests.unit.builders import BILLING_NPI, make_npi, tenant_registry


async def test_a_payer_is_registered_and_audited_with_the_principal(uow):
    payer = Payer("AETNA", "Aetna", aliases=("Aetna Inc",), claim_filing_indicator="CI")
    saved = await put_payer(uow=uow, tenant_id="acme", payer=payer)
    assert saved == payer
    assert (await uow.registry.load("acme")).payer_by_name("aetna inc") == payer
    (audit,) = uow.registry.audit_rows
    assert (audit.action, audit.entity, audit.key, audit.principal) == (
        "created",
        "payer",
        "AETNA",
        "tenant:tester",
    )
    assert audit.after["aliases"] == ["Aetna Inc"]
    assert "intake-registry:acme" in uow.locks


async def test_replacing_a_payer_audits_before_and_after(uow):
    await put_payer(uow=uow, tenant_id="acme", payer=Payer("AETNA", "Aetna"))
    await put_payer(uow=uow, tenant_id="acme", payer=Payer("AETNA", "Aetna", timely_filing_days=90))
    updated = uow.registry.audit_rows[-1]
    assert updated.action == "updated"
    assert (updated.before["timely_filing_days"], updated.after["timely_filing_days"]) == (365, 90)


async def test_a_payer_with_an_unknown_filing_indicator_is_refused_naming_the_field(uow):
    with pytest.raises(MasterDataRefused) as refused:
        await put_payer(
            uow=uow, tenant_id="acme", payer=Payer("AETNA", "Aetna", claim_filing_indicator="Q9")
        )
    assert [p.location for p in refused.value.problems] == ["/payers/0/claim_filing_indicator"]
    assert uow.registry.audit_rows == []


async def test_an_alias_of_another_payer_is_refused(uow):
    uow.registry.seed(tenant_registry())
    with pytest.raises(MasterDataRefused) as refused:
        await put_payer(uow=uow, tenant_id="acme", payer=Payer("AETNA", "Aetna", aliases=("BCBS",)))
    assert "already belongs to another payer" in refused.value.problems[0].reason


async def test_deleting_a_payer_the_tenant_does_not_have_is_not_registered(uow):
    uow.registry.seed(tenant_registry())
    with pytest.raises(NotRegistered):
        await delete_payer(uow=uow, tenant_id="globex", payer_id="BCBS")
    await delete_payer(uow=uow, tenant_id="acme", payer_id="bcbs")
    assert "BCBS" not in (await uow.registry.load("acme")).payer_ids


async def test_a_provider_with_a_bad_npi_or_taxonomy_is_refused(uow):
    with pytest.raises(MasterDataRefused) as refused:
        await add_provider(
            uow=uow,
            tenant_id="acme",
            provider=Provider(
                "individual", npi="1234567890", first_name="A", last_name="B", taxonomy="ZZZ"
            ),
        )
    assert {p.location for p in refused.value.problems} == {
        "/providers/0/npi",
        "/providers/0/taxonomy",
    }


async def test_a_second_provider_with_the_same_npi_is_already_registered(uow):
    uow.registry.seed(tenant_registry())
    existing = (await uow.registry.load("acme")).providers[0]
    with pytest.raises(AlreadyRegistered) as already:
        await add_provider(
            uow=uow, tenant_id="acme", provider=Provider("organization", npi=BILLING_NPI)
        )
    assert already.value.ref == existing.ref


async def test_a_provider_is_added_replaced_and_deleted_by_its_reference(uow):
    npi = make_npi(77)
    added = await add_provider(
        uow=uow,
        tenant_id="acme",
        provider=Provider("individual", npi=npi, first_name="Ann", last_name="Lee"),
    )
    assert added.ref is not None
    replaced = await replace_provider(
        uow=uow,
        tenant_id="acme",
        ref=added.ref,
        provider=Provider(
            "individual", npi=npi, first_name="Ann", last_name="Lee", taxonomy="207Q00000X"
        ),
    )
    assert replaced.taxonomy == "207Q00000X" and replaced.ref == added.ref
    await delete_provider(uow=uow, tenant_id="acme", ref=added.ref)
    assert (await uow.registry.load("acme")).providers == ()
    assert [a.action for a in uow.registry.audit_rows] == ["created", "updated", "deleted"]
    with pytest.raises(NotRegistered):
        await delete_provider(uow=uow, tenant_id="acme", ref=added.ref)


async def test_a_default_billing_provider_must_be_a_registered_organisation(uow):
    with pytest.raises(MasterDataRefused) as refused:
        await set_tenant(
            uow=uow, tenant_id="acme", defaults=TenantDefaults(billing_npi=make_npi(5))
        )
    assert refused.value.problems[0].location == "/defaults/billing_npi"
    await add_provider(
        uow=uow,
        tenant_id="acme",
        provider=Provider(
            "organization",
            npi=make_npi(5),
            name="ACME",
            tax_id="123456789",
            address=PostalAddress("1 Main St", "Boston", "MA", "02110"),
        ),
    )
    saved = await set_tenant(
        uow=uow, tenant_id="acme", defaults=TenantDefaults(billing_npi=make_npi(5))
    )
    assert saved.default_billing_provider().npi == make_npi(5)


async def test_a_sending_facility_routes_to_one_tenant_only(uow):
    await set_tenant(
        uow=uow, tenant_id="acme", defaults=TenantDefaults(), hl7_sending_facilities=["ACMEHOSP"]
    )
    assert await uow.registry.tenant_of_facility("acmehosp") == "acme"
    with pytest.raises(AlreadyRegistered):
        await set_tenant(
            uow=uow,
            tenant_id="globex",
            defaults=TenantDefaults(),
            hl7_sending_facilities=["AcmeHosp"],
        )
    assert await uow.registry.tenant_of_facility("ACMEHOSP") == "acme"


async def test_a_facility_with_an_unknown_place_of_service_is_refused(uow):
    with pytest.raises(MasterDataRefused):
        await add_facility(
            uow=uow,
            tenant_id="acme",
            facility=Facility("Clinic", local_ids=("urn:acme:loc|1",), place_of_service="99x"),
        )
