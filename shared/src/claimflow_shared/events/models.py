"""Payloads of the revenue-cycle events. Each carries the state the next stage needs.

Minor versions only add optional fields; a breaking change is a new major topic.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

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

# NUL and the other C0 controls (tab, line feed and carriage return aside), DEL, and UTF-16
# surrogates, which no UTF-8 text can hold: never valid in any text of any event. They break
# X12 files, logs and databases downstream, so they are refused at the edge.
_FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _refuse_control_characters(value: object, path: tuple[str | int, ...] = ()) -> None:
    if isinstance(value, str):
        if _FORBIDDEN_CHARACTERS.search(value):
            where = ".".join(str(p) for p in path) or "value"
            raise ValueError(f"{where}: control characters are not allowed in text")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_control_characters(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse_control_characters(item, (*path, index))


class PlainText(BaseModel):
    """A model whose texts, however deep, hold no control characters (API bodies too)."""

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: object) -> object:
        _refuse_control_characters(data)
        return data


class Contract(PlainText):
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


class DocumentedCodeSystem(StrEnum):
    """Code systems a source may document in. Claims need ICD-10-CM, CPT and HCPCS (and
    ICD-10-PCS, NDC on institutional and drug lines); coding maps the others to them:
    SNOMED CT findings and procedures, CVX vaccines, LOINC lab tests, RxNorm drugs."""

    SNOMED_CT = "SNOMED-CT"
    ICD_10_CM = "ICD-10-CM"
    ICD_10_PCS = "ICD-10-PCS"
    CPT = "CPT"
    HCPCS = "HCPCS"
    CVX = "CVX"
    LOINC = "LOINC"
    RXNORM = "RxNorm"
    NDC = "NDC"


class DocumentedCoding(Contract):
    """One code exactly as the source documented it, with the source's display text.

    Added in encounter.documented 1.1. Why a list beside `code_system`/`code` rather than a
    wider `code_system` enum: widening an enum breaks every consumer built against 1.0 (a
    coding service that only knows ICD-10-CM would fail to decode a SNOMED CT diagnosis),
    and the compatibility check rejects it. A 1.0 consumer sees the same diagnosis with its
    free text and no claim code, which it already handles (it raises a coder query); a 1.1
    consumer reads every documented coding (a FHIR CodeableConcept may carry several).
    """

    system: DocumentedCodeSystem
    code: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z][0-9A-Za-z.-]*$")
    display: str | None = Field(default=None, max_length=500)


class DocumentedDiagnosis(Contract):
    """A diagnosis as documented. `code` is set only when the source gave an ICD-10-CM code;
    every documented coding (SNOMED CT, ICD-10-CM, ...) is in `codings`."""

    sequence: int = Field(ge=1, le=12)
    code_system: Literal["ICD-10-CM"] = "ICD-10-CM"
    code: str | None = Field(default=None, max_length=8, description="As documented, if any")
    text: str | None = Field(default=None, max_length=500)
    codings: list[DocumentedCoding] = Field(
        default_factory=list, max_length=10, description="Since 1.1: codings in any system"
    )


class DocumentedProcedure(Contract):
    """A billable service as documented. `code_system`/`code` hold the claim-line code set
    (CPT or HCPCS) and the code when the source gave one; when it documented the service
    only in another system (SNOMED CT, CVX, ICD-10-PCS), `code` is empty, `code_system` is
    the code set the line must be coded in, and `codings` carries what was documented."""

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
    codings: list[DocumentedCoding] = Field(
        default_factory=list, max_length=10, description="Since 1.1: codings in any system"
    )


class Amendment(Contract):
    """This `encounter.documented` replaces an earlier revision of the same source document.

    Added in 1.1. Amendments travel on `encounter.documented` itself rather than on a new
    `encounter.amended` topic because the message key (`tenant:encounter`) then keeps an
    amendment on the same partition, behind the revision it corrects: on a separate topic a
    consumer lagging on one topic could apply the amendment before the original. The
    encounter id stays the same; `revision` grows by one per accepted change, so a consumer
    applies a revision only when it is newer than the one it holds (replays are no-ops). A
    1.0 consumer ignores this field and sees a second event for an encounter it already
    handled, which it already treats as a repeat.
    """

    revision: int = Field(ge=2, description="1 is the original document; each change adds 1")
    supersedes_revision: int = Field(ge=1)
    changed: list[str] = Field(
        default_factory=list,
        description="Payload fields that differ from the superseded revision (names only)",
    )

    @model_validator(mode="after")
    def _supersedes_an_earlier_revision(self) -> Amendment:
        if self.supersedes_revision >= self.revision:
            raise ValueError("supersedes_revision must be earlier than revision")
        return self


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
    amendment: Amendment | None = Field(
        default=None, description="Since 1.1: set when this revises an accepted document"
    )

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
    method: str | None = Field(
        default=None,
        max_length=32,
        description="Since encounter.coded 1.2: how the code was found. `given` (documented "
        "as ICD-10-CM), `snomed-map` (the curated SNOMED CT map), `cac` (computer-assisted "
        "from the documented text), `use-additional-code` (a 'use additional code' note of "
        "the code before it), `service` (implied by the service, e.g. Z00.00 for a preventive "
        "visit, Z23 for a vaccine), `coder` (entered by a coder); more may be added",
    )
    confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Since 1.2: the coder's confidence in this code (1 for given codes); an "
        "automatically decided code met the tenant's threshold",
    )


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
    method: str | None = Field(
        default=None,
        max_length=32,
        description="Since encounter.coded 1.2: how the line was found. `given` (documented "
        "as CPT/HCPCS), `service-map` (a SNOMED CT or CVX concept through the curated map), "
        "`preventive` (preventive visit by age band), `em-level` (E/M level from time or "
        "MDM), `vaccine-administration`, `coder`; more may be added",
    )

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
    revision: int | None = Field(
        default=None,
        ge=1,
        description="Since 1.2: the revision of the documented encounter these codes are for "
        "(1 the original; a later one after an amendment); a consumer keeps the newest",
    )
    auto_code_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Since 1.2: the tenant's confidence threshold the codes were decided under",
    )
    hcc_categories: list[RiskAdjustmentCategory] = Field(
        default_factory=list,
        description="Since 1.2: CMS-HCC payment categories the final codes map to (after the "
        "model's hierarchies); empty when none",
    )
    risk_adjustment_eligible: bool | None = Field(
        default=None,
        description="Since 1.2: a service line is on CMS's list of risk-adjustment eligible "
        "CPT/HCPCS codes, so the diagnoses count toward the HCCs",
    )
    notes: list[QueryReason] = Field(
        default_factory=list,
        description="Since 1.2: what a coder may want to know that did not stop the coding "
        "(edit warnings, resequencing by the code-first convention)",
    )


class QueryReason(Contract):
    field: str
    code: str | None = None
    problem: str
    rule: str | None = Field(
        default=None,
        max_length=40,
        description="Since coding.query-raised 1.1: the rule or edit that raised it, e.g. "
        "ICD-EXCLUDES1, ICD-SEX, ICD-AGE-ADULT, ICD-7TH-CHARACTER, ICD-MANIFESTATION-FIRST, "
        "CAC-LOW-CONFIDENCE, EM-LEVEL",
    )


class CodingQueryRaised(Contract):
    """The encounter cannot be coded as documented: a coder (or the physician) must answer."""

    source: SourceDocument
    reasons: list[QueryReason] = Field(min_length=1)
    revision: int | None = Field(
        default=None, ge=1, description="Since 1.1: the documented revision that was coded"
    )
    auto_code_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Since 1.1: the tenant's threshold a suggestion had to meet",
    )
    suggested_diagnoses: list[CodedDiagnosis] = Field(
        default_factory=list,
        max_length=12,
        description="Since 1.1: the final diagnoses the coder proposes, in order, for a human "
        "to accept or correct",
    )
    suggested_lines: list[CodedServiceLine] = Field(
        default_factory=list,
        max_length=50,
        description="Since 1.1: the service lines proposed, pointing into suggested_diagnoses",
    )
    candidates: list[DiagnosisCandidates] = Field(
        default_factory=list,
        max_length=12,
        description="Since 1.1: per documented diagnosis, the ranked ICD-10-CM candidates",
    )
    hcc_categories: list[RiskAdjustmentCategory] = Field(
        default_factory=list, description="Since 1.1: CMS-HCC categories of the suggestion"
    )


class ClaimLine(Contract):
    """A billed service line. On an 837I, `diagnosis_pointers` are the coder's (the 837I
    sends none) and a line billed by revenue code alone (room and board) has an empty
    `code`: its `revenue_code` says what it is."""

    line_number: int = Field(ge=1, le=50)
    code_system: ProcedureCodeSystem
    code: str
    modifiers: list[Modifier] = Field(default_factory=list, max_length=4)
    units: int = Field(ge=1)
    service_date: date
    diagnosis_pointers: list[int] = Field(min_length=1, max_length=4)
    charge: Money
    revenue_code: str | None = Field(
        default=None, pattern=r"^[0-9]{4}$", description="Since 1.1: SV201 of an 837I line"
    )
    control_number: str | None = Field(
        default=None,
        max_length=50,
        description="Since 1.1: REF*6R line item control number; payers echo it in the 835",
    )


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
    payer_responsibility: Literal["primary", "secondary", "tertiary"] = Field(
        default="primary", description="Since 1.1: SBR01; a secondary claim follows the primary"
    )
    original_claim_id: ClaimId | None = Field(
        default=None,
        description="Since 1.1: our claim this one replaces (7) or voids (8), or the claim of "
        "the earlier payer a secondary claim follows",
    )
    original_claim_number: str | None = Field(
        default=None, max_length=50, description="Since 1.1: REF*F8, the payer's claim number"
    )
    type_of_bill: str | None = Field(
        default=None, pattern=r"^0[0-9]{2}[0-9A-Z]$", description="Since 1.1: 837I CLM05"
    )

    @model_validator(mode="after")
    def _total_is_sum_of_lines(self) -> ClaimSubmitted:
        if sum(line.charge for line in self.lines) != self.total_charge:
            raise ValueError("total_charge is not the sum of the line charges")
        return self


class ClaimRejected(Contract):
    """The clearinghouse (999) or the payer front end (277CA) rejected the claim, or the
    scrubber held it before it left (stage `scrubber`; `claim.held` says the same with each
    finding's edit code, field and fix hint)."""

    claim_id: ClaimId
    stage: Literal["999", "277CA", "scrubber"]
    reasons: list[str] = Field(min_length=1)
    codes: list[str] = Field(
        default_factory=list,
        description="Since 1.1: the codes behind the reasons: 277CA STC composites "
        "(e.g. A7:464), 999 IK5/IK3 error codes, or the scrubber's edit codes",
    )
    frequency_code: Literal["1", "7", "8"] | None = Field(default=None, description="Since 1.1")
    payer_id: str | None = Field(default=None, max_length=80, description="Since 1.1")
    file_reference: str | None = Field(
        default=None, description="Since 1.1: the interchange the claim was rejected in"
    )


class RemittanceAdjustment(Contract):
    group: AdjustmentGroup
    carc: Carc
    amount: Money
    quantity: int | None = None


class LineAdjustment(Contract):
    """One SVC of the 835. `line_number` is its place in the remittance; the claim's own
    line numbers it pays are `submitted_line_numbers` (payers split, bundle and reorder
    lines, so the two need not agree)."""

    line_number: int | None = None
    code: str
    modifiers: list[str] = Field(default_factory=list)
    charge: Money
    paid: Money
    allowed: Money | None = None
    units: int | None = None
    adjustments: list[RemittanceAdjustment] = Field(default_factory=list)
    rarcs: list[Rarc] = Field(default_factory=list)
    submitted_line_numbers: list[int] = Field(
        default_factory=list,
        description="Since 1.1: the claim.submitted line(s) this SVC pays; [] when unmatched",
    )
    control_number: str | None = Field(
        default=None, max_length=50, description="Since 1.1: REF*6R, the line control number"
    )
    service_date: date | None = Field(default=None, description="Since 1.1: DTM*472/150")


class PaymentInfo(Contract):
    method: str = Field(description="BPR04: CHK, ACH, NON, ...")
    trace_number: str = Field(description="TRN02: check or EFT trace number")
    payment_date: date | None
    payer_id: str | None = None
    payer_name: str | None = None
    payee_npi: str | None = Field(default=None, description="Since 1.1: N1*PE NPI (XX)")


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
    original_payer_claim_number: str | None = Field(
        default=None,
        max_length=50,
        description="Since 1.1: REF*F8, the payer claim number this payment corrects",
    )
    claim_filing_indicator: str | None = Field(
        default=None, max_length=2, description="Since 1.1: CLP06 (MB Medicare B, 12 PPO, ...)"
    )
    crossover: CrossoverInfo | None = Field(
        default=None,
        description="Since 1.1: the payer forwarded the claim, or a secondary claim is due",
    )


class ClaimDenied(Contract):
    """The payer refused some or all of a claim. `partial` (1.1) tells a line denial on a
    claim otherwise paid (the claim also has a `remittance.received` with status
    partially-paid) from a denial of the whole claim."""

    claim_id: ClaimId
    payer_claim_number: str | None = None
    adjustments: list[RemittanceAdjustment] = Field(min_length=1)
    rarcs: list[Rarc] = Field(default_factory=list)
    denied_amount: Money
    category: str = Field(examples=["eligibility", "timely-filing", "medical-necessity"])
    recommended_action: str
    appealable: bool = True
    partial: bool = Field(default=False, description="Since 1.1: some lines were paid")
    action: str | None = Field(
        default=None,
        description="Since 1.1: correct-and-resubmit, appeal, write-off, bill-patient, "
        "bill-other-payer or review",
    )
    subcategory: str | None = Field(default=None, description="Since 1.1")
    denied_lines: list[int] = Field(
        default_factory=list, description="Since 1.1: claim.submitted line numbers denied"
    )
    appeal_deadline: date | None = Field(
        default=None, description="Since 1.1: last day for a first-level appeal"
    )
    payer_id: str | None = Field(default=None, description="Since 1.1")


class PatientBalanceDue(Contract):
    claim_id: ClaimId
    patient: Patient
    amount: Money
    reasons: list[RemittanceAdjustment] = Field(default_factory=list)
    service_date: date | None = Field(default=None, description="Since 1.1: first date of service")
    total_charge: Money | None = Field(default=None, description="Since 1.1")
    insurance_paid: Money | None = Field(default=None, description="Since 1.1")
    payer_claim_number: str | None = Field(default=None, max_length=50, description="Since 1.1")


class DenialAction(StrEnum):
    """What a biller decided to do about a denied claim in the denial work queue."""

    CORRECT_AND_RESUBMIT = "correct-and-resubmit"
    APPEAL = "appeal"
    WRITE_OFF = "write-off"
    BILL_PATIENT = "bill-patient"


class LineCorrection(Contract):
    """A change to one line of the claim, for a corrected (frequency 7) claim."""

    line_number: int = Field(ge=1, le=50)
    code: str | None = None
    modifiers: list[Modifier] | None = Field(default=None, max_length=4)
    units: int | None = Field(default=None, ge=1, le=999)
    diagnosis_pointers: list[int] | None = Field(default=None, min_length=1, max_length=4)


class DenialWorked(Contract):
    """A biller acted on a denied claim: claims sends the corrected claim (frequency 7),
    records the appeal, or closes the claim written off or billed to the patient."""

    claim_id: ClaimId
    action: DenialAction
    payer_claim_number: str | None = None
    reason: str = Field(min_length=1, max_length=500)
    worked_by: str = Field(min_length=1, max_length=128, description="The authenticated principal")
    corrections: list[LineCorrection] = Field(default_factory=list, max_length=50)
    amount: Money | None = Field(default=None, description="Written off or billed, if any")


class RiskAdjustmentCategory(Contract):
    """A CMS-HCC payment category the final codes support (risk adjustment)."""

    hcc: str = Field(max_length=16, examples=["HCC38"])
    label: str = Field(default="", max_length=200)
    model: str = Field(max_length=64, examples=["CMS-HCC Model V28 (2026)"])
    codes: list[Icd10CmCode] = Field(default_factory=list, description="Final codes mapping to it")


class SuggestedCode(Contract):
    """One ranked ICD-10-CM candidate for a documented diagnosis."""

    code: Icd10CmCode
    description: str | None = None
    confidence: float = Field(ge=0, le=1)
    method: str | None = Field(default=None, max_length=32)
    evidence: list[str] = Field(
        default_factory=list, max_length=3, description="Which term matched (code-set wording)"
    )


class DiagnosisCandidates(Contract):
    """The candidates for one documented diagnosis (`field` names it, as `diagnoses[2]`)."""

    field: str
    candidates: list[SuggestedCode] = Field(default_factory=list, max_length=10)


class CrossoverInfo(Contract):
    """Why another payer comes next (remittance.received 1.1): the payer sent the claim on
    itself (CLP02 19-21, NM1*TT, remark MA18/MA07/N89: await the crossover, do not bill it
    again) or the claim names a secondary payer and the primary left a balance."""

    action: Literal["await-crossover", "submit-secondary"]
    reason: str = Field(max_length=200)
    carrier_name: str | None = Field(default=None, max_length=60, description="NM1*TT name")
    carrier_id: str | None = Field(default=None, max_length=80, description="NM1*TT id")


RemittanceReceived.model_rebuild()


ClaimStateName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        examples=["created", "held", "scrubbed", "submitted", "accepted", "paid", "closed"],
        description="A state of the claims service's claim state machine",
    ),
]


