"""Random but valid claims of every shape the writers must handle, from one seed: 837P and
837I (inpatient, outpatient, emergency), dependents, secondary claims with the primary's
adjudication (claim- and line-level), replacements and voids, awkward names.

Shared by the pyx12 property test and `bench/claims_x12.py`.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from claimflow_claims.domain.institutional import (
    AttendingProvider,
    InstitutionalDetails,
    OccurrenceCode,
    PcsProcedure,
    ValueCode,
)
from claimflow_claims.domain.model import (
    Claim,
    OtherPayer,
    PriorAdjustment,
    PriorLinePayment,
    ServiceLine,
    Subscriber,
)
from claimflow_shared.codes import AdjustmentGroup, ProcedureCodeSystem, money, npi_check_digit
from claimflow_shared.events.models import (
    Address,
    BillingProvider,
    Coverage,
    CoveragePriority,
    Patient,
    PayerRef,
    Providers,
    RenderingProvider,
    Sex,
    SubscriberRelationship,
)

DIAGNOSES = [
    "J069", "R051", "R509", "E119", "I10", "M545", "M6281", "S93401A", "K3580", "N390",
    "Z0000", "J189", "R079", "I214", "F329", "E785", "Z23", "S0990XA", "R1010", "O80",
]  # fmt: skip
PROFESSIONAL = [
    ("99213", ()), ("99214", ("25",)), ("36415", ()), ("80053", ()), ("93000", ()),
    ("71046", ("26",)), ("20610", ("RT",)), ("97110", ("GP", "59")), ("J3301", ()),
    ("90471", ()), ("90686", ()), ("G0439", ()), ("99284", ()), ("12001", ("XS",)),
]  # fmt: skip
OUTPATIENT = [
    ("0450", "99284"), ("0300", "80053"), ("0300", "85025"), ("0320", "71046"),
    ("0730", "93000"), ("0636", "J1100"), ("0270", None), ("0250", None), ("0510", "99213"),
]  # fmt: skip
PCS = ["0DTJ4ZZ", "0SRC0J9", "02703ZZ", "0W9930Z", "3E0234Z", "0DB64Z3", "10E0XZZ"]
NAMES = ["Rivera", "O'Brien", "Nunez", "José:Ana", "Lee~Chen", "Smith*Jones", "Müller", "Ng"]
STATES = ["MA", "NY", "CA", "TX", "IL", "PA"]
TAXONOMY_PRO = ["207Q00000X", "207R00000X", "208D00000X", None]
TAXONOMY_FACILITY = ["282N00000X", "261QR1300X", "314000000X"]
GROUPS = [AdjustmentGroup.CONTRACTUAL, AdjustmentGroup.PATIENT_RESPONSIBILITY]


def npi(rng: random.Random) -> str:
    first = str(rng.randint(100_000_000, 299_999_999))
    return first + str(npi_check_digit(first))


def _address(rng: random.Random, zip9: bool = False) -> Address:
    postal = f"{rng.randint(1000, 99999):05d}" + (f"{rng.randint(0, 9999):04d}" if zip9 else "")
    return Address(
        line1=f"{rng.randint(1, 999)} {rng.choice(NAMES)} St",
        line2=rng.choice([None, "Suite 5", "Apt #3"]),
        city=rng.choice(["Boston", "Springfield", "San José", "Austin"]),
        state=rng.choice(STATES),
        postal_code=postal,
    )


def _coverage(rng: random.Random, priority: CoveragePriority, relationship) -> Coverage:
    payer_id = rng.choice(["60054", "87726", "SIMPAYER1", "00435", "BCBS1"])
    return Coverage(
        payer=PayerRef(payer_id=payer_id, name=rng.choice(["Harbor Health", "Acme Plan*"])),
        member_id=f"M{rng.randint(10**6, 10**9)}",
        group_number=rng.choice([None, "GRP-77", "G:01"]),
        relationship=relationship,
        priority=priority,
    )


def _adjustments(rng: random.Random, total: Decimal) -> tuple[PriorAdjustment, ...]:
    """Split `total` into one to three CAS entries."""
    remaining, out = total, []
    for index in range(rng.randint(1, 3)):
        last = index == 2 or remaining <= Decimal("1.00")
        amount = remaining if last else money(remaining * Decimal(rng.randint(10, 70)) / 100)
        out.append(
            PriorAdjustment(
                group=rng.choice(GROUPS),
                carc=rng.choice(["45", "1", "2", "3", "253"]),
                amount=amount,
                quantity=rng.choice([None, None, 1]),
            )
        )
        remaining -= amount
        if last or not remaining:
            break
    return tuple(a for a in out if a.amount)


def _primary_adjudication(
    rng: random.Random, lines: tuple[ServiceLine, ...], patient_is_subscriber: bool
) -> OtherPayer:
    relationship = (
        SubscriberRelationship.SELF if patient_is_subscriber else SubscriberRelationship.SPOUSE
    )
    coverage = _coverage(rng, CoveragePriority.PRIMARY, relationship)
    adjudicated = date(2025, 4, rng.randint(1, 28))
    by_line = rng.random() < 0.6
    payments, claim_adjustments = [], ()
    paid_total = Decimal("0.00")
    for line in lines:
        paid = money(line.charge * Decimal(rng.randint(0, 80)) / 100)
        paid_total += paid
        if by_line:
            payments.append(
                PriorLinePayment(
                    line_number=line.line_number,
                    paid=paid,
                    paid_units=line.units,
                    adjustments=_adjustments(rng, line.charge - paid) if line.charge > paid else (),
                    adjudicated_on=adjudicated,
                    remaining_patient_liability=rng.choice([None, Decimal("10.00")]),
                )
            )
    if not by_line:
        charge = sum((line.charge for line in lines), Decimal("0.00"))
        claim_adjustments = _adjustments(rng, charge - paid_total) if charge > paid_total else ()
    return OtherPayer(
        coverage=coverage,
        subscriber=None
        if patient_is_subscriber
        else Subscriber(first_name=rng.choice(NAMES), last_name=rng.choice(NAMES)),
        claim_filing_indicator=rng.choice(["CI", "MB", "BL", "HM"]),
        payer_claim_number=rng.choice([None, f"ICN{rng.randint(10**8, 10**9)}"]),
        paid=paid_total,
        adjudicated_on=adjudicated,
        claim_adjustments=claim_adjustments,
        line_payments=tuple(payments),
        remaining_patient_liability=rng.choice([None, Decimal("25.50")]),
    )


def _professional_lines(rng: random.Random, start: date, diagnoses: int) -> list[ServiceLine]:
    lines = []
    for number in range(1, rng.randint(1, 12) + 1):
        code, modifiers = rng.choice(PROFESSIONAL)
        pointers = rng.sample(range(1, diagnoses + 1), k=rng.randint(1, min(4, diagnoses)))
        lines.append(
            ServiceLine(
                line_number=number,
                code_system=ProcedureCodeSystem.CPT
                if code[0].isdigit()
                else ProcedureCodeSystem.HCPCS,
                code=code,
                modifiers=list(modifiers),
                units=rng.choice([1, 1, 1, 2, 4, 12]),
                service_date=start + timedelta(days=rng.randint(0, 2)),
                diagnosis_pointers=pointers,
                charge=money(Decimal(rng.randint(500, 250_000)) / 100),
            )
        )
    return lines


def _institutional(
    rng: random.Random, start: date, end: date, diagnoses: int
) -> tuple[InstitutionalDetails, list[ServiceLine]]:
    kind = rng.choice(["inpatient", "outpatient", "emergency"])
    attending = AttendingProvider(
        npi=npi(rng),
        first_name=rng.choice(NAMES),
        last_name=rng.choice(NAMES),
        taxonomy=rng.choice(TAXONOMY_PRO),
    )
    operating = rng.choice(
        [None, AttendingProvider(npi=npi(rng), first_name="Ana", last_name="Surgeon")]
    )
    lines: list[ServiceLine] = []
    for number in range(1, rng.randint(1, 15) + 1):
        revenue, code = rng.choice(OUTPATIENT)
        lines.append(
            ServiceLine(
                line_number=number,
                revenue_code=revenue,
                code_system=None
                if code is None
                else (ProcedureCodeSystem.CPT if code[0].isdigit() else ProcedureCodeSystem.HCPCS),
                code=code,
                modifiers=["25"] if code == "99284" and rng.random() < 0.3 else [],
                units=rng.choice([1, 1, 2, 3]),
                service_date=start + timedelta(days=rng.randint(0, (end - start).days)),
                charge=money(Decimal(rng.randint(500, 500_000)) / 100),
            )
        )
    poa = tuple(rng.choice(["Y", "N", "U", "W", ""]) for _ in range(diagnoses))
    codes = dict(
        occurrence_codes=tuple(
            OccurrenceCode(code=rng.choice(["11", "01", "A1"]), on=start)
            for _ in range(rng.randint(0, 3))
        ),
        value_codes=tuple(
            ValueCode(code=rng.choice(["80", "A1", "01"]), amount=Decimal(rng.randint(1, 500)))
            for _ in range(rng.randint(0, 14))
        ),
        condition_codes=tuple(
            rng.choice(["01", "02", "07", "17"]) for _ in range(rng.randint(0, 3))
        ),
    )
    if kind == "inpatient":
        days = max(1, (end - start).days)
        lines.append(
            ServiceLine(
                line_number=len(lines) + 1,
                revenue_code="0120",
                unit_basis="DA",
                units=days,
                service_date=start,
                charge=money(Decimal("1850.00") * days),
            )
        )
        procedures = rng.sample(PCS, k=rng.randint(0, 5))
        details = InstitutionalDetails(
            facility_type="11",
            admission_type=rng.choice(["1", "2", "3"]),
            admission_source=rng.choice(["1", "2", "7"]),
            patient_status=rng.choice(["01", "02", "06", "20"]),
            admitted_at=datetime.combine(start, time(rng.randint(0, 23), rng.randint(0, 59))),
            discharge_hour=time(rng.randint(0, 23), 0),
            admitting_diagnosis=rng.choice(DIAGNOSES),
            present_on_admission=poa,
            principal_procedure=PcsProcedure(code=procedures[0], performed_on=start)
            if procedures
            else None,
            other_procedures=tuple(PcsProcedure(code=c, performed_on=end) for c in procedures[1:]),
            attending=attending,
            operating=operating if procedures else None,
            **codes,
        )
    else:
        details = InstitutionalDetails(
            facility_type=rng.choice(["13", "14", "85"]),
            admission_type="1" if kind == "emergency" else None,
            patient_status="01",
            reason_for_visit=tuple(rng.sample(DIAGNOSES, k=rng.randint(0, 3)))
            if kind == "emergency"
            else (),
            attending=attending,
            **codes,
        )
    return details, lines


def generate_claim(rng: random.Random, number: int, claim_type: str) -> Claim:
    """One random claim of `claim_type` (837P or 837I), valid for its implementation guide."""
    start = date(2025, 3, 1) + timedelta(days=rng.randint(0, 20))
    end = start + timedelta(days=rng.randint(0, 6) if claim_type == "837I" else 0)
    diagnosis_count = rng.randint(1, 12 if claim_type == "837P" else 25)
    diagnoses = tuple(rng.choice(DIAGNOSES) for _ in range(diagnosis_count))
    dependent = rng.random() < 0.3
    secondary = rng.random() < 0.3
    frequency = rng.choices(["1", "7", "8"], weights=[6, 2, 1])[0]
    relationship = (
        rng.choice([SubscriberRelationship.CHILD, SubscriberRelationship.SPOUSE])
        if dependent
        else SubscriberRelationship.SELF
    )
    coverage = _coverage(
        rng, CoveragePriority.SECONDARY if secondary else CoveragePriority.PRIMARY, relationship
    )
    billing_npi = rng.choice(["1234567893", npi(rng)])
    rendering = RenderingProvider(
        npi=rng.choice([billing_npi, npi(rng)]),
        first_name=rng.choice(NAMES),
        last_name=rng.choice(NAMES),
        taxonomy=rng.choice(TAXONOMY_PRO if claim_type == "837P" else TAXONOMY_FACILITY),
    )
    providers = Providers(
        billing=BillingProvider(
            npi=billing_npi,
            name=rng.choice(["Harbor Family Medicine", "St. Ann's Hospital", "Bay ^ Clinic"]),
            tax_id=f"{rng.randint(10**8, 10**9 - 1)}",
            address=_address(rng, zip9=True),
        ),
        rendering=rendering,
    )
    patient = Patient(
        mrn=f"MRN{number}",
        first_name=rng.choice(NAMES),
        last_name=rng.choice(NAMES),
        birth_date=date(rng.randint(1930, 2024), rng.randint(1, 12), rng.randint(1, 28)),
        sex=rng.choice(list(Sex)),
        address=_address(rng),
    )
    if claim_type == "837P":
        institutional = None
        lines = _professional_lines(rng, start, diagnosis_count)
        place = rng.choice(["11", "22", "23", "21", "02"])
    else:
        institutional, lines = _institutional(rng, start, end, diagnosis_count)
        place = "21"
    other_payers = (
        (_primary_adjudication(rng, tuple(lines), patient_is_subscriber=rng.random() < 0.7),)
        if secondary
        else ()
    )
    return Claim(
        claim_id=f"C{number:07d}-{frequency}",
        tenant_id="acme",
        encounter_id=f"E{number}",
        claim_type=claim_type,
        frequency_code=frequency,
        original_claim_number=None if frequency == "1" else f"PAYER{rng.randint(10**6, 10**9)}",
        patient=patient,
        coverage=coverage,
        subscriber=Subscriber(first_name=rng.choice(NAMES), last_name=rng.choice(NAMES))
        if dependent
        else None,
        claim_filing_indicator=rng.choice(["CI", "MB", "BL", "HM", "MC"]),
        providers=providers,
        place_of_service=place,
        period_start=start,
        period_end=end,
        diagnoses=diagnoses,
        lines=tuple(lines),
        total_charge=money(sum((line.charge for line in lines), Decimal("0.00"))),
        institutional=institutional,
        other_payers=other_payers,
    )


def generate_claims(seed: int, count: int, claim_type: str, first_number: int = 1) -> list[Claim]:
    rng = random.Random(seed)
    return [generate_claim(rng, first_number + n, claim_type) for n in range(count)]
