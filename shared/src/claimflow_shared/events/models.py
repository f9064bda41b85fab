"""Payloads of the revenue-cycle events. Each carries the state the next stage needs.

Minor versions only add optional fields; a breaking change is a new major topic.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from claimflow_shared.codes import (
    AdjustmentGroup,
    Carc,
    ClaimId,
    Icd10CmCode,
    Modifier,
    Money,
    Npi,
    PlaceOfService,
    ProcedureCodeSystem,
    Rarc,
    procedure_code,
)


class Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"
    UNKNOWN = "U"


class SubscriberRelationship(StrEnum):
    """Patient's relationship to the subscriber, as X12 individual relationship codes."""

    SELF = "18"
    SPOUSE = "01"
    CHILD = "19"
    OTHER = "G8"


class CoveragePriority(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    TERTIARY = "tertiary"


class EncounterClass(StrEnum):
    AMBULATORY = "ambulatory"
    EMERGENCY = "emergency"
    INPATIENT = "inpatient"


class CodeDecision(StrEnum):
    """How a final code was decided."""

    GIVEN = "given"
    SUGGESTED_ACCEPTED = "suggested-accepted"
    CODER = "coder"


class Address(Contract):
    line1: str = Field(min_length=1, max_length=55)
    line2: str | None = Field(default=None, max_length=55)
    city: str = Field(min_length=2, max_length=30)
    state: str = Field(pattern=r"^[A-Z]{2}$")
    postal_code: str = Field(pattern=r"^[0-9]{5}([0-9]{4})?$")


class Patient(Contract):
    """Demographics travel as one object so they can be encrypted or tokenised as a unit."""

    mrn: str = Field(min_length=1, max_length=50)
    first_name: str = Field(min_length=1, max_length=35)
    last_name: str = Field(min_length=1, max_length=60)
    birth_date: date
    sex: Sex
    address: Address


class PayerRef(Contract):
    payer_id: str = Field(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9]+$")
    name: str = Field(min_length=1, max_length=60)


class Coverage(Contract):
    payer: PayerRef
    member_id: str = Field(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9-]+$")
    group_number: str | None = Field(default=None, max_length=50)
    relationship: SubscriberRelationship = SubscriberRelationship.SELF
    priority: CoveragePriority = CoveragePriority.PRIMARY


class BillingProvider(Contract):
    npi: Npi
    name: str = Field(min_length=1, max_length=60)
    tax_id: str = Field(pattern=r"^[0-9]{9}$", description="EIN, 9 digits")
    address: Address


class RenderingProvider(Contract):
    npi: Npi
    first_name: str = Field(min_length=1, max_length=35)
    last_name: str = Field(min_length=1, max_length=60)
    taxonomy: str | None = Field(default=None, pattern=r"^[0-9A-Z]{9}X$")


class Providers(Contract):
    billing: BillingProvider
    rendering: RenderingProvider
    facility_npi: Npi | None = None


class SourceDocument(Contract):
    system: str = Field(min_length=1, max_length=64)
    document_id: str = Field(min_length=1, max_length=128)


class DocumentedDiagnosis(Contract):
    sequence: int = Field(ge=1, le=12)
    code_system: Literal["ICD-10-CM"] = "ICD-10-CM"
    code: str | None = Field(default=None, max_length=8, description="As documented, if any")
    text: str | None = Field(default=None, max_length=500)


class DocumentedProcedure(Contract):
    sequence: int = Field(ge=1, le=50)
    code_system: ProcedureCodeSystem
    code: str | None = Field(default=None, max_length=5)
    text: str | None = Field(default=None, max_length=500)
    modifiers: list[Modifier] = Field(default_factory=list, max_length=4)
    units: int = Field(default=1, ge=1, le=999)
    service_date: date
    diagnosis_sequences: list[int] = Field(
        default_factory=list, max_length=4, description="Documented diagnoses this supports"
    )


class EncounterDocumented(Contract):
    source: SourceDocument
    patient: Patient
    coverages: list[Coverage] = Field(min_length=1, max_length=3)
    providers: Providers
    encounter_class: EncounterClass = EncounterClass.AMBULATORY
    period_start: date
    period_end: date
    place_of_service: PlaceOfService = "11"
    diagnoses: list[DocumentedDiagnosis] = Field(min_length=1, max_length=12)
    procedures: list[DocumentedProcedure] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _period_in_order(self) -> EncounterDocumented:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


class CodedDiagnosis(Contract):
    sequence: int = Field(ge=1, le=12)
    code: Icd10CmCode
    description: str | None = None
    decision: CodeDecision
    decided_by: str


class CodedServiceLine(Contract):
    line_number: int = Field(ge=1, le=50)
    code_system: ProcedureCodeSystem
    code: str
    modifiers: list[Modifier] = Field(default_factory=list, max_length=4)
    units: int = Field(ge=1, le=999)
    service_date: date
    diagnosis_pointers: list[int] = Field(min_length=1, max_length=4)
    decision: CodeDecision
    decided_by: str

    @model_validator(mode="after")
    def _code_matches_system(self) -> CodedServiceLine:
        procedure_code(self.code_system, self.code)
        return self


class CodeSetVersions(Contract):
    icd10cm: str
    cpt: str
    hcpcs: str


class EncounterCoded(EncounterDocumented):
    final_diagnoses: list[CodedDiagnosis] = Field(min_length=1, max_length=12)
    service_lines: list[CodedServiceLine] = Field(min_length=1, max_length=50)
    code_sets: CodeSetVersions
    coded_by: str


class QueryReason(Contract):
    field: str
    code: str | None = None
    problem: str


class CodingQueryRaised(Contract):
    """The encounter cannot be coded as documented: a coder (or the physician) must answer."""

    source: SourceDocument
    reasons: list[QueryReason] = Field(min_length=1)


class ClaimLine(Contract):
    line_number: int = Field(ge=1, le=50)
    code_system: ProcedureCodeSystem
    code: str
    modifiers: list[Modifier] = Field(default_factory=list, max_length=4)
    units: int = Field(ge=1)
    service_date: date
    diagnosis_pointers: list[int] = Field(min_length=1, max_length=4)
    charge: Money


class ClaimSubmitted(Contract):
    claim_id: ClaimId
    claim_type: Literal["837P", "837I"]
    frequency_code: Literal["1", "7", "8"] = "1"
    payer: PayerRef
    member_id: str
    patient: Patient
    billing_npi: Npi
    diagnoses: list[Icd10CmCode] = Field(min_length=1, max_length=12)
    lines: list[ClaimLine] = Field(min_length=1)
    total_charge: Money
    interchange_control_number: str = Field(pattern=r"^[0-9]{9}$")
    group_control_number: str
    transaction_control_number: str
    file_reference: str
    submitted_at: datetime
    ack_status: Literal["accepted", "accepted-with-errors", "pending"] = "pending"

    @model_validator(mode="after")
    def _total_is_sum_of_lines(self) -> ClaimSubmitted:
        if sum(line.charge for line in self.lines) != self.total_charge:
            raise ValueError("total_charge is not the sum of the line charges")
        return self


class ClaimRejected(Contract):
    """The clearinghouse (999) or the payer front end (277CA) rejected the claim."""

    claim_id: ClaimId
    stage: Literal["999", "277CA", "scrubber"]
    reasons: list[str] = Field(min_length=1)


class RemittanceAdjustment(Contract):
    group: AdjustmentGroup
    carc: Carc
    amount: Money
    quantity: int | None = None


class LineAdjustment(Contract):
    line_number: int | None = None
    code: str
    modifiers: list[str] = Field(default_factory=list)
    charge: Money
    paid: Money
    allowed: Money | None = None
    units: int | None = None
    adjustments: list[RemittanceAdjustment] = Field(default_factory=list)
    rarcs: list[Rarc] = Field(default_factory=list)


class PaymentInfo(Contract):
    method: str = Field(description="BPR04: CHK, ACH, NON, ...")
    trace_number: str = Field(description="TRN02: check or EFT trace number")
    payment_date: date | None
    payer_id: str | None = None
    payer_name: str | None = None


class RemittanceReceived(Contract):
    claim_id: ClaimId
    payer_claim_number: str
    status_code: str = Field(
        description="CLP02: 1/2/3 processed as primary/secondary/tertiary, 4 denied, 22 reversal"
    )
    status: Literal["paid", "partially-paid", "denied", "reversed"]
    total_charge: Money
    paid: Money
    allowed: Money | None = None
    patient_responsibility: Money
    claim_adjustments: list[RemittanceAdjustment] = Field(default_factory=list)
    lines: list[LineAdjustment] = Field(default_factory=list)
    rarcs: list[Rarc] = Field(default_factory=list)
    payment: PaymentInfo
    remittance_file_id: str


class ClaimDenied(Contract):
    claim_id: ClaimId
    payer_claim_number: str | None = None
    adjustments: list[RemittanceAdjustment] = Field(min_length=1)
    rarcs: list[Rarc] = Field(default_factory=list)
    denied_amount: Money
    category: str = Field(examples=["eligibility", "timely-filing", "medical-necessity"])
    recommended_action: str
    appealable: bool = True


class PatientBalanceDue(Contract):
    claim_id: ClaimId
    patient: Patient
    amount: Money
    reasons: list[RemittanceAdjustment] = Field(default_factory=list)