class ClaimAccepted(Contract):
    """The payer's front end took the claim for adjudication (277CA A1/A2, with the payer's
    claim number), or, when no 277CA answers, the clearinghouse's 999 accepted it."""

    claim_id: ClaimId
    claim_type: Literal["837P", "837I"]
    frequency_code: Literal["1", "7", "8"] = "1"
    payer: PayerRef
    payer_claim_number: str | None = Field(default=None, max_length=50)
    accepted_by: Literal["999", "277CA"]
    status_codes: list[str] = Field(default_factory=list, examples=[["A2:20"]])
    interchange_control_number: str = Field(pattern=r"^[0-9]{9}$")
    file_reference: str
    accepted_at: datetime


class EditFinding(Contract):
    """One failed scrubber edit, as a biller reads it in the held-claims queue."""

    edit: str = Field(min_length=1, max_length=40, examples=["ncci-ptp", "mue", "npi"])
    field: str = Field(max_length=120, description="Where on the claim, e.g. lines[1].units")
    message: str = Field(max_length=500)
    hint: str = Field(default="", max_length=500, description="How to fix it")
    severity: Literal["error", "warning"] = "error"


class ClaimHeld(Contract):
    """A claim waits in the held-claims work queue: the scrubber found an edit it fails, or
    the claim could not be sent (unwritable, interchange refused). A biller corrects, voids
    or releases it; a corrected claim is scrubbed again."""

    claim_id: ClaimId
    claim_type: Literal["837P", "837I"]
    frequency_code: Literal["1", "7", "8"] = "1"
    payer: PayerRef
    total_charge: Money
    stage: Literal["scrubber", "submission"]
    reasons: list[str] = Field(min_length=1)
    findings: list[EditFinding] = Field(default_factory=list)


class ClaimTransition(Contract):
    """One step of a claim through the state machine: who moved it, when and why."""

    from_state: ClaimStateName | None = None
    to_state: ClaimStateName
    event: str = Field(min_length=1, max_length=40, examples=["scrub_passed", "remittance_paid"])
    actor: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(default=None, max_length=500)
    at: datetime


class ClaimStateChanged(Contract):
    """A claim moved through the state machine for a reason no other event tells: a
    biller's correction, void, release, appeal or write-off, a void closed by the payer's
    reversal, the next payer billed. `transitions` lists those steps in order. Steps that
    `claim.held`, `claim.submitted`, `claim.accepted`, `claim.rejected` or the payer's
    `remittance.received` / `claim.denied` announce are not repeated here; every step is
    on the claim's timeline in the claims API."""

    claim_id: ClaimId
    claim_type: Literal["837P", "837I"]
    frequency_code: Literal["1", "7", "8"] = "1"
    state: ClaimStateName
    transitions: list[ClaimTransition] = Field(min_length=1)
