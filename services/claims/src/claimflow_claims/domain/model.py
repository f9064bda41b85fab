"""The professional claim (837P) as the claims service builds, scrubs and submits it."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from claimflow_claims.domain.fee_schedule import FeeSchedule
from claimflow_shared.codes import (
    ClaimId,
    EncounterId,
    Icd10CmCode,
    Money,
    PlaceOfService,
    TenantId,
    money,
)
from claimflow_shared.events.models import (
    ClaimLine,
    CodedServiceLine,
    Coverage,
    CoveragePriority,
    EncounterCoded,
    Patient,
    Providers,
    SubscriberRelationship,
)


class Subscriber(BaseModel):
    """The insured person when the patient is a dependent (2010BA carries only the name then)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_name: str = Field(min_length=1, max_length=35)
    last_name: str = Field(min_length=1, max_length=60)


class Claim(BaseModel):
    """Everything an 837P needs for one claim to one payer.

    Deliberately no cross-field validation (pointers, totals): those are scrubber edits, so a
    flawed claim can still exist, be held and be explained.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    claim_id: ClaimId
    tenant_id: TenantId
    encounter_id: EncounterId
    claim_type: Literal["837P"] = "837P"
    frequency_code: Literal["1", "7", "8"] = "1"
    original_claim_number: str | None = Field(
        default=None, max_length=50, description="Payer claim number replaced (7) or voided (8)"
    )
    patient: Patient
    coverage: Coverage
    subscriber: Subscriber | None = Field(
        default=None, description="Required when the patient is not the subscriber"
    )
    claim_filing_indicator: str = Field(
        default="CI", pattern=r"^[0-9A-Z]{2}$", description="SBR09: CI commercial, MB Medicare B"
    )
    providers: Providers
    place_of_service: PlaceOfService
    period_start: date
    period_end: date
    diagnoses: tuple[Icd10CmCode, ...]
    lines: tuple[ClaimLine, ...]
    total_charge: Money

    @property
    def patient_is_subscriber(self) -> bool:
        return self.coverage.relationship is SubscriberRelationship.SELF


def primary_coverage(coverages: list[Coverage]) -> Coverage:
    """The coverage billed first: the one marked primary, else the first listed."""
    for coverage in coverages:
        if coverage.priority is CoveragePriority.PRIMARY:
            return coverage
    return coverages[0]


def price_service_line(
    line: CodedServiceLine, *, line_number: int, pointers: list[int], fee_schedule: FeeSchedule
) -> ClaimLine:
    """A coded service line with its charge from the fee schedule."""
    charge = fee_schedule.price_line(
        code_system=line.code_system, code=line.code, modifiers=line.modifiers, units=line.units
    )
    return ClaimLine(
        line_number=line_number,
        code_system=line.code_system,
        code=line.code,
        modifiers=line.modifiers,
        units=line.units,
        service_date=line.service_date,
        diagnosis_pointers=pointers,
        charge=charge,
    )


def build_claim(
    *,
    claim_id: str,
    tenant_id: str,
    encounter_id: str,
    coded: EncounterCoded,
    fee_schedule: FeeSchedule,
    subscriber: Subscriber | None = None,
    claim_filing_indicator: str = "CI",
) -> Claim:
    """Build the original (frequency 1) claim for a coded encounter, priced line by line.

    Raises `UnpricedProcedure` when a line's code has no price.
    """
    diagnoses = sorted(coded.final_diagnoses, key=lambda d: d.sequence)
    # Coders point at diagnosis sequence numbers; the 837 points at positions in HI.
    position_of = {d.sequence: position for position, d in enumerate(diagnoses, start=1)}
    coded_lines = sorted(coded.service_lines, key=lambda line: line.line_number)
    lines = tuple(
        price_service_line(
            line,
            line_number=number,
            pointers=[position_of.get(p, p) for p in line.diagnosis_pointers],
            fee_schedule=fee_schedule,
        )
        for number, line in enumerate(coded_lines, start=1)
    )
    return Claim(
        claim_id=claim_id,
        tenant_id=tenant_id,
        encounter_id=encounter_id,
        patient=coded.patient,
        coverage=primary_coverage(coded.coverages),
        subscriber=subscriber,
        claim_filing_indicator=claim_filing_indicator,
        providers=coded.providers,
        place_of_service=coded.place_of_service,
        period_start=coded.period_start,
        period_end=coded.period_end,
        diagnoses=tuple(d.code for d in diagnoses),
        lines=lines,
        total_charge=money(sum((line.charge for line in lines), start=money(0))),
    )
