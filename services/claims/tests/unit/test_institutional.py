"""Which claim form an encounter goes on, and the revenue code of a facility line."""

import pytest

from claimflow_claims.domain import choose_claim_type
from claimflow_claims.domain.institutional import revenue_code_for
from claimflow_shared.events.models import EncounterClass

AMBULATORY, EMERGENCY, INPATIENT = (
    EncounterClass.AMBULATORY,
    EncounterClass.EMERGENCY,
    EncounterClass.INPATIENT,
)


@pytest.mark.parametrize(
    ("taxonomy", "expected"),
    [
        ("282N00000X", "837I"),
        ("314000000X", "837I"),
        ("261QR1300X", "837I"),
        ("207Q00000X", "837P"),
    ],
)
def test_billing_providers_taxonomy_decides_the_form(taxonomy, expected):
    kind = choose_claim_type(
        encounter_class=INPATIENT, place_of_service="21", billing_taxonomy=taxonomy
    )
    assert kind == expected


def test_a_physician_billing_for_an_inpatient_stay_uses_the_professional_form():
    kind = choose_claim_type(
        encounter_class=INPATIENT, place_of_service="21", billing_taxonomy="207RC0000X"
    )
    assert kind == "837P"


def test_the_registry_flag_wins_over_the_taxonomy():
    kind = choose_claim_type(
        encounter_class=AMBULATORY,
        place_of_service="11",
        billing_taxonomy="207Q00000X",
        billing_is_facility=True,
    )
    assert kind == "837I"


@pytest.mark.parametrize(
    ("encounter_class", "place", "expected"),
    [
        (INPATIENT, "21", "837I"),
        (EMERGENCY, "23", "837I"),
        (EMERGENCY, "11", "837P"),
        (AMBULATORY, "22", "837P"),
        (AMBULATORY, "11", "837P"),
    ],
)
def test_without_a_taxonomy_hospital_stays_in_hospital_places_are_institutional(
    encounter_class, place, expected
):
    assert choose_claim_type(encounter_class=encounter_class, place_of_service=place) == expected


@pytest.mark.parametrize(
    ("code", "revenue"),
    [("99284", "0450"), ("85025", "0300"), ("71046", "0320"), ("J1100", "0636"), ("99213", "0510")],
)
def test_facility_lines_get_the_revenue_code_of_their_procedure(code, revenue):
    assert revenue_code_for(code) == revenue


def test_unknown_procedure_has_no_revenue_code():
    assert revenue_code_for("T1015") is None
