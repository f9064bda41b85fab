"""The claim as the claims service builds, scrubs and submits it: professional (837P) or
institutional (837I), original, replacement or void, to a primary or a later payer."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from claimflow_claims.domain.fee_schedule import FeeSchedule, UnpricedProcedure
from claimflow_claims.domain.institutional import (
    ACCOMMODATION_REVENUE_CODE,
    ClaimType,
    InstitutionalDetails,
    revenue_code_for,
)
from claimflow_shared.codes import (
    AdjustmentGroup,
    Carc,
    ClaimId,
    EncounterId,
    Icd10CmCode,
    Money,
    PlaceOfService,
    ProcedureCodeSystem,
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

FrequencyCode = Literal["1", "7", "8"]


class Subscriber(BaseModel):
    """The insured person when the patient is a dependent (2010BA carries only the name then)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_name: str = Field(min_length=1, max_length=35)
    last_name: str = Field(min_length=1, max_length=60)


class ServiceLine(ClaimLine):
    """A priced service line. Professional lines carry a CPT/HCPCS code and diagnosis
    pointers; institutional lines carry a revenue code and, outpatient, a HCPCS/CPT code."""

    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)

    code_system: ProcedureCodeSystem | None = None  # type: ignore[assignment]
    code: str | None = None  # type: ignore[assignment]
    diagnosis_pointers: list[int] = Field(default_factory=list, max_length=4)
    revenue_code: str | None = Field(default=None, pattern=r"^[0-9]{4}$")
    unit_basis: Literal["UN", "DA"] = Field(
        default="UN", description="SV204: UN units, DA days (accommodation lines)"
    )


class PriorAdjustment(BaseModel):
    """One CAS entry an earlier payer applied (group, CARC, amount)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: AdjustmentGroup
    carc: Carc
    amount: Money
    quantity: int | None = None


class PriorLinePayment(BaseModel):
    """Loop 2430: how an earlier payer paid one of our service lines."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line_number: int = Field(ge=1, le=999)
    paid: Money
    paid_units: int = Field(default=1, ge=0)
    adjustments: tuple[PriorAdjustment, ...] = ()
    adjudicated_on: date
    remaining_patient_liability: Money | None = None


class OtherPayer(BaseModel):
    """Loops 2320/2330A/2330B: another payer of this claim and, once it adjudicated, what it
    paid and adjusted. A secondary claim carries the primary here."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    coverage: Coverage
    subscriber: Subscriber | None = Field(
        default=None, description="The other policy's subscriber when not the patient"
    )
    claim_filing_indicator: str = Field(default="CI", pattern=r"^[0-9A-Z]{2}$")
    payer_claim_number: str | None = Field(default=None, max_length=50)
    paid: Money | None = Field(default=None, description="AMT*D; None when not adjudicated")
    adjudicated_on: date | None = None
    claim_adjustments: tuple[PriorAdjustment, ...] = ()
    line_payments: tuple[PriorLinePayment, ...] = ()
    remaining_patient_liability: Money | None = None


class Claim(BaseModel):
    """Everything an 837P or 837I needs for one claim to one payer.

    Deliberately no cross-field validation (pointers, totals): those are scrubber edits, so a
    flawed claim can still exist, be held and be explained.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    claim_id: ClaimId
    tenant_id: TenantId
    encounter_id: EncounterId
    claim_type: ClaimType = "837P"
    frequency_code: FrequencyCode = "1"
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
    lines: tuple[ServiceLine, ...]
    total_charge: Money
    institutional: InstitutionalDetails | None = Field(
        default=None, description="Required on an 837I, absent on an 837P"
    )
    other_payers: tuple[OtherPayer, ...] = Field(default=(), max_length=10)

    @property
    def patient_is_subscriber(self) -> bool:
        return self.coverage.relationship is SubscriberRelationship.SELF

    @property
    def type_of_bill(self) -> str | None:
        """The UB-04 type of bill (facility type + frequency), e.g. 0111, for an 837I."""
        if self.institutional is None:
            return None
        return f"0{self.institutional.facility_type}{self.frequency_code}"


def primary_coverage(coverages: list[Coverage]) -> Coverage:
    """The coverage billed first: the one marked primary, else the first listed."""
    for coverage in coverages:
        if coverage.priority is CoveragePriority.PRIMARY:
            return coverage
    return coverages[0]


