from decimal import Decimal

import pydantic
import pytest

from claimflow_claims.domain import Claim, UnpricedProcedure, build_claim
from claimflow_shared.events.models import CodedDiagnosis, CodeDecision, CoveragePriority


def test_claim_lines_are_priced_from_the_fee_schedule_and_totalled(make):
    claim = make.claim(lines=[make.line("99213"), make.line("36415"), make.line("J1100", units=4)])
    assert [line.charge for line in claim.lines] == [
        Decimal("98.00"),
        Decimal("9.50"),
        Decimal("1.40"),
    ]
    assert claim.total_charge == Decimal("108.90")
    assert [line.line_number for line in claim.lines] == [1, 2, 3]


def test_claim_is_an_original_professional_claim(make):
    claim = make.claim()
    assert (claim.claim_type, claim.frequency_code) == ("837P", "1")


def test_primary_coverage_is_billed_even_when_listed_second(make):
    secondary = make.coverage(payer_id="SEC01", priority=CoveragePriority.SECONDARY)
    primary = make.coverage(payer_id="PRI01", priority=CoveragePriority.PRIMARY)
    coded = make.coded(coverages=[secondary, primary])
    claim = build_claim(
        claim_id="C1",
        tenant_id="acme",
        encounter_id="e1",
        coded=coded,
        fee_schedule=make.fee_schedule,
    )
    assert claim.coverage.payer.payer_id == "PRI01"


def test_first_coverage_is_billed_when_none_is_marked_primary(make):
    first = make.coverage(payer_id="FIRST1", priority=CoveragePriority.SECONDARY)
    second = make.coverage(payer_id="SECOND2", priority=CoveragePriority.TERTIARY)
    coded = make.coded(coverages=[first, second])
    claim = build_claim(
        claim_id="C1",
        tenant_id="acme",
        encounter_id="e1",
        coded=coded,
        fee_schedule=make.fee_schedule,
    )
    assert claim.coverage.payer.payer_id == "FIRST1"


def test_diagnoses_follow_coder_sequence_and_pointers_follow_them(make):
    coded = make.coded(lines=[make.line("99213", pointers=[5, 2])])
    # Coder sequences 5 and 2 (out of order, with gaps) become HI positions 2 and 1.
    coded = coded.model_copy(
        update={
            "final_diagnoses": [
                CodedDiagnosis(
                    sequence=5, code="R05.1", decision=CodeDecision.GIVEN, decided_by="dr"
                ),
                CodedDiagnosis(
                    sequence=2, code="J06.9", decision=CodeDecision.GIVEN, decided_by="dr"
                ),
            ]
        }
    )
    claim = build_claim(
        claim_id="C1",
        tenant_id="acme",
        encounter_id="e1",
        coded=coded,
        fee_schedule=make.fee_schedule,
    )
    assert claim.diagnoses == ("J069", "R051")
    assert claim.lines[0].diagnosis_pointers == [2, 1]


def test_unpriced_code_stops_the_claim_with_unpriced_procedure(make):
    with pytest.raises(UnpricedProcedure, match="99499"):
        make.claim(lines=[make.line("99213"), make.line("99499")])


def test_claim_cannot_be_changed_in_place(make):
    claim = make.claim()
    with pytest.raises(pydantic.ValidationError):
        claim.claim_id = "OTHER"


def test_claim_survives_a_json_round_trip(make):
    claim = make.claim(lines=[make.line("99213", modifiers=["25"]), make.line("20610")])
    assert Claim.model_validate_json(claim.model_dump_json()) == claim
