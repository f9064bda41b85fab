"""Read X12 835 remittance advice (005010X221A1) into frozen domain objects.

The reader is forgiving: anything it cannot read becomes a `Problem`, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from claimflow_shared.x12 import Segment, X12Error, read_segments

ZERO = Decimal("0.00")
ONE = Decimal("1")
_CENT = Decimal("0.01")

# CR was dropped from CAS01 in 5010 but reversals from older payer systems still carry it.
KNOWN_GROUPS = frozenset({"CO", "CR", "OA", "PI", "PR"})
# CLP02 codes of 005010X221A1: 1-3 processed as primary/secondary/tertiary, 4 denied,
# 19-21 processed and forwarded, 22 reversal, 23 not our claim, 25 predetermination.
KNOWN_CLAIM_STATUSES = frozenset({"1", "2", "3", "4", "19", "20", "21", "22", "23", "25"})
# Files are often hand-edited samples whose composites use a different separator than ISA16.
_STRAY_COMPONENT_SEPARATORS = (">", ":", "^", "\\", "|")
# MOA03-MOA07 and MIA05, MIA20-MIA23 are the claim-level remark code (RARC) positions.
_MOA_REMARKS = (3, 4, 5, 6, 7)
_MIA_REMARKS = (5, 20, 21, 22, 23)


@dataclass(frozen=True)
class Problem:
    """Something in the file we could not read as the implementation guide says."""

    position: int
    segment_id: str
    message: str


@dataclass(frozen=True)
class Adjustment:
    """One CAS triplet: group (CO, PR, OA, PI, CR), CARC, amount, adjusted units."""

    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(frozen=True)
class Procedure:
    """SVC01 / SVC06 composite: qualifier (HC, AD, NU, ...), code, modifiers."""

    qualifier: str
    code: str
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServicePayment:
    procedure: Procedure
    charge: Decimal
    paid: Decimal
    units: Decimal = ONE
    revenue_code: str = ""
    original_procedure: Procedure | None = None
    original_units: Decimal | None = None
    service_date: date | None = None
    service_end_date: date | None = None
    adjustments: tuple[Adjustment, ...] = ()
    remarks: tuple[str, ...] = ()
    allowed: Decimal | None = None
    control_number: str | None = None
    position: int = 0


@dataclass(frozen=True)
class PatientName:
    """NM1*QC: the patient as the payer knows them (minimum necessary: name and member id)."""

    last_name: str
    first_name: str
    member_id: str


@dataclass(frozen=True)
class ClaimPayment:
    claim_id: str
    status_code: str
    total_charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    filing_indicator: str = ""
    payer_claim_number: str = ""
    facility_code: str = ""
    frequency_code: str = ""
    patient: PatientName | None = None
    statement_from: date | None = None
    statement_to: date | None = None
    adjustments: tuple[Adjustment, ...] = ()
    remarks: tuple[str, ...] = ()
    service_lines: tuple[ServicePayment, ...] = ()
    position: int = 0


@dataclass(frozen=True)
class Payer:
    name: str
    payer_id: str | None


@dataclass(frozen=True)
class Payee:
    name: str
    npi: str | None
    tax_id: str | None


@dataclass(frozen=True)
class Payment:
    """BPR: BPR01 handling (I remit only, C pay and remit, H notice), BPR02, BPR03, BPR04, BPR16."""

    handling_code: str
    amount: Decimal
    credit_debit: str
    method: str
    date: date | None
    position: int = 0

    @property
    def signed_amount(self) -> Decimal:
        # BPR02 is always unsigned; BPR03 "D" means the payer takes the money back.
        return -self.amount if self.credit_debit == "D" else self.amount


@dataclass(frozen=True)
class Trace:
    """TRN: the check or EFT trace number and who originated it (TRN03, usually 1 + EIN)."""

    number: str
    originator_id: str


@dataclass(frozen=True)
class ProviderAdjustment:
    """One PLB reason/amount pair; a positive amount reduces the payment."""

    provider_id: str
    fiscal_period_end: date | None
    reason: str
    reference: str
    amount: Decimal
    position: int = 0


@dataclass(frozen=True)
class Remittance:
    control_number: str
    payer: Payer
    payee: Payee
    payment: Payment
    trace: Trace
    production_date: date | None
    claims: tuple[ClaimPayment, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]
    problems: tuple[Problem, ...]
    position: int = 0


def read_835_file(text: str) -> list[Remittance]:
    """Read every ST*835 transaction of a file, in order; raise X12Error if there is none."""
    remittances: list[Remittance] = []
    current: _TransactionDraft | None = None
    for segment in read_segments(text):
        sid = segment.id
        if sid == "ST":
            if current is not None:
                current.problem(segment, "ST starts before the previous transaction's SE")
                remittances.append(current.freeze())
                current = None
            if segment.el(1) == "835":
                current = _TransactionDraft(segment)
            continue
        if current is None:
            continue
        current.segment_count += 1
        if sid == "SE":
            current.close(segment)
            remittances.append(current.freeze())
            current = None
            continue
        handler = _HANDLERS.get(sid)
        if handler is not None:
            handler(current, segment)
    if current is not None:
        current.problems.append(
            Problem(current.position, "ST", "file ends before this transaction's SE")
        )
        remittances.append(current.freeze())
    if not remittances:
        raise X12Error("no ST*835 transaction in the file")
    return remittances


def read_835(text: str) -> Remittance:
    """Read a file that holds exactly one 835 transaction; use `read_835_file` for batches."""
    remittances = read_835_file(text)
    if len(remittances) > 1:
        raise X12Error(f"file holds {len(remittances)} 835 transactions; use read_835_file")
    return remittances[0]


@dataclass(slots=True)
class _LineDraft:
    procedure: Procedure
    charge: Decimal
    paid: Decimal
    units: Decimal
    revenue_code: str
    original_procedure: Procedure | None
    original_units: Decimal | None
    position: int
    service_date: date | None = None
    service_end_date: date | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    allowed: Decimal | None = None
    control_number: str | None = None

    def freeze(self, claim_date: date | None) -> ServicePayment:
        return ServicePayment(
            procedure=self.procedure,
            charge=self.charge,
            paid=self.paid,
            units=self.units,
            revenue_code=self.revenue_code,
            original_procedure=self.original_procedure,
            original_units=self.original_units,
            # Lines may omit DTM*472 when the claim's statement dates cover them (IG 2110 DTM).
            service_date=self.service_date or claim_date,
            service_end_date=self.service_end_date,
            adjustments=tuple(self.adjustments),
            remarks=tuple(self.remarks),
            allowed=self.allowed,
            control_number=self.control_number,
            position=self.position,
        )


@dataclass(slots=True)
class _ClaimDraft:
    claim_id: str
    status_code: str
    total_charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    filing_indicator: str
    payer_claim_number: str
    facility_code: str
    frequency_code: str
    position: int
    patient: PatientName | None = None
    statement_from: date | None = None
    statement_to: date | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    lines: list[_LineDraft] = field(default_factory=list)

    def freeze(self) -> ClaimPayment:
        return ClaimPayment(
            claim_id=self.claim_id,
            status_code=self.status_code,
            total_charge=self.total_charge,
            paid=self.paid,
            patient_responsibility=self.patient_responsibility,
            filing_indicator=self.filing_indicator,
            payer_claim_number=self.payer_claim_number,
            facility_code=self.facility_code,
            frequency_code=self.frequency_code,
            patient=self.patient,
            statement_from=self.statement_from,
            statement_to=self.statement_to,
            adjustments=tuple(self.adjustments),
            remarks=tuple(self.remarks),
            service_lines=tuple(line.freeze(self.statement_from) for line in self.lines),
            position=self.position,
        )


class _TransactionDraft:
    """Mutable state while one ST..SE is read; `freeze` turns it into a `Remittance`."""

    def __init__(self, st: Segment) -> None:
        self.control_number = st.el(2)
        self.position = st.position
        self.segment_count = 1
        self.problems: list[Problem] = []
        self.payment: Payment | None = None
        self.trace: Trace | None = None
        self.production_date: date | None = None
        self.payer_name = ""
        self.payer_n1_id: str | None = None
        self.payer_ref_id: str | None = None
        self.payee_name = ""
        self.payee_npi: str | None = None
        self.payee_tax_id: str | None = None
        self.party = ""  # which N1 loop (PR payer, PE payee) the header REFs belong to
        self.claims: list[ClaimPayment] = []
        self.claim: _ClaimDraft | None = None
        self.line: _LineDraft | None = None
        self.provider_adjustments: list[ProviderAdjustment] = []

    def problem(self, segment: Segment, message: str) -> None:
        self.problems.append(Problem(segment.position, segment.id, message))

    def close_claim(self) -> None:
        if self.claim is not None:
            self.claims.append(self.claim.freeze())
        self.claim = None
        self.line = None

    def close(self, se: Segment) -> None:
        declared = se.el(1).strip()
        if declared != str(self.segment_count):
            self.problem(se, f"SE01 says {declared or 'nothing'}, counted {self.segment_count}")
        if se.el(2).strip() != self.control_number:
            self.problem(se, f"SE02 {se.el(2)!r} does not match ST02 {self.control_number!r}")

    def freeze(self) -> Remittance:
        self.close_claim()
        here = self.position
        payment = self.payment
        if payment is None:
            self.problems.append(Problem(here, "BPR", "transaction has no BPR payment segment"))
            payment = Payment("", ZERO, "C", "", None, here)
        trace = self.trace
        if trace is None:
            self.problems.append(Problem(here, "TRN", "transaction has no TRN trace segment"))
            trace = Trace("", "")
        if not self.claims:
            self.problems.append(Problem(here, "CLP", "transaction has no claim payments"))
        return Remittance(
            control_number=self.control_number,
            payer=Payer(self.payer_name, self.payer_ref_id or self.payer_n1_id),
            payee=Payee(self.payee_name, self.payee_npi, self.payee_tax_id),
            payment=payment,
            trace=trace,
            production_date=self.production_date,
            claims=tuple(self.claims),
            provider_adjustments=tuple(self.provider_adjustments),
            problems=tuple(sorted(self.problems, key=lambda p: p.position)),
            position=here,
        )


def _amount(
    tx: _TransactionDraft, segment: Segment, index: int, name: str, *, required: bool = True
) -> Decimal:
    raw = segment.el(index).strip()
    if not raw:
        if required:
            tx.problem(segment, f"{name} is missing; read as 0.00")
        return ZERO
    value = _decimal(raw)
    if value is None:
        tx.problem(segment, f"{name} {raw!r} is not an amount; read as 0.00")
        return ZERO
    try:
        cents = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        tx.problem(segment, f"{name} {raw!r} is out of range; read as 0.00")
        return ZERO
    if cents != value:
        tx.problem(segment, f"{name} {raw!r} has more than two decimals; rounded to {cents}")
    return cents


def _quantity(tx: _TransactionDraft, segment: Segment, index: int, name: str) -> Decimal | None:
    raw = segment.el(index).strip()
    if not raw:
        return None
    value = _decimal(raw)
    if value is None:
        tx.problem(segment, f"{name} {raw!r} is not a number; ignored")
    return value


def _units(tx: _TransactionDraft, segment: Segment) -> Decimal:
    # SVC05 is omitted when one unit was paid (IG 2110 SVC05 note), so blank means 1.
    units = _quantity(tx, segment, 5, "SVC05 units")
    return ONE if units is None else units


def _decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _date(tx: _TransactionDraft, segment: Segment, raw: str, name: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    if len(raw) == 8 and raw.isdigit():
        try:
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        except ValueError:
            pass
    tx.problem(segment, f"{name} {raw!r} is not a CCYYMMDD date")
    return None


def _composite(tx: _TransactionDraft, segment: Segment, index: int, name: str) -> list[str]:
    parts = segment.components(index)
    if len(parts) == 1:
        declared = segment.delimiters.component
        for stray in _STRAY_COMPONENT_SEPARATORS:
            if stray != declared and stray in parts[0]:
                tx.problem(
                    segment,
                    f"{name} separates components with {stray!r}, not ISA16 {declared!r}",
                )
                return parts[0].split(stray)
    return parts


def _procedure(tx: _TransactionDraft, segment: Segment, index: int, name: str) -> Procedure:
    parts = _composite(tx, segment, index, name)
    qualifier = parts[0].strip()
    code = parts[1].strip() if len(parts) > 1 else ""
    if not code:
        tx.problem(segment, f"{name} {segment.el(index)!r} carries no procedure code")
    modifiers = tuple(m.strip() for m in parts[2:6] if m.strip())
    return Procedure(qualifier, code, modifiers)


def _on_bpr(tx: _TransactionDraft, s: Segment) -> None:
    if tx.payment is not None:
        tx.problem(s, "second BPR in one transaction; ignored")
        return
    if not s.el(16).strip():
        tx.problem(s, "BPR16 payment date is missing")
    tx.payment = Payment(
        handling_code=s.el(1).strip(),
        amount=_amount(tx, s, 2, "BPR02 total payment"),
        credit_debit=s.el(3).strip() or "C",
        method=s.el(4).strip(),
        date=_date(tx, s, s.el(16), "BPR16 payment date"),
        position=s.position,
    )


def _on_trn(tx: _TransactionDraft, s: Segment) -> None:
    if tx.trace is None:
        if not s.el(2).strip():
            tx.problem(s, "TRN02 check/EFT trace number is missing")
        tx.trace = Trace(number=s.el(2).strip(), originator_id=s.el(3).strip())


def _on_n1(tx: _TransactionDraft, s: Segment) -> None:
    tx.party = s.el(1).strip()
    name, qualifier, ident = s.el(2).strip(), s.el(3).strip(), s.el(4).strip() or None
    if tx.party == "PR":
        tx.payer_name, tx.payer_n1_id = name, ident
    elif tx.party == "PE":
        tx.payee_name = name
        if qualifier == "XX":
            tx.payee_npi = ident
        elif qualifier == "FI":
            tx.payee_tax_id = ident


def _on_ref(tx: _TransactionDraft, s: Segment) -> None:
    qualifier, value = s.el(1).strip(), s.el(2).strip()
    if tx.line is not None:
        if qualifier == "6R":
            tx.line.control_number = value
    elif tx.claim is None:
        if qualifier == "2U" and tx.party == "PR":
            tx.payer_ref_id = value
        elif qualifier == "TJ" and tx.party == "PE" and tx.payee_tax_id is None:
            tx.payee_tax_id = value


def _on_dtm(tx: _TransactionDraft, s: Segment) -> None:
    qualifier = s.el(1).strip()
    if tx.line is not None and qualifier in ("472", "150", "151"):
        start, end = _dtm_dates(tx, s)
        if qualifier == "151":
            tx.line.service_end_date = start
        else:
            tx.line.service_date = start
            tx.line.service_end_date = end or tx.line.service_end_date
    elif tx.claim is not None and tx.line is None and qualifier in ("232", "233"):
        start, _ = _dtm_dates(tx, s)
        if qualifier == "232":
            tx.claim.statement_from = start
        else:
            tx.claim.statement_to = start
    elif tx.claim is None and qualifier == "405":
        tx.production_date = _date(tx, s, s.el(2), "DTM*405 production date")


def _dtm_dates(tx: _TransactionDraft, s: Segment) -> tuple[date | None, date | None]:
    # A range arrives as DTM*472***RD8*CCYYMMDD-CCYYMMDD instead of a single DTM02 date.
    if not s.el(2).strip() and s.el(4).strip() == "RD8":
        first, _, last = s.el(5).partition("-")
        return _date(tx, s, first, "DTM05 range start"), _date(tx, s, last, "DTM05 range end")
    return _date(tx, s, s.el(2), f"DTM*{s.el(1)} date"), None


def _on_lx(tx: _TransactionDraft, s: Segment) -> None:
    tx.close_claim()


def _on_clp(tx: _TransactionDraft, s: Segment) -> None:
    tx.close_claim()
    claim_id = s.el(1).strip()
    if not claim_id:
        tx.problem(s, "CLP01 claim id is missing")
    status = s.el(2).strip()
    if status not in KNOWN_CLAIM_STATUSES:
        tx.problem(s, f"CLP02 status {status!r} is not an 835 claim status code")
    tx.claim = _ClaimDraft(
        claim_id=claim_id,
        status_code=status,
        total_charge=_amount(tx, s, 3, "CLP03 total charge"),
        paid=_amount(tx, s, 4, "CLP04 payment"),
        # CLP05 is situational: blank means the payer assigned no patient responsibility.
        patient_responsibility=_amount(tx, s, 5, "CLP05 patient responsibility", required=False),
        filing_indicator=s.el(6).strip(),
        payer_claim_number=s.el(7).strip(),
        facility_code=s.el(8).strip(),
        frequency_code=s.el(9).strip(),
        position=s.position,
    )


def _on_cas(tx: _TransactionDraft, s: Segment) -> None:
    target = tx.line if tx.line is not None else tx.claim
    if target is None:
        tx.problem(s, "CAS outside a claim; ignored")
        return
    group = s.el(1).strip()
    if group not in KNOWN_GROUPS:
        tx.problem(s, f"CAS01 group {group!r} is not one of CO, CR, OA, PI, PR")
    # Up to six reason/amount/quantity triplets: CAS02-04, CAS05-07, ... CAS17-19.
    for start in range(2, 20, 3):
        reason = s.el(start).strip()
        if not reason:
            if s.el(start + 1).strip():
                tx.problem(s, f"CAS{start + 1:02d} amount has no reason code; ignored")
            continue
        target.adjustments.append(
            Adjustment(
                group=group,
                reason=reason,
                amount=_amount(tx, s, start + 1, f"CAS{start + 1:02d} amount"),
                quantity=_quantity(tx, s, start + 2, f"CAS{start + 2:02d} quantity"),
            )
        )


def _on_nm1(tx: _TransactionDraft, s: Segment) -> None:
    if tx.claim is not None and s.el(1).strip() == "QC":
        tx.claim.patient = PatientName(
            last_name=s.el(3).strip(), first_name=s.el(4).strip(), member_id=s.el(9).strip()
        )


def _on_moa(tx: _TransactionDraft, s: Segment) -> None:
    _claim_remarks(tx, s, _MOA_REMARKS)


def _on_mia(tx: _TransactionDraft, s: Segment) -> None:
    _claim_remarks(tx, s, _MIA_REMARKS)


def _claim_remarks(tx: _TransactionDraft, s: Segment, positions: tuple[int, ...]) -> None:
    if tx.claim is None:
        tx.problem(s, f"{s.id} outside a claim; ignored")
        return
    tx.claim.remarks.extend(code for i in positions if (code := s.el(i).strip()))


def _on_svc(tx: _TransactionDraft, s: Segment) -> None:
    if tx.claim is None:
        tx.problem(s, "SVC outside a claim; ignored")
        tx.line = None
        return
    procedure = _procedure(tx, s, 1, "SVC01")
    tx.line = _LineDraft(
        procedure=procedure,
        charge=_amount(tx, s, 2, "SVC02 line charge"),
        # SVC03 is required, but some payers leave it blank on zero-paid lines.
        paid=_amount(tx, s, 3, "SVC03 line payment"),
        revenue_code=s.el(4).strip(),
        units=_units(tx, s),
        original_procedure=_procedure(tx, s, 6, "SVC06") if s.el(6).strip() else None,
        original_units=_quantity(tx, s, 7, "SVC07 original units"),
        position=s.position,
    )
    tx.claim.lines.append(tx.line)


def _on_amt(tx: _TransactionDraft, s: Segment) -> None:
    if tx.line is not None and s.el(1).strip() == "B6":
        tx.line.allowed = _amount(tx, s, 2, "AMT*B6 allowed amount")


def _on_lq(tx: _TransactionDraft, s: Segment) -> None:
    if tx.line is None:
        tx.problem(s, "LQ outside a service line; ignored")
        return
    # LQ*RX carries NCPDP reject codes, not RARCs; only HE is a remark code.
    if s.el(1).strip() == "HE" and (code := s.el(2).strip()):
        tx.line.remarks.append(code)


def _on_plb(tx: _TransactionDraft, s: Segment) -> None:
    tx.close_claim()
    provider_id = s.el(1).strip()
    period_end = _date(tx, s, s.el(2), "PLB02 fiscal period date")
    # Up to six adjustment reason composite/amount pairs: PLB03-04, ..., PLB13-14.
    for start in range(3, 15, 2):
        if not s.el(start).strip():
            continue
        parts = _composite(tx, s, start, f"PLB{start:02d}")
        tx.provider_adjustments.append(
            ProviderAdjustment(
                provider_id=provider_id,
                fiscal_period_end=period_end,
                reason=parts[0].strip(),
                reference=parts[1].strip() if len(parts) > 1 else "",
                amount=_amount(tx, s, start + 1, f"PLB{start + 1:02d} amount"),
                position=s.position,
            )
        )


_HANDLERS = {
    "BPR": _on_bpr,
    "TRN": _on_trn,
    "N1": _on_n1,
    "REF": _on_ref,
    "DTM": _on_dtm,
    "LX": _on_lx,
    "CLP": _on_clp,
    "CAS": _on_cas,
    "NM1": _on_nm1,
    "MOA": _on_moa,
    "MIA": _on_mia,
    "SVC": _on_svc,
    "AMT": _on_amt,
    "LQ": _on_lq,
    "PLB": _on_plb,
}
