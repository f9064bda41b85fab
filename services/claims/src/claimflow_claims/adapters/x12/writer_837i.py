"""The 837I writer: institutional (facility) claims as an ASC X12 005010X223A2 interchange."""

from __future__ import annotations

from collections.abc import Sequence

from claimflow_claims.adapters.x12.claim837 import (
    Receiver,
    Segments,
    Submitter,
    UnwritableClaim,
    chunks,
    line_adjudications,
    line_control_number,
    name,
    nm1,
    other_payers,
    procedure,
    required,
    write_transactions,
)
from claimflow_claims.domain.institutional import AttendingProvider, InstitutionalDetails
from claimflow_claims.domain.model import Claim, PriorLinePayment, ServiceLine
from claimflow_shared import x12
from claimflow_shared.x12 import Composite, Envelope

IMPLEMENTATION_GUIDE = "005010X223A2"
# Principal + 24 other diagnoses; 999 service lines; HI holds 12 composites.
MAX_DIAGNOSES = 25
MAX_LINES = 999
HI_CAPACITY = 12


def write_837i(
    claims: Sequence[Claim],
    *,
    envelope: Envelope,
    submitter: Submitter,
    receiver: Receiver,
    line_breaks: bool = True,
    first_transaction_number: int = 1,
) -> str:
    """One interchange holding institutional `claims`, one 2000A loop per billing provider."""
    return write_transactions(
        claims,
        envelope=envelope,
        submitter=submitter,
        receiver=receiver,
        guide=IMPLEMENTATION_GUIDE,
        claim_type="837I",
        claim_loops=_claim,
        line_breaks=line_breaks,
        first_transaction_number=first_transaction_number,
    )


def _claim(claim: Claim) -> Segments:
    cid = claim.claim_id
    facility = claim.institutional
    if facility is None:
        raise UnwritableClaim(f"claim {cid}: an 837I needs the institutional details")
    if not 1 <= len(claim.diagnoses) <= MAX_DIAGNOSES or not 1 <= len(claim.lines) <= MAX_LINES:
        raise UnwritableClaim(
            f"claim {cid}: needs 1-{MAX_DIAGNOSES} diagnoses and 1-{MAX_LINES} service lines, "
            f"has {len(claim.diagnoses)} and {len(claim.lines)}"
        )
    segments: Segments = [
        [
            "CLM",
            required(cid, "claim id", cid, max_length=38),
            x12.amount(claim.total_charge),
            "",
            "",
            Composite(facility.facility_type, "A", claim.frequency_code),
            "",
            "A",
            "Y",
            "Y",
        ]
    ]
    if facility.inpatient and facility.discharge_hour is not None:
        segments.append(["DTP", "096", "TM", x12.tm(facility.discharge_hour)])
    segments.append(["DTP", "434", "RD8", x12.rd8(claim.period_start, claim.period_end)])
    if facility.admitted_at is not None:
        admitted = facility.admitted_at
        segments.append(["DTP", "435", "DT", x12.d8(admitted.date()) + x12.tm(admitted)])
    segments.append(
        [
            "CL1",
            facility.admission_type or "",
            facility.admission_source or "",
            facility.patient_status,
        ]
    )
    if claim.frequency_code in {"7", "8"}:
        segments.append(["REF", "F8", required(claim.original_claim_number, "payer ICN", cid)])
    segments += _health_care_codes(claim, facility)
    segments += _provider("71", facility.attending, cid, "attending", with_taxonomy=True)
    if facility.operating is not None:
        segments += _provider("72", facility.operating, cid, "operating")
    segments += other_payers(claim)
    for number, line in enumerate(claim.lines, start=1):
        segments += _service_line(claim, line, number)
    return segments


def _poa(facility: InstitutionalDetails, position: int) -> str:
    poa = facility.present_on_admission
    return poa[position] if facility.inpatient and position < len(poa) else ""


def _diagnosis(qualifier: str, code: str, poa: str = "") -> Composite:
    # HI01-9 is the present-on-admission indicator, eight components after the code.
    return Composite(qualifier, x12.text(code), "", "", "", "", "", "", poa)


def _hi(composites: Sequence[Composite]) -> Segments:
    return [["HI", *chunk] for chunk in chunks(list(composites), HI_CAPACITY)]


def _health_care_codes(claim: Claim, facility: InstitutionalDetails) -> Segments:
    """The HI segments in the order 2300 lists them: principal, admitting, reason for visit,
    other diagnoses, principal and other procedures, occurrences, values, conditions."""
    principal, *others = claim.diagnoses
    segments: Segments = [["HI", _diagnosis("ABK", principal, _poa(facility, 0))]]
    if facility.admitting_diagnosis and facility.inpatient:
        segments.append(["HI", _diagnosis("ABJ", facility.admitting_diagnosis)])
    if facility.reason_for_visit and not facility.inpatient:
        segments.append(["HI", *(_diagnosis("APR", c) for c in facility.reason_for_visit)])
    segments += _hi(
        [_diagnosis("ABF", code, _poa(facility, n)) for n, code in enumerate(others, start=1)]
    )
    if facility.principal_procedure is not None:
        pcs = facility.principal_procedure
        segments.append(["HI", Composite("BBR", pcs.code, "D8", x12.d8(pcs.performed_on))])
        segments += _hi(
            [
                Composite("BBQ", p.code, "D8", x12.d8(p.performed_on))
                for p in facility.other_procedures
            ]
        )
    segments += _hi(
        [Composite("BH", o.code, "D8", x12.d8(o.on)) for o in facility.occurrence_codes]
    )
    segments += _hi(
        [Composite("BE", v.code, "", "", x12.amount(v.amount)) for v in facility.value_codes]
    )
    segments += _hi([Composite("BG", x12.text(c)) for c in facility.condition_codes])
    return segments


def _provider(
    entity: str,
    person: AttendingProvider,
    cid: str,
    role: str,
    *,
    with_taxonomy: bool = False,
) -> Segments:
    segments = nm1(
        entity,
        "1",
        name(person.last_name, f"{role} provider last name", cid),
        x12.text(person.first_name, upper=True, max_length=35),
        id_qualifier="XX",
        identifier=person.npi,
    )
    if with_taxonomy and person.taxonomy:
        segments.append(["PRV", "AT", "PXC", x12.text(person.taxonomy)])
    return segments


def _service_line(claim: Claim, line: ServiceLine, number: int) -> Segments:
    if not line.revenue_code:
        raise UnwritableClaim(
            f"claim {claim.claim_id}: line {line.line_number} has no revenue code"
        )
    segments: Segments = [
        ["LX", str(number)],
        [
            "SV2",
            line.revenue_code,
            procedure(line) if line.code else "",
            x12.amount(line.charge),
            line.unit_basis,
            x12.quantity(line.units),
        ],
    ]
    # Service dates are required on outpatient lines; inpatient lines may carry them too.
    if line.service_date is not None:
        segments.append(["DTP", "472", "D8", x12.d8(line.service_date)])
    segments.append(line_control_number(line))
    return segments + line_adjudications(claim, line, _svd)


def _svd(payer_id: str, payment: PriorLinePayment, line: ServiceLine) -> list[x12.Element]:
    return [
        "SVD",
        payer_id,
        x12.amount(payment.paid),
        procedure(line) if line.code else "",
        line.revenue_code or "",
        x12.quantity(payment.paid_units),
    ]
