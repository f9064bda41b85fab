"""Read 837P and 837I interchanges into the claims a payer adjudicates.

Real files are often imperfect: everything wrong is reported as a `ReadProblem` tied to the
scope a 999 acknowledges it at (interchange, functional group, transaction set, segment);
only text that holds no 837 at all raises `X12Error`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from payer_simulator.edi import Segment, X12Error, read_segments

PROFESSIONAL_VERSIONS = frozenset({"005010X222A1", "005010X222A2"})
INSTITUTIONAL_VERSIONS = frozenset({"005010X223A1", "005010X223A2", "005010X223A3"})
SUPPORTED_VERSIONS = PROFESSIONAL_VERSIONS | INSTITUTIONAL_VERSIONS
PROCEDURE_QUALIFIERS = frozenset({"HC", "ER", "IV", "WK", "HP"})
# Separators senders use by mistake instead of the one ISA16 declares.
_STRAY_COMPONENT_SEPARATORS = (">", ":", "<", "|", "\\")


class ProblemScope(StrEnum):
    INTERCHANGE = "interchange"
    GROUP = "group"  # code: AK905 functional group syntax error code
    TRANSACTION = "transaction"  # code: IK502 transaction set syntax error code
    SEGMENT = "segment"  # code: IK304 segment syntax error code


@dataclass(frozen=True)
class ReadProblem:
    message: str
    scope: ProblemScope
    code: str = ""
    transaction_set: str = ""  # ST02 of the transaction set the problem is in
    segment_id: str = ""
    position: int = 0  # segment position in its transaction set, ST = 1
    loop_id: str = ""
    element_position: int = 0
    component_position: int = 0
    element_code: str = ""  # IK403 implementation data element syntax error code
    bad_value: str = ""
    claim_id: str = ""


@dataclass(frozen=True)
class InterchangeReference:
    """Where a claim came from: the sender and the control numbers of its envelope."""

    sender_id: str
    receiver_id: str
    interchange_control_number: str
    group_control_number: str
    transaction_set_control_number: str


@dataclass(frozen=True)
class PriorAdjustment:
    """A CAS triplet an earlier payer reported (2320 or 2430 of a COB claim)."""

    group: str
    reason: str
    amount: Decimal


@dataclass(frozen=True)
class PriorLinePayment:
    """2430: what an earlier payer paid (SVD02) and adjusted (CAS) on one of our lines."""

    payer_id: str
    paid: Decimal
    adjustments: tuple[PriorAdjustment, ...] = ()
    remaining_patient_liability: Decimal | None = None  # AMT*EAF

    @property
    def patient_responsibility(self) -> Decimal:
        return sum((a.amount for a in self.adjustments if a.group == "PR"), Decimal("0.00"))


@dataclass(frozen=True)
class ServiceLine:
    number: int
    qualifier: str
    procedure_code: str
    modifiers: tuple[str, ...]
    charge: Decimal
    units: Decimal
    service_date: date | None
    service_end_date: date | None = None
    line_control_number: str = ""
    revenue_code: str = ""  # SV201 on institutional lines
    diagnosis_pointers: tuple[int, ...] = ()  # SV107, 1-based into the claim's diagnoses
    prior_authorization: str = ""  # 2400 REF*G1
    prior_payments: tuple[PriorLinePayment, ...] = ()


@dataclass(frozen=True)
class OtherPayerPaid:
    """2320/2330B of a COB claim: another payer, its place in the order of benefits (SBR01)
    and, once it has adjudicated, what it paid (AMT*D) and adjusted (CAS)."""

    payer_id: str
    paid: Decimal | None
    responsibility: str = ""  # SBR01 of loop 2320: P, S, T, ...
    payer_name: str = ""
    adjustments: tuple[PriorAdjustment, ...] = ()
    remaining_patient_liability: Decimal | None = None  # AMT*EAF


@dataclass(frozen=True)
class SubmittedClaim:
    claim_id: str
    total_charge: Decimal
    frequency_code: str
    place_of_service: str
    billing_provider_npi: str
    billing_provider_name: str
    billing_provider_tax_id: str
    payer_id: str
    payer_name: str
    payer_responsibility: str  # SBR01: P primary, S secondary, T tertiary
    claim_filing_indicator: str  # SBR09
    member_id: str
    subscriber_last_name: str
    subscriber_first_name: str
    patient_last_name: str
    patient_first_name: str
    patient_is_subscriber: bool
    service_lines: tuple[ServiceLine, ...]
    origin: InterchangeReference
    claim_type: str = "837P"
    diagnoses: tuple[str, ...] = ()
    patient_birth_date: date | None = None
    statement_from: date | None = None
    statement_to: date | None = None
    original_claim_number: str = ""  # REF*F8 of a replacement or void
    other_payers: tuple[OtherPayerPaid, ...] = ()
    prior_authorization: str = ""  # 2300 REF*G1

    @property
    def institutional_inpatient(self) -> bool:
        """An 837I whose type of bill is an inpatient one (classification 1 or 2)."""
        code = self.place_of_service
        return self.claim_type == "837I" and len(code) == 2 and code[1] in {"1", "2"}

    @property
    def line_charge_total(self) -> Decimal:
        return sum((line.charge for line in self.service_lines), Decimal("0.00"))


@dataclass
class TransactionSet837:
    control_number: str
    version: str
    batch_reference: str = ""  # BHT03
    submitter_id: str = ""
    submitter_name: str = ""
    claims: list[SubmittedClaim] = field(default_factory=list)
    problems: list[ReadProblem] = field(default_factory=list)


@dataclass
class FunctionalGroup837:
    functional_id: str
    control_number: str
    version: str
    transaction_sets: list[TransactionSet837] = field(default_factory=list)
    problems: list[ReadProblem] = field(default_factory=list)


@dataclass
class Interchange837:
    sender_id: str
    receiver_id: str
    control_number: str
    usage: str
    groups: list[FunctionalGroup837] = field(default_factory=list)
    envelope_problems: list[ReadProblem] = field(default_factory=list)

    @property
    def claims(self) -> list[SubmittedClaim]:
        return [c for g in self.groups for ts in g.transaction_sets for c in ts.claims]

    @property
    def problems(self) -> list[ReadProblem]:
        found = list(self.envelope_problems)
        for group in self.groups:
            found.extend(group.problems)
            for ts in group.transaction_sets:
                found.extend(ts.problems)
        return found


def read_837(text: str) -> Interchange837:
    """Read an 837P interchange; raise `X12Error` only when the text holds no 837 at all."""
    segments = list(read_segments(text))
    if not any(seg.id == "ST" and seg.el(1) == "837" for seg in segments):
        raise X12Error("no 837 transaction set (ST*837) found")
    return _Reader(segments).read()


def parse_amount(value: str) -> Decimal | None:
    """An R element as money, or None: at most 18 digits, plain ASCII, finite."""
    raw = value.strip()
    if len(raw) > 20 or not raw.isascii():
        return None
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        return None
    return amount.quantize(Decimal("0.01")) if amount.is_finite() else None


def parse_date(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


@dataclass
class _Line:
    number: int
    position: int
    sv1: Segment | None = None
    sv2: Segment | None = None
    sv1_position: int = 0
    service_date: date | None = None
    service_end_date: date | None = None
    line_control_number: str = ""
    pointers: tuple[int, ...] = ()
    prior_authorization: str = ""
    payments: list[dict] = field(default_factory=list)


@dataclass
class _Claim:
    clm: Segment
    position: int
    billing: dict[str, str]
    subscriber: dict[str, str]
    patient: dict[str, str] | None
    lines: list[_Line] = field(default_factory=list)
    diagnoses: list[str] = field(default_factory=list)
    statement: tuple[date, date] | None = None
    original_claim_number: str = ""
    other_payers: list[dict] = field(default_factory=list)
    prior_authorization: str = ""


class _Reader:
    """One pass over the segments, keeping the hierarchical context an 837P is built from."""

    def __init__(self, segments: list[Segment]) -> None:
        self.segments = segments
        self.interchange = Interchange837(
            sender_id="", receiver_id="", control_number="", usage="P"
        )
        self.group: FunctionalGroup837 | None = None
        self.ts: TransactionSet837 | None = None
        self.ts_position = 0
        self.iea_seen = False
        self._start_body()
        self._envelope_handlers = {
            "ISA": self._on_isa,
            "GS": self._on_gs,
            "ST": self._on_st,
            "SE": self._on_se,
            "GE": self._on_ge,
            "IEA": self._on_iea,
        }

    def _start_body(self) -> None:
        self.hl_level = ""
        self.hl_position = 0
        self.billing: dict[str, str] | None = None
        self.subscriber: dict[str, str] = {}
        self.patient: dict[str, str] | None = None
        self.claim: _Claim | None = None
        self.line: _Line | None = None

    # ---- envelope -------------------------------------------------------------------------

    def read(self) -> Interchange837:
        for seg in self.segments:
            if self.ts is not None:
                self.ts_position += 1
            envelope_handler = self._envelope_handlers.get(seg.id)
            if envelope_handler is not None:
                envelope_handler(seg)
            elif self.ts is None:
                self._envelope_problem(f"segment {seg.id} outside a transaction set")
            else:
                self._on_body(seg)
        if self.ts is not None:
            self._close_transaction(None)
        if self.group is not None:
            self._group_problem("functional group trailer GE missing", "3")
            self.group = None
        if not self.iea_seen:
            self._envelope_problem("interchange trailer IEA missing")
        return self.interchange

    def _envelope_problem(self, message: str) -> None:
        self.interchange.envelope_problems.append(ReadProblem(message, ProblemScope.INTERCHANGE))

    def _group_problem(self, message: str, code: str) -> None:
        assert self.group is not None
        self.group.problems.append(ReadProblem(message, ProblemScope.GROUP, code))

    def _on_isa(self, seg: Segment) -> None:
        if self.interchange.control_number:
            self._envelope_problem("more than one interchange in the file; read as one")
            return
        self.interchange.sender_id = seg.el(6).strip()
        self.interchange.receiver_id = seg.el(8).strip()
        self.interchange.control_number = seg.el(13).strip()
        self.interchange.usage = seg.el(15).strip() or "P"

    def _on_iea(self, seg: Segment) -> None:
        self.iea_seen = True
        if self.group is not None:
            self._group_problem("functional group trailer GE missing", "3")
            self.group = None
        if seg.el(2).strip() != self.interchange.control_number:
            self._envelope_problem(
                f"IEA02 {seg.el(2)!r} does not match ISA13 {self.interchange.control_number!r}"
            )
        if seg.el(1).strip() != str(len(self.interchange.groups)):
            self._envelope_problem(
                f"IEA01 says {seg.el(1)!r} groups, the interchange has "
                f"{len(self.interchange.groups)}"
            )

    def _on_gs(self, seg: Segment) -> None:
        if self.group is not None:
            self._group_problem("functional group trailer GE missing", "3")
        self.group = FunctionalGroup837(
            functional_id=seg.el(1), control_number=seg.el(6).strip(), version=seg.el(8).strip()
        )
        self.interchange.groups.append(self.group)
        if seg.el(1) != "HC":
            self._group_problem(f"functional group {seg.el(1)!r} is not HC (claims)", "1")
        elif self.group.version not in SUPPORTED_VERSIONS:
            self._group_problem(f"version {self.group.version!r} is not an 837P we accept", "2")
        if _small_number(self.group.control_number) is None:
            self._group_problem("GS06 group control number is not numeric", "6")

    def _on_ge(self, seg: Segment) -> None:
        if self.group is None:
            self._envelope_problem("GE without GS")
            return
        if self.ts is not None:
            self._close_transaction(None)
        if seg.el(2).strip() != self.group.control_number:
            self._group_problem(
                f"GE02 {seg.el(2)!r} does not match GS06 {self.group.control_number!r}", "4"
            )
        if seg.el(1).strip() != str(len(self.group.transaction_sets)):
            self._group_problem(
                f"GE01 says {seg.el(1)!r} transaction sets, the group has "
                f"{len(self.group.transaction_sets)}",
                "5",
            )
        self.group = None

    def _on_st(self, seg: Segment) -> None:
        if self.ts is not None:
            self._close_transaction(None)
        if self.group is None:
            self.group = FunctionalGroup837(functional_id="", control_number="", version="")
            self.interchange.groups.append(self.group)
            self._group_problem("transaction set outside a functional group (no GS)", "6")
        self.ts = TransactionSet837(control_number=seg.el(2).strip(), version=seg.el(3).strip())
        self.group.transaction_sets.append(self.ts)
        self.ts_position = 1
        self._start_body()
        if seg.el(1) != "837":
            self._ts_problem(f"transaction set {seg.el(1)!r} is not an 837", "1")

    def _on_se(self, seg: Segment) -> None:
        if self.ts is None:
            self._envelope_problem("SE without ST")
            return
        self._close_transaction(seg)

    def _ts_problem(self, message: str, code: str) -> None:
        assert self.ts is not None
        self.ts.problems.append(
            ReadProblem(message, ProblemScope.TRANSACTION, code, self.ts.control_number)
        )

    def _close_transaction(self, se: Segment | None) -> None:
        assert self.ts is not None
        self._finish_claim()
        if se is None:
            self._ts_problem("transaction set trailer SE missing", "2")
        else:
            if se.el(2).strip() != self.ts.control_number:
                self._ts_problem(
                    f"SE02 {se.el(2)!r} does not match ST02 {self.ts.control_number!r}", "3"
                )
            if se.el(1).strip() != str(self.ts_position):
                self._ts_problem(
                    f"SE01 says {se.el(1)!r} segments, the transaction set has {self.ts_position}",
                    "4",
                )
        if any(p.scope is ProblemScope.SEGMENT for p in self.ts.problems):
            self._ts_problem("one or more segments in error", "5")
        self.ts = None

    # ---- transaction set body -------------------------------------------------------------

    def _problem(
        self,
        seg: Segment | None,
        message: str,
        code: str = "8",
        *,
        loop_id: str = "",
        position: int | None = None,
        segment_id: str = "",
        element: int = 0,
        component: int = 0,
        element_code: str = "",
        bad_value: str = "",
    ) -> None:
        assert self.ts is not None
        claim_id = self.claim.clm.el(1) if self.claim is not None else ""
        self.ts.problems.append(
            ReadProblem(
                message,
                ProblemScope.SEGMENT,
                code,
                transaction_set=self.ts.control_number,
                segment_id=segment_id or (seg.id if seg is not None else ""),
                position=position if position is not None else self.ts_position,
                loop_id=loop_id,
                element_position=element,
                component_position=component,
                element_code=element_code,
                bad_value=bad_value[:99],
                claim_id=claim_id,
            )
        )

    def _on_body(self, seg: Segment) -> None:
        assert self.ts is not None
        sid = seg.id
        if sid == "BHT":
            self.ts.batch_reference = seg.el(3)
        elif sid == "HL":
            self._on_hl(seg)
        elif sid == "NM1":
            self._on_nm1(seg)
        elif sid == "SBR" and self.claim is None and self.hl_level == "22":
            self.subscriber["responsibility"] = seg.el(1)
            self.subscriber["filing"] = seg.el(9)
        elif sid == "SBR" and self.claim is not None and self.line is None:
            self.claim.other_payers.append({"responsibility": seg.el(1), "adjustments": []})
        elif sid == "AMT" and seg.el(1) == "D" and self.claim and self.claim.other_payers:
            self.claim.other_payers[-1]["paid"] = seg.el(2)
        elif sid == "AMT" and seg.el(1) == "EAF" and self.claim is not None:
            self._cob_target()["eaf"] = seg.el(2)
        elif sid == "CAS" and self.claim is not None:
            self._cob_target().setdefault("adjustments", []).extend(_cas_triplets(seg))
        elif sid == "SVD" and self.line is not None:
            self.line.payments.append({"payer_id": seg.el(1), "paid": seg.el(2), "adjustments": []})
        elif sid == "DMG" and self.claim is None:
            (self.patient if self.patient is not None else self.subscriber)["dob"] = seg.el(2)
        elif sid == "HI" and self.claim is not None:
            self._on_hi(seg)
        elif sid == "SV2":
            self._on_sv2(seg)
        elif sid == "DTP" and seg.el(1) == "434" and self.claim is not None:
            first, _, last = seg.el(3).partition("-")
            start, end = parse_date(first), parse_date(last or first)
            if start and end:
                self.claim.statement = (start, end)
        elif sid == "REF":
            self._on_ref(seg)
        elif sid == "CLM":
            self._on_clm(seg)
        elif sid == "LX":
            self._on_lx(seg)
        elif sid == "SV1":
            self._on_sv1(seg)
        elif sid == "DTP" and seg.el(1) == "472" and self.line is not None:
            self._on_service_date(seg)

    def _cob_target(self) -> dict:
        """Where a CAS or AMT*EAF of a COB claim belongs: the open 2430 loop of the line,
        else the open 2320 loop; a stray one lands in a scratch dict and is ignored."""
        if self.line is not None and self.line.payments:
            return self.line.payments[-1]
        if self.claim is not None and self.claim.other_payers and self.line is None:
            return self.claim.other_payers[-1]
        return {}

    def _on_hl(self, seg: Segment) -> None:
        self._finish_claim()
        self.hl_level = seg.el(3)
        if self.hl_level == "20":
            self.billing = {}
            self.subscriber = {}
            self.patient = None
        elif self.hl_level == "22":
            if self.billing is None:
                self._problem(seg, "subscriber level before a billing provider level", "2")
            elif not self.billing:
                self._problem(
                    None,
                    "billing provider name (NM1*85) missing",
                    "3",
                    loop_id="2010AA",
                    position=self.hl_position,
                    segment_id="NM1",
                )
                self.billing["npi"] = ""
            self.subscriber = {}
            self.patient = None
        elif self.hl_level == "23":
            self.patient = {}
        else:
            self._problem(
                seg,
                f"HL03 {self.hl_level!r} is not a level an 837P has",
                element=3,
                element_code="7",
                bad_value=self.hl_level,
            )
        self.hl_position = self.ts_position

    def _on_nm1(self, seg: Segment) -> None:
        entity = seg.el(1)
        if self.claim is not None:
            # 2310x/2330x loops: providers, other subscribers; 2330B names another payer.
            if entity == "PR" and self.claim.other_payers and self.line is None:
                self.claim.other_payers[-1]["payer_id"] = seg.el(9)
                self.claim.other_payers[-1]["payer_name"] = seg.el(3)
            return
        assert self.ts is not None
        if entity == "41" and not self.hl_level:
            self.ts.submitter_id = seg.el(9)
            self.ts.submitter_name = seg.el(3)
        elif entity == "85" and self.hl_level == "20":
            self.billing = {"name": _person_or_org(seg), "npi": seg.el(9), "tax_id": ""}
            if seg.el(8) != "XX" or not seg.el(9):
                self._problem(
                    seg,
                    "billing provider NM1 carries no NPI (NM108 XX, NM109)",
                    loop_id="2010AA",
                    element=9 if seg.el(8) == "XX" else 8,
                    element_code="1" if not seg.el(8) or not seg.el(9) else "7",
                    bad_value=seg.el(8),
                )
        elif entity == "IL" and self.hl_level == "22":
            self.subscriber.update(last=seg.el(3), first=seg.el(4), member_id=seg.el(9))
            if not seg.el(9):
                self._problem(
                    seg,
                    "subscriber member id (NM109) missing",
                    loop_id="2010BA",
                    element=9,
                    element_code="1",
                )
        elif entity == "PR" and self.hl_level == "22":
            self.subscriber.update(payer_name=seg.el(3), payer_id=seg.el(9))
            if not seg.el(9):
                self._problem(
                    seg,
                    "payer identifier (NM109) missing",
                    loop_id="2010BB",
                    element=9,
                    element_code="1",
                )
        elif entity == "QC" and self.hl_level == "23" and self.patient is not None:
            self.patient.update(last=seg.el(3), first=seg.el(4))

    def _on_hi(self, seg: Segment) -> None:
        assert self.claim is not None
        for index in range(1, len(seg.elements)):
            parts = _split_any(seg.el(index), seg.delimiters.component)
            if len(parts) > 1 and parts[0] in {"ABK", "ABF", "BK", "BF"}:
                self.claim.diagnoses.append(parts[1])

    def _on_sv2(self, seg: Segment) -> None:
        if self.line is None:
            self._problem(seg, "SV2 without a preceding LX", "2", loop_id="2400")
            return
        self.line.sv2 = seg
        self.line.sv1_position = self.ts_position
        if not (_small_number(seg.el(1)) is not None and len(seg.el(1)) == 4):
            self._problem(
                seg,
                f"SV201 revenue code {seg.el(1)!r} is not four digits",
                loop_id="2400",
                element=1,
                element_code="1" if not seg.el(1) else "7",
                bad_value=seg.el(1),
            )
        if seg.el(2):
            parts = self._composite(seg, 2, "2400", "SV202")
            if parts[0] not in PROCEDURE_QUALIFIERS:
                self._problem(
                    seg,
                    f"SV202-1 {parts[0]!r} is not a procedure code qualifier",
                    loop_id="2400",
                    element=2,
                    component=1,
                    element_code="7",
                    bad_value=parts[0],
                )
        self._check_amount(seg, 3, "2400", "SV203 line charge")
        self._check_amount(seg, 5, "2400", "SV205 units")

    def _on_ref(self, seg: Segment) -> None:
        claim = self.claim
        if claim is not None and self.line is None and not claim.other_payers:
            if seg.el(1) == "F8":
                claim.original_claim_number = seg.el(2)
            elif seg.el(1) == "G1":
                claim.prior_authorization = seg.el(2)
        if self.line is not None and not self.line.payments:
            if seg.el(1) == "6R":
                self.line.line_control_number = seg.el(2)
            elif seg.el(1) == "G1":
                self.line.prior_authorization = seg.el(2)
        elif self.billing and self.claim is None and self.hl_level == "20" and seg.el(1) == "EI":
            self.billing["tax_id"] = seg.el(2)

    def _on_clm(self, seg: Segment) -> None:
        self._finish_claim()
        if self.hl_level not in {"22", "23"}:
            self._problem(seg, "claim outside a subscriber or patient level", "2", loop_id="2300")
            return
        self.claim = _Claim(
            clm=seg,
            position=self.ts_position,
            billing=dict(self.billing or {}),
            subscriber=dict(self.subscriber),
            patient=dict(self.patient) if self.patient is not None else None,
        )
        if not seg.el(1):
            self._problem(
                seg, "CLM01 claim id missing", loop_id="2300", element=1, element_code="1"
            )
        self._check_amount(seg, 2, "2300", "CLM02 total charge")
        parts = self._composite(seg, 5, "2300", "CLM05")
        if len(parts) < 3 or not parts[2]:
            self._problem(
                seg,
                "CLM05-3 claim frequency code missing",
                loop_id="2300",
                element=5,
                component=3,
                element_code="1",
            )

    def _on_lx(self, seg: Segment) -> None:
        if self.claim is None:
            self._problem(seg, "service line outside a claim", "2", loop_id="2400")
            return
        self._finish_line()
        number = _small_number(seg.el(1)) or len(self.claim.lines) + 1
        self.line = _Line(number=number, position=self.ts_position)
        self.claim.lines.append(self.line)

    def _on_sv1(self, seg: Segment) -> None:
        if self.line is None:
            self._problem(seg, "SV1 without a preceding LX", "2", loop_id="2400")
            return
        self.line.sv1 = seg
        self.line.sv1_position = self.ts_position
        parts = self._composite(seg, 1, "2400", "SV101")
        if parts[0] not in PROCEDURE_QUALIFIERS:
            self._problem(
                seg,
                f"SV101-1 {parts[0]!r} is not a procedure code qualifier",
                loop_id="2400",
                element=1,
                component=1,
                element_code="7" if parts[0] else "1",
                bad_value=parts[0],
            )
        if len(parts) < 2 or not parts[1]:
            self._problem(
                seg,
                "SV101-2 procedure code missing",
                loop_id="2400",
                element=1,
                component=2,
                element_code="1",
            )
        self._check_amount(seg, 2, "2400", "SV102 line charge")
        self._check_amount(seg, 4, "2400", "SV104 units")
        pointers = _split_any(seg.el(7), seg.delimiters.component) if seg.el(7) else []
        self.line.pointers = tuple(n for n in map(_small_number, pointers) if n is not None)

    def _on_service_date(self, seg: Segment) -> None:
        assert self.line is not None
        raw = seg.el(3)
        start, _, end = raw.partition("-")
        first = parse_date(start)
        last = parse_date(end) if end else first
        if seg.el(2) not in {"D8", "RD8"} or first is None or last is None:
            self._problem(
                seg,
                f"DTP03 {raw!r} is not a service date",
                loop_id="2400",
                element=3,
                element_code="8",
                bad_value=raw,
            )
            return
        self.line.service_date = first
        self.line.service_end_date = last if last != first else None

    def _check_amount(self, seg: Segment, index: int, loop_id: str, what: str) -> None:
        raw = seg.el(index)
        if not raw:
            self._problem(seg, f"{what} missing", loop_id=loop_id, element=index, element_code="1")
        elif parse_amount(raw) is None:
            self._problem(
                seg,
                f"{what} {raw!r} is not a number",
                loop_id=loop_id,
                element=index,
                element_code="6",
                bad_value=raw,
            )

    def _composite(self, seg: Segment, index: int, loop_id: str, name: str) -> list[str]:
        raw = seg.el(index)
        parts = seg.components(index)
        if len(parts) == 1:
            stray = next(
                (
                    sep
                    for sep in _STRAY_COMPONENT_SEPARATORS
                    if sep != seg.delimiters.component and sep in raw
                ),
                None,
            )
            if stray is not None:
                self._problem(
                    seg,
                    f"{name} {raw!r} is split by {stray!r}, not by the component separator "
                    f"{seg.delimiters.component!r} ISA16 declares",
                    loop_id=loop_id,
                    element=index,
                    component=1,
                    element_code="7",
                    bad_value=raw,
                )
                parts = raw.split(stray)
        return parts

    # ---- building claims ------------------------------------------------------------------

    def _finish_line(self) -> None:
        line = self.line
        self.line = None
        if line is None:
            return
        if line.sv1 is None and line.sv2 is None:
            self._problem(
                None,
                "service line without SV1 or SV2",
                "3",
                loop_id="2400",
                position=line.position,
                segment_id="SV1",
            )
        elif line.service_date is None and line.sv2 is None:
            self._problem(
                None,
                "service line without a DTP*472 service date",
                "3",
                loop_id="2400",
                position=line.sv1_position,
                segment_id="DTP",
            )

    def _finish_claim(self) -> None:
        self._finish_line()
        claim = self.claim
        if claim is None:
            return
        if not claim.lines:
            self._problem(
                claim.clm,
                "claim without service lines",
                "I7",
                loop_id="2300",
                position=claim.position,
            )
        if "payer_id" not in claim.subscriber:
            self._problem(
                claim.clm,
                "payer (NM1*PR) missing",
                "3",
                loop_id="2010BB",
                position=claim.position,
                segment_id="NM1",
            )
        if "member_id" not in claim.subscriber:
            self._problem(
                claim.clm,
                "subscriber (NM1*IL) missing",
                "3",
                loop_id="2010BA",
                position=claim.position,
                segment_id="NM1",
            )
        if self.ts is None or self.group is None:
            # A transaction set outside any GS: nothing to file the claim under.
            self._envelope_problem("claim outside a functional group (no GS)")
            self.claim = None
            return
        self.ts.claims.append(self._build_claim(claim))
        self.claim = None

    def _build_claim(self, claim: _Claim) -> SubmittedClaim:
        assert self.ts is not None and self.group is not None
        clm = claim.clm
        clm05 = _split_any(clm.el(5), clm.delimiters.component)
        subscriber = claim.subscriber
        patient = claim.patient
        return SubmittedClaim(
            claim_id=clm.el(1),
            total_charge=parse_amount(clm.el(2)) or Decimal("0.00"),
            frequency_code=clm05[2] if len(clm05) > 2 else "",
            place_of_service=clm05[0],
            billing_provider_npi=claim.billing.get("npi", ""),
            billing_provider_name=claim.billing.get("name", ""),
            billing_provider_tax_id=claim.billing.get("tax_id", ""),
            payer_id=subscriber.get("payer_id", ""),
            payer_name=subscriber.get("payer_name", ""),
            payer_responsibility=subscriber.get("responsibility", "P"),
            claim_filing_indicator=subscriber.get("filing", ""),
            member_id=subscriber.get("member_id", ""),
            subscriber_last_name=subscriber.get("last", ""),
            subscriber_first_name=subscriber.get("first", ""),
            patient_last_name=(patient or subscriber).get("last", ""),
            patient_first_name=(patient or subscriber).get("first", ""),
            patient_is_subscriber=patient is None,
            service_lines=tuple(
                _build_line(line, claim.statement) for line in claim.lines if line.sv1 or line.sv2
            ),
            claim_type="837I" if self.group.version in INSTITUTIONAL_VERSIONS else "837P",
            diagnoses=tuple(claim.diagnoses),
            patient_birth_date=parse_date((patient or subscriber).get("dob", "")),
            statement_from=claim.statement[0] if claim.statement else None,
            statement_to=claim.statement[1] if claim.statement else None,
            original_claim_number=claim.original_claim_number,
            prior_authorization=claim.prior_authorization,
            other_payers=tuple(
                OtherPayerPaid(
                    payer_id=other.get("payer_id", ""),
                    paid=parse_amount(other.get("paid", "")),
                    responsibility=other.get("responsibility", ""),
                    payer_name=other.get("payer_name", ""),
                    adjustments=tuple(other.get("adjustments", ())),
                    remaining_patient_liability=parse_amount(other.get("eaf", "")),
                )
                for other in claim.other_payers
            ),
            origin=InterchangeReference(
                sender_id=self.interchange.sender_id,
                receiver_id=self.interchange.receiver_id,
                interchange_control_number=self.interchange.control_number,
                group_control_number=self.group.control_number,
                transaction_set_control_number=self.ts.control_number,
            ),
        )


def _build_line(line: _Line, statement: tuple[date, date] | None) -> ServiceLine:
    if line.sv2 is not None:
        sv2 = line.sv2
        parts = _split_any(sv2.el(2), sv2.delimiters.component) if sv2.el(2) else ["", ""]
        return ServiceLine(
            number=line.number,
            qualifier=parts[0],
            procedure_code=parts[1] if len(parts) > 1 else "",
            modifiers=tuple(m for m in parts[2:6] if m),
            charge=parse_amount(sv2.el(3)) or Decimal("0.00"),
            units=parse_amount(sv2.el(5)) or Decimal("1.00"),
            service_date=line.service_date or (statement[0] if statement else None),
            service_end_date=line.service_end_date
            or (statement[1] if statement and not line.service_date else None),
            line_control_number=line.line_control_number,
            revenue_code=sv2.el(1),
            prior_authorization=line.prior_authorization,
            prior_payments=_prior_payments(line),
        )
    sv1 = line.sv1
    assert sv1 is not None
    parts = _split_any(sv1.el(1), sv1.delimiters.component)
    return ServiceLine(
        number=line.number,
        qualifier=parts[0],
        procedure_code=parts[1] if len(parts) > 1 else "",
        modifiers=tuple(m for m in parts[2:6] if m),
        charge=parse_amount(sv1.el(2)) or Decimal("0.00"),
        units=parse_amount(sv1.el(4)) or Decimal("1.00"),
        service_date=line.service_date,
        service_end_date=line.service_end_date,
        line_control_number=line.line_control_number,
        diagnosis_pointers=line.pointers,
        prior_authorization=line.prior_authorization,
        prior_payments=_prior_payments(line),
    )


def _prior_payments(line: _Line) -> tuple[PriorLinePayment, ...]:
    return tuple(
        PriorLinePayment(
            payer_id=payment["payer_id"],
            paid=parse_amount(payment["paid"]) or Decimal("0.00"),
            adjustments=tuple(payment.get("adjustments", ())),
            remaining_patient_liability=parse_amount(payment.get("eaf", "")),
        )
        for payment in line.payments
    )


def _cas_triplets(cas: Segment) -> list[PriorAdjustment]:
    """CAS02-CAS19: up to six reason/amount/quantity triplets under the group in CAS01."""
    found = []
    for start in range(2, 20, 3):
        reason, amount = cas.el(start), parse_amount(cas.el(start + 1))
        if reason and amount is not None:
            found.append(PriorAdjustment(cas.el(1), reason, amount))
    return found


def _split_any(raw: str, component: str) -> list[str]:
    if component in raw:
        return raw.split(component)
    for stray in _STRAY_COMPONENT_SEPARATORS:
        if stray in raw:
            return raw.split(stray)
    return [raw]


def _person_or_org(nm1: Segment) -> str:
    if nm1.el(2) == "1" and nm1.el(4):
        return f"{nm1.el(3)} {nm1.el(4)}"
    return nm1.el(3)


def _small_number(raw: str) -> int | None:
    """A count or sequence number of at most 9 ASCII digits ('²' is a digit to Python's
    isdigit, and int() refuses it; a 5,000-digit number is not a line number)."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None
