"""The field rules every input shares, and errors that name the field but never the value."""

from __future__ import annotations

from datetime import date

import pytest

from claimflow_intake.domain.json_encounter import complete_from_registry
from claimflow_intake.domain.validation import (
    has_control_characters,
    normalise_sex,
    npi_problem,
    postal_code,
    state_code,
    validate_documented,
)
from claimflow_shared.codes import npi_check_digit
from services.intake.tests.unit.builders import TODAY, json_encounter, make_npi, tenant_registry


def _body(**changes):
    body, problems = complete_from_registry(json_encounter(), registry=tenant_registry())
    assert problems == []
    body.update(changes)
    return body


def _problems(body, today=TODAY):
    encounter, problems = validate_documented(body, today=today, known_payer_ids={"BCBS"})
    assert (encounter is None) == bool(problems)
    return [(p.location, p.reason) for p in problems]


def test_the_cms_example_npi_passes_the_check_digit():
    assert npi_problem("1234567893") is None
    assert npi_check_digit("123456789") == 3


@pytest.mark.parametrize(
    ("npi", "reason"),
    [("1234567890", "check digit"), ("12345", "10 digits"), ("12345678a3", "10 digits")],
)
def test_an_npi_problem_says_why(npi, reason):
    assert reason in npi_problem(npi)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("MA", "MA"),
        ("ma", "MA"),
        ("Massachusetts", "MA"),
        ("new  york", "NY"),
        ("District of Columbia", "DC"),
        ("Puerto Rico", "PR"),
        ("Atlantis", None),
        ("", None),
    ],
)
def test_states_read_as_codes_or_full_names(value, code):
    assert state_code(value) == code


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("02110", "02110"),
        ("02110-1234", "021101234"),
        ("021101234", "021101234"),
        ("00000", None),
        ("2110", None),
        ("", None),
        (None, None),
    ],
)
def test_postal_codes_are_zip_or_zip_plus_four_never_the_placeholder(value, code):
    assert postal_code(value) == code


@pytest.mark.parametrize(
    ("value", "sex"),
    [("M", "M"), ("female", "F"), ("unknown", "U"), ("O", "U"), ("A", "U"), ("x", None)],
)
def test_sex_reads_hl7_fhir_and_x12_spellings(value, sex):
    assert normalise_sex(value) == sex


@pytest.mark.parametrize(
    "text",
    [
        "a\x00b",
        "tab\there",
        "line\nbreak",
        "esc\x1b",
        "del\x7f",
        "c1\x85",
        "bidi\u202e",
        "sep\u2028",
    ],
)
def test_control_characters_are_found(text):
    assert has_control_characters(text)


def test_ordinary_text_including_accents_is_not_a_control_character():
    assert not has_control_characters("Jos\u00e9 O'Brien-Smith, Apt #3 / 4")


def test_a_valid_encounter_has_no_problems():
    assert _problems(_body()) == []


def test_dates_of_service_cannot_be_in_the_future():
    problems = _problems(_body(), today=date(2026, 9, 30))
    assert ("/period_start", "date of service is in the future") in problems
    assert ("/procedures/0/service_date", "date of service is in the future") in problems


def test_a_service_date_outside_the_encounter_is_an_error():
    body = _body()
    body["procedures"] = [body["procedures"][0] | {"service_date": "2026-09-01"}]
    assert _problems(body) == [
        ("/procedures/0/service_date", "service date is outside the encounter period")
    ]


@pytest.mark.parametrize(
    ("birth", "reason"),
    [("1890-01-01", "implausible"), ("2026-10-02", "after the date of service")],
)
def test_birth_dates_must_be_plausible(birth, reason):
    body = _body()
    body["patient"] = body["patient"] | {"birth_date": birth}
    [(where, why)] = _problems(body)
    assert where == "/patient/birth_date" and reason in why


def test_an_unknown_payer_place_of_service_or_taxonomy_is_named():
    body = _body(place_of_service="00")
    body["coverages"] = [body["coverages"][0] | {"payer": {"payer_id": "ZZZ", "name": "Z"}}]
    body["providers"] = body["providers"] | {
        "rendering": body["providers"]["rendering"] | {"taxonomy": "999999999X"}
    }
    assert set(_problems(body)) == {
        ("/coverages/0/payer/payer_id", "payer is not known to the tenant"),
        ("/place_of_service", "not a CMS place-of-service code"),
        ("/providers/rendering/taxonomy", "not a NUCC taxonomy code"),
    }


def test_a_pointer_to_an_undocumented_diagnosis_is_an_error():
    body = _body()
    body["procedures"] = [body["procedures"][0] | {"diagnosis_sequences": [2]}]
    assert _problems(body) == [
        ("/procedures/0/diagnosis_sequences/0", "points to a diagnosis that is not documented")
    ]


def test_a_bad_npi_or_member_id_is_named_without_echoing_it():
    body = _body()
    body["providers"] = body["providers"] | {
        "billing": body["providers"]["billing"] | {"npi": "1234567890"}
    }
    body["coverages"] = [body["coverages"][0] | {"member_id": "SSN 123-45-6789"}]
    problems = _problems(body)
    assert {where for where, _ in problems} == {"/providers/billing/npi", "/coverages/0/member_id"}
    assert not any("1234567890" in why or "6789" in why for _, why in problems)


def test_a_control_character_anywhere_is_named_at_its_field():
    body = _body()
    body["diagnoses"] = [{"sequence": 1, "text": "chest\x00pain"}]
    assert _problems(body) == [("/diagnoses/0/text", "contains a control character")]


def test_a_missing_field_is_named_as_required():
    body = _body()
    del body["patient"]["sex"]
    assert _problems(body) == [("/patient/sex", "is required")]


def test_make_npi_builds_valid_npis():
    assert all(npi_problem(make_npi(n)) is None for n in range(50))
