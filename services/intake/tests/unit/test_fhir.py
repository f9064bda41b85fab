"""FHIR R4 bundles → one result per Encounter, on real Synthea output and hand-made bundles."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

from claimflow_intake.domain.fhir import Outcome, read_bundle
from claimflow_intake.domain.registry import Provider, TenantDefaults
from claimflow_shared.events import DocumentedCodeSystem
from services.intake.tests.unit.builders import (
    BILLING_NPI,
    RENDERING_NPI,
    TODAY,
    bundle,
    make_npi,
    read_synthea,
    synthea_file,
    synthea_patient_files,
    tenant_registry,
)

SYNTHEA_BUNDLES = synthea_patient_files()


def _read(document, registry, today=TODAY):
    return read_bundle(document, registry=registry, source_system="ehr-1", today=today)


def _billable_by_hand(raw: dict) -> dict[str, bool]:
    """Which encounters a biller would send, read straight from the JSON: a payer on a
    non-pharmacy claim other than "no insurance", and a patient address with a real ZIP."""
    resources = [e["resource"] for e in raw["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    real_zip = patient["address"][0].get("postalCode", "00000") != "00000"
    payers: dict[str, set[str]] = {}
    for claim in (r for r in resources if r["resourceType"] == "Claim"):
        if claim["type"]["coding"][0]["code"] == "pharmacy":
            continue
        for item in claim["item"]:
            for ref in item.get("encounter", []):
                encounter_id = ref["reference"].removeprefix("urn:uuid:")
                payers.setdefault(encounter_id, set()).update(
                    i["coverage"]["display"] for i in claim["insurance"]
                )
    return {
        r["id"]: real_zip and bool(payers.get(r["id"])) and "NO_INSURANCE" not in payers[r["id"]]
        for r in resources
        if r["resourceType"] == "Encounter"
    }


@pytest.mark.parametrize("path", SYNTHEA_BUNDLES, ids=lambda p: p.name.split("_")[0])
def test_each_synthea_bundle_yields_exactly_its_billable_encounters(path, synthea_registry):
    raw = read_synthea(path)
    result = _read(raw, synthea_registry)
    expected = _billable_by_hand(json.loads(raw))
    assert result.ok and result.bundle_type == "transaction"
    assert [r.fhir_id for r in result.encounters] == list(expected)
    for outcome in result.encounters:
        assert (outcome.outcome is Outcome.MAPPED) == expected[outcome.fhir_id], outcome.problems
        if outcome.outcome is not Outcome.MAPPED:
            assert outcome.problems


def test_synthea_fixtures_hold_accepted_and_rejected_encounters(synthea_registry):
    outcomes = [
        r.outcome
        for path in SYNTHEA_BUNDLES
        for r in _read(read_synthea(path), synthea_registry).encounters
    ]
    assert outcomes.count(Outcome.MAPPED) >= 50
    assert outcomes.count(Outcome.REJECTED) >= 5


def _mapped(path_prefix: str, registry):
    path = next(p for p in SYNTHEA_BUNDLES if p.name.startswith(path_prefix))
    return [r.encounter for r in _read(read_synthea(path), registry).encounters if r.encounter]


def test_synthea_snomed_codes_travel_with_their_display_text(synthea_registry):
    encounters = _mapped("Lecia978", synthea_registry)
    diagnoses = [d for e in encounters for d in e.diagnoses]
    procedures = [p for e in encounters for p in e.procedures]
    assert all(d.code is None and d.codings for d in diagnoses)
    assert all(
        c.system is DocumentedCodeSystem.SNOMED_CT and c.display
        for d in diagnoses
        for c in d.codings
    )
    assert all(p.code is None and p.text for p in procedures)
    assert {c.system for p in procedures for c in p.codings} >= {DocumentedCodeSystem.SNOMED_CT}


def test_synthea_vaccines_become_lines_coded_in_cvx(synthea_registry):
    procedures = [
        p
        for name in ("Dennise990", "Lecia978")
        for e in _mapped(name, synthea_registry)
        for p in e.procedures
    ]
    vaccines = [
        p for p in procedures if any(c.system is DocumentedCodeSystem.CVX for c in p.codings)
    ]
    assert vaccines
    assert all(p.text for p in vaccines)


def test_synthea_claim_items_that_repeat_a_diagnosis_are_not_service_lines(synthea_registry):
    path = next(p for p in SYNTHEA_BUNDLES if p.name.startswith("Lecia978"))
    raw = json.loads(read_synthea(path))
    services: dict[str, int] = {}
    for claim in (e["resource"] for e in raw["entry"]):
        if claim["resourceType"] != "Claim" or claim["type"]["coding"][0]["code"] == "pharmacy":
            continue
        encounter_id = next(
            ref["reference"].removeprefix("urn:uuid:")
            for item in claim["item"]
            for ref in item.get("encounter", [])
        )
        services[encounter_id] = sum(
            1
            for item in claim["item"]
            if {"encounter", "procedureSequence", "informationSequence"} & item.keys()
        )
    for result in _read(raw, synthea_registry).encounters:
        assert len(result.encounter.procedures) == services[result.fhir_id]


def test_synthea_service_lines_point_at_their_claim_diagnoses(synthea_registry):
    for encounter in _mapped("Dennise990", synthea_registry):
        sequences = {d.sequence for d in encounter.diagnoses}
        assert all(s in sequences for p in encounter.procedures for s in p.diagnosis_sequences)


def test_synthea_payer_display_names_resolve_through_the_registry(synthea_registry):
    payer_ids = {
        c.payer.payer_id
        for name in ("Dennise990", "Lecia978", "Cordie578")
        for e in _mapped(name, synthea_registry)
        for c in e.coverages
    }
    assert payer_ids == {"MEDICARE", "MEDICAID", "HUMANA"}


def test_synthea_organisation_without_npi_bills_under_the_tenant_default(synthea_registry):
    encounters = _mapped("Cordie578", synthea_registry)
    assert {e.providers.billing.npi for e in encounters} == {BILLING_NPI}


def test_synthea_conditional_practitioner_references_resolve_from_the_practitioner_bundle(
    synthea_registry,
):
    encounters = _mapped("Lavern240", synthea_registry)
    assert all(e.providers.rendering.npi.startswith("9999") for e in encounters)
    assert all(e.providers.rendering.taxonomy for e in encounters)


def test_without_the_practitioner_bundle_synthea_encounters_are_rejected_naming_the_reference():
    registry = tenant_registry()
    hospitals = _read(synthea_file("hospitalInformation"), registry)
    registry = registry.merged(hospitals.directory)
    result = _read(read_synthea(SYNTHEA_BUNDLES[0]), registry)
    assert all(r.outcome is Outcome.REJECTED for r in result.encounters)
    problem = result.encounters[0].problems[0]
    assert problem.location.endswith("/participant/0/individual")
    assert "not in the tenant's provider registry" in problem.reason


def test_without_the_hospital_bundle_the_service_provider_is_unresolved(synthea_registry):
    registry = replace(
        synthea_registry,
        facilities=(),
        providers=tuple(
            p for p in synthea_registry.providers if p.kind == "individual" or p.npi == BILLING_NPI
        ),
    )
    result = _read(read_synthea(SYNTHEA_BUNDLES[0]), registry)
    reasons = [p for r in result.encounters for p in r.problems]
    assert any(p.location.endswith("/serviceProvider") for p in reasons)


def test_synthea_self_pay_encounters_are_rejected_as_self_pay(synthea_registry):
    path = next(p for p in SYNTHEA_BUNDLES if p.name.startswith("Dennise990"))
    rejected = [r for r in _read(read_synthea(path), synthea_registry).encounters if r.problems]
    assert rejected
    assert all("self-pay" in r.problems[0].reason for r in rejected)
    assert all(r.problems[0].location.endswith("/insurance/0/coverage") for r in rejected)


def test_a_synthea_placeholder_postal_code_is_rejected_without_echoing_it(synthea_registry):
    path = next(p for p in SYNTHEA_BUNDLES if p.name.startswith("Jessie665"))
    result = _read(read_synthea(path), synthea_registry)
    problems = [p for r in result.encounters for p in r.problems]
    assert all(
        r.problems[0].location == "/entry/0/resource/address/0/postalCode"
        for r in result.encounters
    )
    assert not any("00000" in str(p) for p in problems)


def test_practitioner_and_organization_bundles_load_the_provider_registry(registry):
    practitioners = _read(synthea_file("practitionerInformation"), registry)
    hospitals = _read(synthea_file("hospitalInformation"), registry)
    assert practitioners.encounters == () and hospitals.encounters == ()
    assert len(practitioners.directory.providers) == 22
    assert all(
        p.kind == "individual" and p.npi and p.taxonomy for p in practitioners.directory.providers
    )
    assert len(hospitals.directory.providers) == 22 and len(hospitals.directory.facilities) == 23
    assert all(p.kind == "organization" and p.npi is None for p in hospitals.directory.providers)


# --- hand-made bundles ------------------------------------------------------------------------


def test_an_ehr_bundle_maps_codes_coverage_and_providers(ehr_bundle, registry):
    [result] = _read(ehr_bundle(), registry).encounters
    e = result.encounter
    assert result.outcome is Outcome.MAPPED and result.fhir_id == "enc1"
    assert e.source.system == "ehr-1" and e.source.document_id == "V-1001"
    assert e.patient.address.state == "NC" and e.patient.address.postal_code == "276011234"
    assert e.patient.mrn == "MRN0001" and e.patient.sex == "F"
    [coverage] = e.coverages
    assert (coverage.payer.payer_id, coverage.member_id, coverage.group_number) == (
        "BCBS",
        "W123456789",
        "GRP-77",
    )
    assert e.diagnoses[0].code == "E11.9"
    assert {c.system for c in e.diagnoses[0].codings} == {
        DocumentedCodeSystem.ICD_10_CM,
        DocumentedCodeSystem.SNOMED_CT,
    }
    assert (e.procedures[0].code_system.value, e.procedures[0].code) == ("CPT", "99213")
    assert e.providers.rendering.npi == RENDERING_NPI and e.providers.billing.npi == BILLING_NPI
    assert str(e.period_start) == "2026-10-01" and e.place_of_service == "11"


def test_the_date_of_service_is_the_local_date_written_not_the_utc_date(ehr_bundle, registry):
    encounter = copy.deepcopy(ehr_bundle()["entry"][1]["resource"])
    encounter["period"] = {"start": "2026-10-01T23:30:00-05:00"}
    procedure = copy.deepcopy(ehr_bundle()["entry"][3]["resource"])
    procedure["performedDateTime"] = "2026-10-01T23:40:00-05:00"
    [result] = _read(ehr_bundle(encounter=encounter, procedure=procedure), registry).encounters
    assert str(result.encounter.period_start) == "2026-10-01"


def test_an_encounter_with_only_observations_is_not_billable(ehr_bundle, registry):
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"text": "Body height"},
        "encounter": {"reference": "urn:uuid:enc1"},
    }
    document = ehr_bundle(procedure=None, condition=None)
    document["entry"].append({"fullUrl": "urn:uuid:o1", "resource": observation})
    [result] = _read(document, registry).encounters
    assert result.outcome is Outcome.NOT_BILLABLE
    assert (
        "nothing billable" in result.problems[0].reason
        and "1 Observation" in result.problems[0].reason
    )


def test_an_unfinished_encounter_is_not_billable(ehr_bundle, registry):
    encounter = copy.deepcopy(ehr_bundle()["entry"][1]["resource"])
    encounter["status"] = "in-progress"
    [result] = _read(ehr_bundle(encounter=encounter), registry).encounters
    assert result.outcome is Outcome.NOT_BILLABLE and "in-progress" in result.problems[0].reason


def test_a_future_birth_date_is_rejected_at_its_pointer_without_the_value(ehr_bundle, registry):
    patient = copy.deepcopy(ehr_bundle()["entry"][0]["resource"])
    patient["birthDate"] = "2031-05-17"
    [result] = _read(ehr_bundle(patient=patient), registry).encounters
    assert result.outcome is Outcome.REJECTED
    assert [(p.location, p.reason) for p in result.problems] == [
        ("/entry/0/resource/birthDate", "birth date is in the future")
    ]
    assert not any("2031" in str(p) for p in result.problems)


def test_a_future_date_of_service_is_rejected(ehr_bundle, registry):
    [result] = _read(ehr_bundle(), registry, today=TODAY.replace(year=2026, month=9)).encounters
    assert result.outcome is Outcome.REJECTED
    assert "/entry/1/resource/period/start" in {p.location for p in result.problems}


def test_a_control_character_in_a_name_is_rejected_at_that_field(ehr_bundle, registry):
    patient = copy.deepcopy(ehr_bundle()["entry"][0]["resource"])
    patient["name"][0]["family"] = "Riv\x1bera"
    [result] = _read(ehr_bundle(patient=patient), registry).encounters
    assert [(p.location, p.reason) for p in result.problems] == [
        ("/entry/0/resource/name/0/family", "contains a control character")
    ]


def test_an_unknown_payer_is_rejected_never_guessed(ehr_bundle, registry):
    coverage = copy.deepcopy(ehr_bundle()["entry"][4]["resource"])
    coverage["payor"] = [{"display": "Blue Shield of Nowhere"}]
    [result] = _read(ehr_bundle(coverage=coverage), registry).encounters
    assert result.outcome is Outcome.REJECTED
    assert result.problems[0].location == "/entry/4/resource"
    assert "not a name or alias" in result.problems[0].reason


def test_a_payer_that_requires_member_ids_rejects_a_coverage_without_one(ehr_bundle, registry):
    coverage = copy.deepcopy(ehr_bundle()["entry"][4]["resource"])
    del coverage["subscriberId"]
    [result] = _read(ehr_bundle(coverage=coverage), registry).encounters
    assert result.outcome is Outcome.REJECTED and "no member id" in result.problems[0].reason


def test_an_invalid_condition_rejects_only_its_own_encounter(ehr_bundle, registry):
    document = ehr_bundle()
    second = copy.deepcopy(document["entry"][1]["resource"])
    second["id"], second["identifier"][0]["value"] = "enc2", "V-1002"
    procedure = copy.deepcopy(document["entry"][3]["resource"])
    procedure.update(id="pr2", encounter={"reference": "urn:uuid:enc2"})
    bad_condition = copy.deepcopy(document["entry"][2]["resource"])
    bad_condition.update(id="c2", encounter={"reference": "urn:uuid:enc2"}, onsetDateTime="soon")
    document["entry"] += [
        {"fullUrl": "urn:uuid:enc2", "resource": second},
        {"fullUrl": "urn:uuid:pr2", "resource": procedure},
        {"fullUrl": "urn:uuid:c2", "resource": bad_condition},
    ]
    results = {r.fhir_id: r for r in _read(document, registry).encounters}
    assert results["enc1"].outcome is Outcome.MAPPED
    assert results["enc2"].outcome is Outcome.REJECTED
    assert [p.location for p in results["enc2"].problems] == ["/entry/7/resource/onsetDateTime"]


def test_a_practitioner_npi_failing_the_check_digit_is_kept_by_identifier_and_can_be_corrected(
    ehr_bundle, registry
):
    bad_npi = RENDERING_NPI[:9] + str((int(RENDERING_NPI[9]) + 1) % 10)
    practitioner = {
        "resourceType": "Practitioner",
        "id": "dr1",
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": bad_npi}],
        "name": [{"family": "Okafor", "given": ["Noah"]}],
    }
    directory = _read(bundle(practitioner, kind="batch"), registry).directory
    assert "check digit" in directory.problems[0].reason
    assert directory.providers[0].npi is None
    encounter = copy.deepcopy(ehr_bundle()["entry"][1]["resource"])
    encounter["participant"][0]["individual"]["reference"] = (
        f"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|{bad_npi}"
    )
    loaded = registry.merged(directory)
    [rejected] = _read(ehr_bundle(encounter=encounter), loaded).encounters
    assert rejected.outcome is Outcome.REJECTED and "NPI" in rejected.problems[0].reason
    corrected = replace(
        directory.providers[0], npi=make_npi(77), local_ids=directory.providers[0].local_ids
    )
    fixed = registry.merged(replace(directory, providers=(corrected,)))
    [accepted] = _read(ehr_bundle(encounter=encounter), fixed).encounters
    assert accepted.outcome is Outcome.MAPPED
    assert accepted.encounter.providers.rendering.npi == make_npi(77)


def test_a_bundle_without_a_default_billing_provider_rejects_unregistered_organisations(ehr_bundle):
    registry = tenant_registry(
        defaults=TenantDefaults(),
        providers=(Provider("individual", npi=RENDERING_NPI, first_name="Ada", last_name="Quill"),),
    )
    [result] = _read(ehr_bundle(), registry).encounters
    assert result.outcome is Outcome.REJECTED
    assert any(p.location.endswith("/serviceProvider") for p in result.problems)


@pytest.mark.parametrize(
    ("document", "location"),
    [
        (b"{not json", "/"),
        (b"[]", "/"),
        (b'{"resourceType": "Patient"}', "/resourceType"),
        (b'{"resourceType": "Bundle", "type": "searchset"}', "/type"),
        (b'{"resourceType": "Bundle", "type": "batch", "entry": {}}', "/entry"),
        (b"\xff\xfe", "/"),
        (b"[" * 100_000, "/"),
    ],
)
def test_what_is_not_a_usable_bundle_is_one_problem_with_its_pointer(document, location, registry):
    result = _read(document, registry)
    assert not result.ok and result.encounters == ()
    assert result.problems[0].location == location


def test_a_bundle_of_every_allowed_type_is_read(ehr_bundle, registry):
    for kind in ("transaction", "batch", "collection"):
        document = ehr_bundle()
        document["type"] = kind
        assert _read(document, registry).encounters[0].outcome is Outcome.MAPPED


def test_a_practitioner_in_the_same_bundle_resolves_without_the_registry(ehr_bundle):
    registry = tenant_registry(providers=tenant_registry().providers[:1])
    practitioner = {
        "resourceType": "Practitioner",
        "id": "dr9",
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": make_npi(9)}],
        "name": [{"family": "Haddad", "given": ["Ivy"]}],
    }
    document = ehr_bundle()
    document["entry"].append({"fullUrl": "urn:uuid:dr9", "resource": practitioner})
    document["entry"][1]["resource"]["participant"][0]["individual"] = {"reference": "urn:uuid:dr9"}
    result = _read(document, registry)
    [outcome] = result.encounters
    assert outcome.outcome is Outcome.MAPPED
    assert outcome.encounter.providers.rendering.last_name == "Haddad"
    assert [p.npi for p in result.directory.providers] == [make_npi(9)]
