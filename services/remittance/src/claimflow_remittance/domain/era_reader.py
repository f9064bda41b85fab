"""Read X12 835 files into `era_model` values, on the shared X12 codec.

The reader is forgiving: what it cannot read, or cannot vouch for (another version, an
unknown segment, two payees, amounts that do not balance), becomes a `Problem` with its
position and policy, never an exception. Only text that is not X12 at all raises X12Error.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from claimflow_remittance.domain.balance import check_balance
from claimflow_remittance.domain.era_model import (
    IMPLEMENTATION_GUIDE,
    KNOWN_CLAIM_STATUSES,
    KNOWN_GROUPS,
    ONE,
    ZERO,
    Adjustment,
    ClaimPayment,
    Party,
    PatientName,
    Payee,
    Payer,
    Payment,
    Problem,
    Procedure,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
    Trace,
)
from claimflow_remittance.domain.problems import problem
from claimflow_shared.x12 import (
    AMOUNT_DIGITS,
    Segment,
    X12Error,
    parse_d8,
    parse_decimal,
    read_segments,
)

_CENT = Decimal("0.01")
# Every segment 005010X221A1 defines inside ST..SE; anything else is reported, not read.
KNOWN_SEGMENTS = frozenset(
    {
        "ST", "BPR", "TRN", "CUR", "REF", "DTM", "N1", "N3", "N4", "PER", "RDM", "LX", "TS3",
        "TS2", "CLP", "CAS", "NM1", "MIA", "MOA", "AMT", "QTY", "SVC", "LQ", "PLB", "SE",
    }
)  # fmt: skip
_ENVELOPE = frozenset({"ISA", "GS", "GE", "IEA", "TA1"})
# Files are often hand-edited samples whose composites use a different separator than ISA16.
_STRAY_COMPONENT_SEPARATORS = (">", ":", "^", "\\", "|")
# MOA03-MOA07 and MIA05, MIA20-MIA23 are the claim-level remark code (RARC) positions.
_MOA_REMARKS = (3, 4, 5, 6, 7)
_MIA_REMARKS = (5, 20, 21, 22, 23)


def read_835_file(text: str) -> list[Remittance]:
    """Read every ST*835 transaction of a file, in order; raise X12Error if there is none."""
    reader = _FileReader()
    for segment in read_segments(text):
        reader.feed(segment)
    return reader.finish()


def read_835(text: str) -> Remittance:
    """Read a file that holds exactly one 835 transaction; use `read_835_file` for batches."""
    remittances = read_835_file(text)
    if len(remittances) > 1:
        raise X12Error(f"file holds {len(remittances)} 835 transactions; use read_835_file")
    return remittances[0]


class _FileReader:
    """The envelopes around the transactions: version checks and ISA/GS/GE/IEA counts."""

    def __init__(self) -> None:
        self.remittances: list[Remittance] = []
        self.current: _TransactionDraft | None = None
        self.saw_isa = False
        self.isa: Segment | None = None
        self.gs: Segment | None = None
        self.envelope_problems: list[Problem] = []
        self.group_problems: list[Problem] = []
        self.groups_in_interchange = 0
        self.sets_in_group = 0
        self.group_first_remittance = 0
        self.interchange_first_remittance = 0

    def feed(self, segment: Segment) -> None:
        sid = segment.id
        current = self.current
        if current is not None and sid not in ("SE", "ST") and sid not in _ENVELOPE:
            current.segment_count += 1
            handler = _HANDLERS.get(sid)
            if handler is not None:
                handler(current, segment)
            elif sid not in KNOWN_SEGMENTS:
                current.problem(
                    "unknown-segment", segment, f"{sid[:3]!r} is not an 835 segment; not read"
                )
            return
        if sid == "ST":
            self._start(segment)
        elif sid == "SE":
            if current is not None:
                current.segment_count += 1
                current.close(segment)
                self._finish_current()
        elif sid in _ENVELOPE:
            if current is not None:
                current.problem("truncated", segment, f"{sid} comes before this transaction's SE")
                self._finish_current()
            self._envelope(segment)

    def _start(self, st: Segment) -> None:
        if self.current is not None:
            self.current.problem("truncated", st, "ST starts before the previous transaction's SE")
            self._finish_current()
        self.sets_in_group += 1
        if st.el(1) != "835":
            return
        tx = _TransactionDraft(st, version=self.gs.el(8).strip() if self.gs else "")
        tx.problems.extend(self.envelope_problems)
        tx.problems.extend(self.group_problems)
        if not self.saw_isa:
            tx.problem("no-envelope", st, "file has no ISA/GS envelope; version not checked")
        guide = st.el(3).strip()
        if guide and guide != IMPLEMENTATION_GUIDE:
            tx.problem("not-5010", st, f"ST03 {guide[:20]!r} is not {IMPLEMENTATION_GUIDE}")
        self.current = tx

    def _finish_current(self) -> None:
        assert self.current is not None
        self.remittances.append(self.current.freeze())
        self.current = None

    def _envelope(self, s: Segment) -> None:
        sid = s.id
        if sid == "ISA":
            self.saw_isa = True
            self.isa, self.gs = s, None
            self.groups_in_interchange = 0
            self.interchange_first_remittance = len(self.remittances)
            self.envelope_problems = []
            version = s.el(12).strip()
            if version != "00501":
                self.envelope_problems.append(
                    problem("not-5010", s.position, "ISA", f"ISA12 {version[:10]!r} is not 00501")
                )
        elif sid == "GS":
            self.gs = s
            self.groups_in_interchange += 1
            self.sets_in_group = 0
            self.group_first_remittance = len(self.remittances)
            self.group_problems = []
            functional, guide = s.el(1).strip(), s.el(8).strip()
            if functional != "HP":
                self.group_problems.append(
                    problem("not-5010", s.position, "GS", f"GS01 {functional[:4]!r} is not HP")
                )
            if guide != IMPLEMENTATION_GUIDE:
                self.group_problems.append(
                    problem(
                        "not-5010",
                        s.position,
                        "GS",
                        f"GS08 {guide[:20]!r} is not {IMPLEMENTATION_GUIDE}",
                    )
                )
        elif sid == "GE":
            found = []
            if s.el(1).strip() != str(self.sets_in_group):
                found.append(f"GE01 says {s.el(1).strip()[:9]!r}, counted {self.sets_in_group}")
            if self.gs is not None and s.el(2).strip() != self.gs.el(6).strip():
                found.append("GE02 does not match GS06")
            self._attach_to_last(s, found, since=self.group_first_remittance)
            self.gs = None
            self.group_problems = []
        elif sid == "IEA":
            found = []
            if s.el(1).strip() != str(self.groups_in_interchange):
                found.append(
                    f"IEA01 says {s.el(1).strip()[:9]!r}, counted {self.groups_in_interchange}"
                )
            if self.isa is not None and s.el(2).strip() != self.isa.el(13).strip():
                found.append("IEA02 does not match ISA13")
            self._attach_to_last(s, found, since=self.interchange_first_remittance)
            self.isa = None

    def _attach_to_last(self, s: Segment, messages: list[str], *, since: int) -> None:
        """GE/IEA come after their transactions are frozen: add to the last one they close."""
        if not messages or len(self.remittances) <= since:
            return
        last = self.remittances[-1]
        extra = tuple(problem("envelope-count", s.position, s.id, m) for m in messages)
        self.remittances[-1] = replace(last, problems=last.problems + extra)

    def finish(self) -> list[Remittance]:
        if self.current is not None:
            tx = self.current
            tx.problems.append(
                problem("truncated", tx.position, "ST", "file ends before this transaction's SE")
            )
            self._finish_current()
        if not self.remittances:
            raise X12Error("no ST*835 transaction in the file")
        return self.remittances


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
    crossover_carrier: Party | None = None
    corrected_priority_payer: Party | None = None
    inpatient_adjudication: bool = False
    outpatient_adjudication: bool = False
    original_reference: str = ""
    received_date: date | None = None

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
            crossover_carrier=self.crossover_carrier,
            corrected_priority_payer=self.corrected_priority_payer,
            inpatient_adjudication=self.inpatient_adjudication,
            outpatient_adjudication=self.outpatient_adjudication,
            original_reference=self.original_reference,
            received_date=self.received_date,
        )


@dataclass(slots=True)
class _PayeeDraft:
    name: str
    npi: str | None = None
    tax_id: str | None = None

    def freeze(self) -> Payee:
        return Payee(self.name, self.npi, self.tax_id)


class _TransactionDraft:
    """Mutable state while one ST..SE is read; `freeze` turns it into a `Remittance`."""

    def __init__(self, st: Segment, *, version: str) -> None:
        self.control_number = st.el(2)
        self.position = st.position
        self.version = version
        self.segment_count = 1
        self.problems: list[Problem] = []
        self.payment: Payment | None = None
        self.trace: Trace | None = None
        self.production_date: date | None = None
        self.payer_name = ""
        self.payer_n1_id: str | None = None
        self.payer_ref_id: str | None = None
        self.payees: list[_PayeeDraft] = []
        self.party = ""  # which N1 loop (PR payer, PE payee) the header REFs belong to
        self.claims: list[ClaimPayment] = []
        self.claim: _ClaimDraft | None = None
        self.line: _LineDraft | None = None
        self.provider_adjustments: list[ProviderAdjustment] = []

    def problem(self, kind: str, segment: Segment, message: str) -> None:
        self.problems.append(problem(kind, segment.position, segment.id[:3], message))

    def close_claim(self) -> None:
        if self.claim is not None:
            self.claims.append(self.claim.freeze())
        self.claim = None
        self.line = None

    def close(self, se: Segment) -> None:
        declared = se.el(1).strip()
        if declared != str(self.segment_count):
            said = declared[:9] or "nothing"
            self.problem("envelope-count", se, f"SE01 says {said}, counted {self.segment_count}")
        if se.el(2).strip() != self.control_number.strip():
            self.problem("envelope-count", se, "SE02 does not match ST02")

    def freeze(self) -> Remittance:
        self.close_claim()
        here = self.position
        payment = self.payment
        if payment is None:
            self.problems.append(
                problem("missing-segment", here, "BPR", "transaction has no BPR payment segment")
            )
            payment = Payment("", ZERO, "C", "", None, here)
        trace = self.trace
        if trace is None:
            self.problems.append(
                problem("missing-segment", here, "TRN", "transaction has no TRN trace segment")
            )
            trace = Trace("", "")
        if not self.claims:
            self.problems.append(
                problem("no-claims", here, "CLP", "transaction has no claim payments")
            )
        payees = tuple(p.freeze() for p in self.payees)
        remittance = Remittance(
            control_number=self.control_number,
            payer=Payer(self.payer_name, self.payer_ref_id or self.payer_n1_id),
            payee=payees[0] if payees else Payee("", None, None),
            payment=payment,
            trace=trace,
            production_date=self.production_date,
            claims=tuple(self.claims),
            provider_adjustments=tuple(self.provider_adjustments),
            problems=(),
            position=here,
            version=self.version,
            payees=payees,
        )
        # Balancing is only meaningful over a whole transaction: a truncated one is held anyway.
        found = [*self.problems, *check_balance(remittance)]
        return replace(remittance, problems=tuple(sorted(found, key=lambda p: p.position)))


def _amount(
    tx: _TransactionDraft, segment: Segment, index: int, name: str, *, required: bool = True
) -> Decimal:
    raw = segment.el(index).strip()
    if not raw:
        if required:
            tx.problem("missing-amount", segment, f"{name} is missing; read as 0.00")
        return ZERO
    value = parse_decimal(raw)
    if value is None:
        tx.problem("invalid-amount", segment, f"{name} {raw[:20]!r} is not an amount; read as 0.00")
        return ZERO
    if len(raw) > AMOUNT_DIGITS and _digits(raw) > AMOUNT_DIGITS:
        message = f"{name} has more than {AMOUNT_DIGITS} digits; read as 0.00"
        tx.problem("invalid-amount", segment, message)
        return ZERO
    cents = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    if cents != value:
        message = f"{name} {raw!r} has more than two decimals; rounded to {cents}"
        tx.problem("rounded-amount", segment, message)
    return cents


def _quantity(tx: _TransactionDraft, segment: Segment, index: int, name: str) -> Decimal | None:
    raw = segment.el(index).strip()
    if not raw:
        return None
    value = parse_decimal(raw)
    if value is None or (len(raw) > AMOUNT_DIGITS and _digits(raw) > AMOUNT_DIGITS):
        tx.problem("invalid-number", segment, f"{name} {raw[:20]!r} is not a number; ignored")
        return None
    return value


def _digits(raw: str) -> int:
    return sum(ch.isdigit() for ch in raw)


def _units(tx: _TransactionDraft, segment: Segment) -> Decimal:
    # SVC05 is omitted when one unit was paid (IG 2110 SVC05 note), so blank means 1.
    units = _quantity(tx, segment, 5, "SVC05 units")
    return ONE if units is None else units


def _date(
    tx: _TransactionDraft, segment: Segment, raw: str, name: str, *, echo: bool = False
) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    value = parse_d8(raw)
    if value is None:
        # Claim and line dates are the patient's dates of service: named, never echoed.
        shown = f" {raw[:12]!r}" if echo else ""
        tx.problem("invalid-date", segment, f"{name}{shown} is not a CCYYMMDD date")
    return value


def _composite(tx: _TransactionDraft, segment: Segment, index: int, name: str) -> list[str]:
    parts = segment.components(index)
    if len(parts) == 1:
        declared = segment.delimiters.component
        for stray in _STRAY_COMPONENT_SEPARATORS:
            if stray != declared and stray in parts[0]:
                tx.problem(
                    "component-separator",
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
        message = f"{name} {segment.el(index)[:20]!r} carries no procedure code"
        tx.problem("missing-element", segment, message)
    modifiers = tuple(m.strip() for m in parts[2:6] if m.strip())
    return Procedure(qualifier, code, modifiers)


def _on_bpr(tx: _TransactionDraft, s: Segment) -> None:
    if tx.payment is not None:
        tx.problem("repeated-segment", s, "second BPR in one transaction; ignored")
        return
    if not s.el(16).strip():
        tx.problem("missing-element", s, "BPR16 payment date is missing")
    tx.payment = Payment(
        handling_code=s.el(1).strip(),
        amount=_amount(tx, s, 2, "BPR02 total payment"),
        credit_debit=s.el(3).strip() or "C",
        method=s.el(4).strip(),
        date=_date(tx, s, s.el(16), "BPR16 payment date", echo=True),
        position=s.position,
    )


def _on_trn(tx: _TransactionDraft, s: Segment) -> None:
    if tx.trace is not None:
        tx.problem("repeated-segment", s, "second TRN in one transaction; the first is kept")
        return
    if not s.el(2).strip():
        tx.problem("missing-element", s, "TRN02 check/EFT trace number is missing")
    tx.trace = Trace(number=s.el(2).strip(), originator_id=s.el(3).strip())


def _on_n1(tx: _TransactionDraft, s: Segment) -> None:
    tx.party = s.el(1).strip()
    name, qualifier, ident = s.el(2).strip(), s.el(3).strip(), s.el(4).strip() or None
    if tx.party == "PR":
        if tx.payer_name or tx.payer_n1_id:
            tx.problem("several-payers", s, "second N1*PR in one transaction; the first is kept")
            tx.party = "PR-extra"
            return
        tx.payer_name, tx.payer_n1_id = name, ident
    elif tx.party == "PE":
        if tx.payees:
            tx.problem(
                "several-payees",
                s,
                f"N1*PE number {len(tx.payees) + 1} in one transaction; the first payee is kept",
            )
        payee = _PayeeDraft(name)
        if qualifier == "XX":
            payee.npi = ident
        elif qualifier in ("FI", "EIN"):
            payee.tax_id = ident
        tx.payees.append(payee)


def _on_ref(tx: _TransactionDraft, s: Segment) -> None:
    qualifier, value = s.el(1).strip(), s.el(2).strip()
    if tx.line is not None:
        if qualifier == "6R":
            tx.line.control_number = value
    elif tx.claim is not None:
        if qualifier == "F8":
            tx.claim.original_reference = value
    elif qualifier == "2U" and tx.party == "PR":
        tx.payer_ref_id = value
    elif qualifier == "TJ" and tx.party == "PE" and tx.payees:
        # Only the N1*PE loop this REF belongs to: never another payee's tax id.
        payee = tx.payees[-1]
        if payee.tax_id is None:
            payee.tax_id = value


def _on_dtm(tx: _TransactionDraft, s: Segment) -> None:
    qualifier = s.el(1).strip()
    if tx.line is not None and qualifier in ("472", "150", "151"):
        start, end = _dtm_dates(tx, s)
        if qualifier == "151":
            tx.line.service_end_date = start
        else:
            tx.line.service_date = start
            tx.line.service_end_date = end or tx.line.service_end_date
    elif tx.claim is not None and tx.line is None and qualifier in ("232", "233", "050"):
        start, _ = _dtm_dates(tx, s)
        if qualifier == "232":
            tx.claim.statement_from = start
        elif qualifier == "233":
            tx.claim.statement_to = start
        else:
            tx.claim.received_date = start
    elif tx.claim is None and qualifier == "405":
        tx.production_date = _date(tx, s, s.el(2), "DTM*405 production date", echo=True)


def _dtm_dates(tx: _TransactionDraft, s: Segment) -> tuple[date | None, date | None]:
    # A range arrives as DTM*472***RD8*CCYYMMDD-CCYYMMDD instead of a single DTM02 date.
    if not s.el(2).strip() and s.el(4).strip() == "RD8":
        first, _, last = s.el(5).partition("-")
        return _date(tx, s, first, "DTM05 range start"), _date(tx, s, last, "DTM05 range end")
    return _date(tx, s, s.el(2), f"DTM*{s.el(1)[:3]} date"), None


def _on_lx(tx: _TransactionDraft, s: Segment) -> None:
    tx.close_claim()


def _on_clp(tx: _TransactionDraft, s: Segment) -> None:
    tx.close_claim()
    claim_id = s.el(1).strip()
    if not claim_id:
        tx.problem("missing-element", s, "CLP01 claim id is missing")
    status = s.el(2).strip()
    if status not in KNOWN_CLAIM_STATUSES:
        message = f"CLP02 status {status[:4]!r} is not an 835 claim status code"
        tx.problem("unknown-code", s, message)
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
        tx.problem("segment-out-of-place", s, "CAS outside a claim; ignored")
        return
    group = s.el(1).strip()
    if group not in KNOWN_GROUPS:
        tx.problem("unknown-code", s, f"CAS01 group {group[:4]!r} is not one of CO, CR, OA, PI, PR")
    # Up to six reason/amount/quantity triplets: CAS02-04, CAS05-07, ... CAS17-19.
    for start in range(2, min(len(s.elements), 20), 3):
        reason = s.el(start).strip()
        if not reason:
            if s.el(start + 1).strip():
                tx.problem(
                    "missing-element", s, f"CAS{start + 1:02d} amount has no reason code; ignored"
                )
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
    if tx.claim is None:
        return
    entity = s.el(1).strip()
    if entity == "QC":
        tx.claim.patient = PatientName(
            last_name=s.el(3).strip(), first_name=s.el(4).strip(), member_id=s.el(9).strip()
        )
    elif entity == "TT":
        tx.claim.crossover_carrier = Party(s.el(3).strip(), s.el(8).strip(), s.el(9).strip())
    elif entity == "PR":
        tx.claim.corrected_priority_payer = Party(s.el(3).strip(), s.el(8).strip(), s.el(9).strip())


def _on_moa(tx: _TransactionDraft, s: Segment) -> None:
    if _claim_remarks(tx, s, _MOA_REMARKS) and tx.claim is not None:
        tx.claim.outpatient_adjudication = True


def _on_mia(tx: _TransactionDraft, s: Segment) -> None:
    if _claim_remarks(tx, s, _MIA_REMARKS) and tx.claim is not None:
        tx.claim.inpatient_adjudication = True


def _claim_remarks(tx: _TransactionDraft, s: Segment, positions: tuple[int, ...]) -> bool:
    if tx.claim is None:
        tx.problem("segment-out-of-place", s, f"{s.id} outside a claim; ignored")
        return False
    tx.claim.remarks.extend(code for i in positions if (code := s.el(i).strip()))
    return True


def _on_svc(tx: _TransactionDraft, s: Segment) -> None:
    if tx.claim is None:
        tx.problem("segment-out-of-place", s, "SVC outside a claim; ignored")
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
        tx.problem("segment-out-of-place", s, "LQ outside a service line; ignored")
        return
    # LQ*RX carries NCPDP reject codes, not RARCs; only HE is a remark code.
    if s.el(1).strip() == "HE" and (code := s.el(2).strip()):
        tx.line.remarks.append(code)


def _on_plb(tx: _TransactionDraft, s: Segment) -> None:
    tx.close_claim()
    provider_id = s.el(1).strip()
    period_end = _date(tx, s, s.el(2), "PLB02 fiscal period date", echo=True)
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