def price_service_line(
    line: CodedServiceLine,
    *,
    line_number: int,
    pointers: list[int],
    fee_schedule: FeeSchedule,
    revenue_code: str | None = None,
    unpriced_as_zero: bool = False,
) -> ServiceLine:
    """A coded service line with its charge from the fee schedule in force on its date.
    An unpriced code raises `UnpricedProcedure`, or is charged 0.00 when `unpriced_as_zero`
    (the scrubber's charges edit then holds the claim, naming the line)."""
    try:
        charge = fee_schedule.price_line(
            code_system=line.code_system,
            code=line.code,
            modifiers=line.modifiers,
            units=line.units,
            on=line.service_date,
        )
    except UnpricedProcedure:
        if not unpriced_as_zero:
            raise
        charge = money(0)
    return ServiceLine(
        line_number=line_number,
        code_system=line.code_system,
        code=line.code,
        modifiers=line.modifiers,
        units=line.units,
        service_date=line.service_date,
        diagnosis_pointers=pointers,
        charge=charge,
        revenue_code=revenue_code,
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
    claim_type: ClaimType = "837P",
    institutional: InstitutionalDetails | None = None,
    coverage: Coverage | None = None,
    other_payers: tuple[OtherPayer, ...] = (),
    frequency_code: FrequencyCode = "1",
    original_claim_number: str | None = None,
    unpriced_as_zero: bool = False,
) -> Claim:
    """Build a claim for a coded encounter, priced line by line.

    An 837I puts each line under the revenue code of its procedure and, for an inpatient
    stay, adds the accommodation (room and board) days. `coverage` defaults to the primary
    one; a secondary claim passes the secondary coverage and the primary in `other_payers`.
    Raises `UnpricedProcedure` when a line's code has no price.
    """
    institutional_claim = claim_type == "837I"
    if institutional_claim and institutional is None:
        raise ValueError("an 837I claim needs its institutional details")
    diagnoses = sorted(coded.final_diagnoses, key=lambda d: d.sequence)
    # Coders point at diagnosis sequence numbers; the 837 points at positions in HI.
    position_of = {d.sequence: position for position, d in enumerate(diagnoses, start=1)}
    coded_lines = sorted(coded.service_lines, key=lambda line: line.line_number)
    lines = [
        price_service_line(
            line,
            line_number=number,
            # The 837I sends no pointers (the claim's codes cover every line); the coder's
            # stay on the line for the medical-necessity edit and the event.
            pointers=[position_of.get(p, p) for p in line.diagnosis_pointers],
            fee_schedule=fee_schedule,
            revenue_code=revenue_code_for(line.code) if institutional_claim else None,
            unpriced_as_zero=unpriced_as_zero,
        )
        for number, line in enumerate(coded_lines, start=1)
    ]
    if institutional and institutional.inpatient:
        lines.append(
            accommodation_line(
                line_number=len(lines) + 1,
                admitted_on=coded.period_start,
                discharged_on=coded.period_end,
                fee_schedule=fee_schedule,
            )
        )
    return Claim(
        claim_id=claim_id,
        tenant_id=tenant_id,
        encounter_id=encounter_id,
        claim_type=claim_type,
        frequency_code=frequency_code,
        original_claim_number=original_claim_number,
        patient=coded.patient,
        coverage=coverage or primary_coverage(coded.coverages),
        subscriber=subscriber,
        claim_filing_indicator=claim_filing_indicator,
        providers=coded.providers,
        place_of_service=coded.place_of_service,
        period_start=coded.period_start,
        period_end=coded.period_end,
        diagnoses=tuple(d.code for d in diagnoses),
        lines=tuple(lines),
        total_charge=money(sum((line.charge for line in lines), start=money(0))),
        institutional=institutional if institutional_claim else None,
        other_payers=other_payers,
    )


def accommodation_line(
    *, line_number: int, admitted_on: date, discharged_on: date, fee_schedule: FeeSchedule
) -> ServiceLine:
    """Room and board for an inpatient stay: one unit per night (the discharge day is not
    billed, a same-day stay counts one day), priced per day."""
    days = max(1, (discharged_on - admitted_on).days)
    rate = fee_schedule.revenue_code_price(ACCOMMODATION_REVENUE_CODE, on=admitted_on)
    return ServiceLine(
        line_number=line_number,
        revenue_code=ACCOMMODATION_REVENUE_CODE,
        unit_basis="DA",
        units=days,
        service_date=discharged_on - timedelta(days=days) if days else admitted_on,
        charge=money(rate * days),
    )
