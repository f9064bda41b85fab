"""HL7 v2 charges and registrations: DFT^P03 → a documented encounter; ADT^A04/A08 → the
patient's registration (demographics and insurance) that later charges fall back on; and the
ACK every message is answered with (AA, or AE/AR with ERR segments naming segment-field and
reason, never a value).

The parser is our own and tolerant (any segment terminator, escape sequences, missing
trailing fields), because interface engines send what they send and the listener must
answer every message rather than fail on it.

A DFT^P03 is read as the visit's charges as of that message: charges (FT1-6 `CG`) are lines,
credits (`CD`) cancel one earlier charge of the same code; payments and adjustments are not
charges. Its document is the visit (PV1-19), so a later DFT for the same visit with other
charges is an amendment of the encounter.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from claimflow_intake.domain.registry import TenantRegistry, Unresolved, local_id
from claimflow_intake.domain.validation import (
    Problem,
    ProblemKind,
    SourceMap,
    code_system,
    encounter_class,
    has_control_characters,
    is_valid_npi,
    member_id_problem,
    normalise_sex,
    postal_code,
    state_code,
    subscriber_relationship,
    validate_documented,
)
from claimflow_shared.codes import normalize_icd10cm
from claimflow_shared.events import DocumentedCodeSystem, EncounterDocumented

SUPPORTED_VERSIONS = frozenset(
    {"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8"}
)
ACK_VERSION = "2.5.1"
NPI_AUTHORITIES = frozenset({"NPI", "CMS", "2.16.840.1.113883.4.6", "HL7NPI"})
CHARGE, CREDIT = "CG", "CD"
MAX_SEGMENTS = 2000


class AckCode(StrEnum):
    ACCEPT = "AA"
    ERROR = "AE"
    REJECT = "AR"


class MessageKind(StrEnum):
    CHARGES = "charges"
    REGISTRATION = "registration"


# What each message type means to intake; anything else is answered AR (unsupported).
SUPPORTED_MESSAGES: Mapping[tuple[str, str], MessageKind] = {
    ("DFT", "P03"): MessageKind.CHARGES,
    ("DFT", "P11"): MessageKind.CHARGES,
    ("ADT", "A04"): MessageKind.REGISTRATION,
    ("ADT", "A08"): MessageKind.REGISTRATION,
    ("ADT", "A01"): MessageKind.REGISTRATION,
    ("ADT", "A05"): MessageKind.REGISTRATION,
}

# HL7 table 0357 (message error condition codes) for each kind of problem.
ERROR_CODES: Mapping[ProblemKind, tuple[str, str]] = {
    ProblemKind.MISSING: ("101", "Required field missing"),
    ProblemKind.INVALID: ("102", "Data type error"),
    ProblemKind.UNKNOWN: ("103", "Table value not found"),
    ProblemKind.UNSUPPORTED: ("200", "Unsupported message type"),
    ProblemKind.INTERNAL: ("207", "Application internal error"),
}


# Which contract field a problem in a segment (or a segment field) stands for.
SPOILED_BY_SEGMENT: Mapping[str, str] = {
    "PID": "/patient",
    "IN1": "/coverages",
    "DG1": "/diagnoses",
    "FT1": "/procedures",
    "PR1": "/procedures",
    "PV1": "/encounter_class",
}
SPOILED_BY_FIELD: Mapping[str, str] = {
    "FT1-20": "/providers/rendering",
    "PV1-7": "/providers/rendering",
    "MSH-4": "/providers/billing",
    "PV1-44": "/period_start",
    "PV1-45": "/period_end",
}


# --- parsing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Separators:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"


@dataclass(frozen=True)
class Segment:
    name: str
    fields: tuple[str, ...]
    occurrence: int

    def raw(self, number: int) -> str:
        """Field `number` as sent (escaped), '' when absent. MSH-1 is the field separator."""
        if self.name == "MSH":
            if number == 1:
                return "|"
            number -= 1
        return self.fields[number] if 0 < number < len(self.fields) else ""


@dataclass(frozen=True)
class Message:
    segments: tuple[Segment, ...]
    separators: Separators

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def value(
        self, segment: Segment | None, number: int, component: int = 1, repetition: int = 0
    ) -> str:
        """One component of one repetition of a field, unescaped and stripped."""
        if segment is None:
            return ""
        raw = segment.raw(number)
        if segment.name == "MSH" and number == 2:
            return raw
        repetitions = raw.split(self.separators.repetition)
        if repetition >= len(repetitions):
            return ""
        components = repetitions[repetition].split(self.separators.component)
        if component > len(components):
            return ""
        text = components[component - 1].split(self.separators.subcomponent)[0]
        return unescape(text, self.separators).strip()

    def repetitions(self, segment: Segment | None, number: int) -> int:
        if segment is None:
            return 0
        raw = segment.raw(number)
        return len(raw.split(self.separators.repetition)) if raw else 0

    @property
    def header(self) -> Segment:
        return self.segments[0]

    @property
    def control_id(self) -> str:
        return self.value(self.header, 10)

    @property
    def message_type(self) -> tuple[str, str]:
        return self.value(self.header, 9, 1).upper(), self.value(self.header, 9, 2).upper()

    @property
    def version(self) -> str:
        return self.value(self.header, 12)


@dataclass(frozen=True)
class ParseResult:
    message: Message | None
    problems: tuple[Problem, ...] = ()


def parse_message(data: bytes | str) -> ParseResult:
    """Segments and fields of one HL7 v2 message; never raises. A message that is not HL7
    at all (no MSH first, no separators) is a problem at `MSH`."""
    text = _decode(data) if isinstance(data, bytes) else data
    text = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x00 \t\x0b\x1c")
    if not text.startswith("MSH") or len(text) < 8:
        return ParseResult(None, (Problem("MSH", "message does not start with an MSH segment"),))
    field_sep = text[3]
    encoding = text[4:8]
    if field_sep.isalnum() or field_sep in "\r " or len(set(encoding[:4])) < 4:
        return ParseResult(None, (Problem("MSH-2", "encoding characters are not usable"),))
    if field_sep in encoding or any(c.isalnum() or c in "\r " for c in encoding):
        return ParseResult(None, (Problem("MSH-2", "encoding characters are not usable"),))
    separators = Separators(field_sep, encoding[0], encoding[1], encoding[2], encoding[3])
    segments: list[Segment] = []
    counts: dict[str, int] = {}
    problems: list[Problem] = []
    for line in text.split("\r"):
        if not line.strip():
            continue
        if len(segments) == MAX_SEGMENTS:
            problems.append(Problem("MSH", f"more than {MAX_SEGMENTS} segments"))
            break
        fields = line.split(field_sep)
        name = fields[0].strip().upper()
        if not re.fullmatch(r"[A-Z][A-Z0-9]{2}", name):
            problems.append(Problem(f"segment {len(segments) + 1}", "is not a segment"))
            continue
        counts[name] = counts.get(name, 0) + 1
        segments.append(Segment(name, tuple(fields), counts[name]))
    message = Message(tuple(segments), separators)
    if not segments or segments[0].name != "MSH":
        return ParseResult(None, (Problem("MSH", "message does not start with an MSH segment"),))
    return ParseResult(message, tuple(problems))


def _decode(data: bytes) -> str:
    """UTF-8 when it is; otherwise ISO 8859-1, the charset most US interfaces send (MSH-18
    `8859/1`), which decodes any byte, so a message is never lost to its encoding."""
    if b"|8859/1" in data[:400]:
        return data.decode("latin-1")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_ESCAPE = re.compile(r"\\([^\\]*)\\")


def unescape(text: str, separators: Separators) -> str:
    """HL7 escape sequences: \\F\\ \\S\\ \\T\\ \\R\\ \\E\\, \\Xhh\\ hex; formatting ones drop."""
    if separators.escape not in text:
        return text
    if separators.escape != "\\":
        text = text.replace(separators.escape, "\\")
    simple = {
        "F": separators.field,
        "S": separators.component,
        "T": separators.subcomponent,
        "R": separators.repetition,
        "E": separators.escape,
    }

    def replace_one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in simple:
            return simple[code]
        if code.startswith("X") and re.fullmatch(r"X(?:[0-9A-Fa-f]{2})+", code):
            return bytes.fromhex(code[1:]).decode("latin-1")
        if code == ".br":
            return " "
        return ""

    return _ESCAPE.sub(replace_one, text)


def escape(text: str, separators: Separators = Separators()) -> str:
    """Text made safe for a field: separators escaped, control characters dropped."""
    text = text.replace(separators.escape, "\\E\\")
    for char, code in (
        (separators.field, "F"),
        (separators.component, "S"),
        (separators.subcomponent, "T"),
        (separators.repetition, "R"),
    ):
        text = text.replace(char, f"\\{code}\\")
    return "".join(ch for ch in text if ch >= " " and ch != "\x7f")


# --- positions --------------------------------------------------------------------------------


def location(
    segment: Segment | str, number: int | None = None, component: int | None = None
) -> str:
    """`PID-7`, `FT1[2]-25` (the second FT1), `IN1-3.1` (a component)."""
    if isinstance(segment, Segment):
        name = segment.name if segment.occurrence == 1 else f"{segment.name}[{segment.occurrence}]"
    else:
        name = segment
    if number is None:
        return name
    where = f"{name}-{number}"
    return f"{where}.{component}" if component else where


_LOCATION = re.compile(r"^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+)(?:\.(\d+))?)?")


def parse_location(text: str) -> tuple[str, int, int | None, int | None]:
    """(segment, occurrence, field, component) of a location; ('', 1, None, None) if none."""
    match = _LOCATION.match(text)
    if not match:
        return "", 1, None, None
    name, occurrence, number, component = match.groups()
    return (
        name,
        int(occurrence or 1),
        int(number) if number else None,
        int(component) if component else None,
    )


def source_system_of(message: Message) -> str:
    """The source system a message's documents belong to: its sending application and
    facility (MSH-3, MSH-4), so two interfaces never share document ids."""
    parts = [message.value(message.header, 3), message.value(message.header, 4)]
    text = "/".join(re.sub(r"[^A-Za-z0-9._-]", "", p) for p in parts)
    return f"hl7:{text}"[:64]


# --- registrations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InsuranceRecord:
    """One IN1 as sent; payer resolution waits until charges arrive (the registry may change)."""

    payer_id: str | None
    payer_name: str | None
    member_id: str | None
    group_number: str | None
    relationship: str
    position: str


@dataclass(frozen=True)
class Registration:
    """What ADT^A04/A08 told intake about a patient, kept for the charges that follow."""

    key: str
    patient: dict[str, Any]
    insurance: tuple[InsuranceRecord, ...] = ()
    visit: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Registration:
        body = json.loads(text)
        return cls(
            key=body["key"],
            patient=body["patient"],
            insurance=tuple(InsuranceRecord(**i) for i in body.get("insurance", [])),
            visit=body.get("visit", {}),
        )

    def updated_by(self, newer: Registration) -> Registration:
        """An A08 update: fields it sends replace, fields it leaves empty stay; an update
        that sends insurance replaces the insurance list."""
        patient = {**self.patient, **{k: v for k, v in newer.patient.items() if v}}
        address = newer.patient.get("address") or self.patient.get("address")
        if address:
            patient["address"] = address
        return replace(
            self,
            patient=patient,
            insurance=newer.insurance or self.insurance,
            visit={**self.visit, **{k: v for k, v in newer.visit.items() if v}},
        )


def registration_key(message: Message) -> str | None:
    """Whose registration this message is about: the patient's MRN with its authority."""
    pid = message.first("PID")
    mrn, authority, _ = _patient_identifier(message, pid)
    if not mrn:
        return None
    return local_id(authority or message.value(message.header, 4), mrn)


# --- reading a message ----------------------------------------------------------------------


@dataclass(frozen=True)
class Hl7Outcome:
    """What intake makes of one message, and how to answer it. An encounter (DFT) or a
    registration (ADT) is set only when the answer is AA."""

    ack_code: AckCode
    kind: MessageKind | None = None
    problems: tuple[Problem, ...] = ()
    encounter: EncounterDocumented | None = None
    registration: Registration | None = None

    @property
    def accepted(self) -> bool:
        return self.ack_code is AckCode.ACCEPT


def read_message(
    message: Message,
    *,
    registry: TenantRegistry,
    source_system: str,
    today: date,
    registration: Registration | None = None,
    processing_ids: frozenset[str] = frozenset({"P"}),
) -> Hl7Outcome:
    """Interpret a parsed message: charges, a registration (updated over `registration`,
    the one stored under `registration_key`), or the reason it cannot be used."""
    header = message.header
    kind_key = message.message_type
    if message.version and message.version not in SUPPORTED_VERSIONS:
        return _reject("MSH-12", "HL7 version is not supported", ProblemKind.UNSUPPORTED)
    processing = message.value(header, 11).upper()[:1]
    if processing not in processing_ids:
        return _reject("MSH-11", "processing id is not accepted here", ProblemKind.UNSUPPORTED)
    if not message.control_id:
        return _reject("MSH-10", "message control id is missing", ProblemKind.MISSING)
    kind = SUPPORTED_MESSAGES.get(kind_key)
    if kind is None:
        return _reject("MSH-9", "message type is not one intake reads", ProblemKind.UNSUPPORTED)
    if kind is MessageKind.REGISTRATION:
        return _read_registration(message, registry, registration)
    return _ChargeReader(message, registry, source_system, today, registration).outcome()


def _reject(where: str, reason: str, kind: ProblemKind) -> Hl7Outcome:
    return Hl7Outcome(AckCode.REJECT, problems=(Problem(where, reason, kind),))


def _text_problems(message: Message) -> list[Problem]:
    problems = []
    for segment in message.segments:
        for number in range(1, len(segment.fields) + (1 if segment.name == "MSH" else 0)):
            raw = segment.raw(number)
            if raw and has_control_characters(unescape(raw, message.separators)):
                problems.append(Problem(location(segment, number), "contains a control character"))
    return problems


def _patient_identifier(message: Message, pid: Segment | None) -> tuple[str, str, str]:
    """(MRN, assigning authority, where) from PID-3, preferring identifier type MR."""
    if pid is None:
        return "", "", "PID-3"
    count = max(message.repetitions(pid, 3), 1)
    chosen = 0
    for r in range(count):
        if message.value(pid, 3, 5, r).upper() == "MR":
            chosen = r
            break
    mrn = message.value(pid, 3, 1, chosen)
    if not mrn and message.value(pid, 2, 1):
        return message.value(pid, 2, 1), message.value(pid, 2, 4), "PID-2"
    return mrn, message.value(pid, 3, 4, chosen), location(pid, 3)


def _looks_icd10cm(code: str) -> bool:
    try:
        normalize_icd10cm(code)
    except ValueError:
        return False
    return True


def _procedure_system(code: str) -> str | None:
    """FT1-25 without a coding system: CPT or HCPCS Level II by format, which cannot be
    confused (five digits / a letter and four digits); anything else stays uncoded."""
    if re.fullmatch(r"[0-9]{4}[0-9FTU]", code):
        return "CPT"
    if re.fullmatch(r"[A-V][0-9]{4}", code):
        return "HCPCS"
    return None


def _hl7_date(value: str) -> date | None:
    digits = value.strip()[:8]
    if not re.fullmatch(r"\d{8}", digits):
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def _patient(message: Message, where: SourceMap, problems: list[Problem]) -> dict[str, Any]:
    pid = message.first("PID")
    if pid is None:
        problems.append(Problem("PID", "PID segment is missing", ProblemKind.MISSING))
        return {}
    mrn, _, mrn_where = _patient_identifier(message, pid)
    where.add("/patient", "PID")
    where.add("/patient/mrn", mrn_where)
    where.add("/patient/last_name", "PID-5.1")
    where.add("/patient/first_name", "PID-5.2")
    where.add("/patient/birth_date", "PID-7")
    where.add("/patient/sex", "PID-8")
    where.add("/patient/address", "PID-11")
    where.add("/patient/address/line1", "PID-11.1")
    where.add("/patient/address/line2", "PID-11.2")
    where.add("/patient/address/city", "PID-11.3")
    where.add("/patient/address/state", "PID-11.4")
    where.add("/patient/address/postal_code", "PID-11.5")
    birth_raw = message.value(pid, 7)
    birth = _hl7_date(birth_raw)
    if birth_raw and birth is None:
        problems.append(Problem("PID-7", "birth date is not a date (YYYYMMDD)"))
    sex_raw = message.value(pid, 8)
    sex = normalise_sex(sex_raw)
    if sex_raw and sex is None:
        problems.append(Problem("PID-8", "not an HL7 administrative sex code", ProblemKind.UNKNOWN))
    patient: dict[str, Any] = {
        "mrn": mrn or None,
        "first_name": message.value(pid, 5, 2) or None,
        "last_name": message.value(pid, 5, 1) or None,
        "birth_date": birth.isoformat() if birth else None,
        "sex": sex,
    }
    address = _address(message, pid, problems)
    if address:
        patient["address"] = address
    return patient


def _address(message: Message, pid: Segment, problems: list[Problem]) -> dict[str, Any] | None:
    if not message.value(pid, 11, 1) and not message.value(pid, 11, 3):
        return None
    chosen = 0
    for r in range(message.repetitions(pid, 11)):
        if message.value(pid, 11, 7, r).upper() in ("H", "HP", "P"):
            chosen = r
            break
    state_raw = message.value(pid, 11, 4, chosen)
    state = state_code(state_raw)
    if state_raw and state is None:
        problems.append(Problem("PID-11.4", "not a US state code or name", ProblemKind.UNKNOWN))
    postal_raw = message.value(pid, 11, 5, chosen)
    postal = postal_code(postal_raw)
    if postal is None:
        problems.append(
            Problem(
                "PID-11.5",
                "postal code is missing, the all-zero placeholder or not a US ZIP code",
                ProblemKind.MISSING if not postal_raw else ProblemKind.INVALID,
            )
        )
    body = {
        "line1": message.value(pid, 11, 1, chosen) or None,
        "city": message.value(pid, 11, 3, chosen) or None,
        "state": state,
        "postal_code": postal,
    }
    line2 = message.value(pid, 11, 2, chosen)
    if line2:
        body["line2"] = line2
    return body


def _insurance(message: Message) -> list[InsuranceRecord]:
    records = []
    for in1 in message.all("IN1"):
        relationship = subscriber_relationship("hl7", message.value(in1, 17)) or "18"
        member_id = message.value(in1, 36) or message.value(in1, 49, 1)
        records.append(
            InsuranceRecord(
                payer_id=message.value(in1, 3, 1) or None,
                payer_name=message.value(in1, 4, 1) or None,
                member_id=member_id or None,
                group_number=message.value(in1, 8) or None,
                relationship=relationship,
                position=location(in1),
            )
        )
    return records


def _read_registration(
    message: Message, registry: TenantRegistry, stored: Registration | None
) -> Hl7Outcome:
    problems = _text_problems(message)
    where = SourceMap(absolute=True)
    patient = _patient(message, where, problems)
    key = registration_key(message)
    if key is None:
        problems.append(Problem("PID-3", "patient identifier is missing", ProblemKind.MISSING))
    insurance = _insurance(message)
    for record in insurance:
        try:
            registry.resolve_payer(payer_id=record.payer_id, name=record.payer_name)
        except Unresolved as exc:
            problems.append(Problem(f"{record.position}-3", exc.reason, exc.kind))
        if record.member_id and (problem := member_id_problem(record.member_id)):
            problems.append(Problem(f"{record.position}-36", problem))
    if problems or key is None:
        return Hl7Outcome(AckCode.ERROR, MessageKind.REGISTRATION, tuple(problems))
    pv1 = message.first("PV1")
    visit = {
        "patient_class": message.value(pv1, 2),
        "visit_number": message.value(pv1, 19),
        "attending": _xcn(message, pv1, 7),
        "location_facility": message.value(pv1, 3, 4),
    }
    registration = Registration(key, patient, tuple(insurance), visit)
    if stored is not None and stored.key == key:
        registration = stored.updated_by(registration)
    return Hl7Outcome(AckCode.ACCEPT, MessageKind.REGISTRATION, registration=registration)


def _xcn(
    message: Message, segment: Segment | None, number: int, repetition: int = 0
) -> dict[str, str]:
    """An XCN person: id, family, given, assigning authority, identifier type."""
    if segment is None:
        return {}
    return {
        "id": message.value(segment, number, 1, repetition),
        "family": message.value(segment, number, 2, repetition),
        "given": message.value(segment, number, 3, repetition),
        "authority": message.value(segment, number, 9, repetition),
        "id_type": message.value(segment, number, 13, repetition),
    }


class _ChargeReader:
    """DFT^P03 → the contract body, with every contract field located as `SEG-n`."""

    def __init__(
        self,
        message: Message,
        registry: TenantRegistry,
        source_system: str,
        today: date,
        registration: Registration | None,
    ) -> None:
        self.m = message
        self.registry = registry
        self.source_system = source_system
        self.today = today
        self.registration = registration
        self.where = SourceMap(absolute=True)
        self.where.add("", "MSH")
        self.problems: list[Problem] = []

    def outcome(self) -> Hl7Outcome:
        self.problems = _text_problems(self.m)
        if self.problems:
            return Hl7Outcome(AckCode.ERROR, MessageKind.CHARGES, tuple(self.problems))
        patient = _patient(self.m, self.where, self.problems)
        if self.registration is not None:
            patient = self._with_registration(patient)
        lines, diagnoses = self._diagnoses_and_lines()
        body = {
            "source": self._source(),
            "patient": patient,
            "coverages": self._coverages(patient),
            "providers": self._providers(),
            "diagnoses": diagnoses,
            "procedures": lines,
        }
        body.update(self._visit(lines))
        encounter, problems = validate_documented(
            body, today=self.today, known_payer_ids=self.registry.payer_ids
        )
        spoiled = {f for p in self.problems for f in self._fields_at(p.location)}
        for problem in problems:
            if any(problem.location == f or problem.location.startswith(f + "/") for f in spoiled):
                continue
            self.problems.append(
                Problem(self.where.locate(problem.location), problem.reason, problem.kind)
            )
        if self.problems or encounter is None:
            return Hl7Outcome(AckCode.ERROR, MessageKind.CHARGES, tuple(self.problems))
        return Hl7Outcome(AckCode.ACCEPT, MessageKind.CHARGES, encounter=encounter)

    def _fields_at(self, position: str) -> set[str]:
        """The contract fields a problem at this source position spoils, so validation does
        not report the same gap twice (a missing IN1 is one problem, not two)."""
        exact = {pointer for pointer, at in self.where.positions.items() if at == position}
        if exact:
            return exact
        name, _, number, _ = parse_location(position)
        return {SPOILED_BY_FIELD.get(f"{name}-{number}") or SPOILED_BY_SEGMENT.get(name, "")}

    def _with_registration(self, patient: dict[str, Any]) -> dict[str, Any]:
        stored = self.registration.patient if self.registration else {}
        merged = {**stored, **{k: v for k, v in patient.items() if v}}
        self.problems = [
            p
            for p in self.problems
            if not (p.location.startswith("PID-11") and stored.get("address"))
        ]
        return merged

    def _source(self) -> dict[str, Any]:
        pv1 = self.m.first("PV1")
        visit = self.m.value(pv1, 19)
        if visit:
            self.where.add("/source/document_id", "PV1-19")
            authority = self.m.value(pv1, 19, 4)
            return {
                "system": self.source_system,
                "document_id": f"{authority}|{visit}" if authority else visit,
            }
        account = self.m.value(self.m.first("PID"), 18)
        if account:
            self.where.add("/source/document_id", "PID-18")
            return {"system": self.source_system, "document_id": account}
        self.where.add("/source/document_id", "MSH-10")
        return {"system": self.source_system, "document_id": self.m.control_id}

    # --- insurance -------------------------------------------------------------------------

    def _coverages(self, patient: Mapping[str, Any]) -> list[dict[str, Any]]:
        records = _insurance(self.m)
        if not records and self.registration is not None:
            records = list(self.registration.insurance)
        if not records:
            self.problems.append(
                Problem(
                    "IN1",
                    "no insurance: neither the message nor the patient's registration has IN1",
                    ProblemKind.MISSING,
                )
            )
            return []
        coverages = []
        seen: set[str] = set()
        for record in records[:3]:
            try:
                payer = self.registry.resolve_payer(
                    payer_id=record.payer_id, name=record.payer_name
                )
            except Unresolved as exc:
                self.problems.append(Problem(f"{record.position}-3", exc.reason, exc.kind))
                continue
            if payer.payer_id in seen:
                continue
            seen.add(payer.payer_id)
            member_id = record.member_id
            if not member_id and payer.member_id_source == "patient-id":
                member_id = patient.get("mrn")
            if not member_id:
                self.problems.append(
                    Problem(f"{record.position}-36", "member id is missing", ProblemKind.MISSING)
                )
                continue
            at = f"/coverages/{len(coverages)}"
            self.where.add(at, record.position)
            self.where.add(f"{at}/member_id", f"{record.position}-36")
            self.where.add(f"{at}/group_number", f"{record.position}-8")
            self.where.add(f"{at}/relationship", f"{record.position}-17")
            body: dict[str, Any] = {
                "payer": {"payer_id": payer.payer_id, "name": payer.name[:60]},
                "member_id": member_id,
                "relationship": record.relationship,
                "priority": ("primary", "secondary", "tertiary")[len(coverages)],
            }
            if record.group_number:
                body["group_number"] = record.group_number
            coverages.append(body)
        return coverages

    # --- providers -------------------------------------------------------------------------

    def _providers(self) -> dict[str, Any]:
        return {
            "billing": self._billing(),
            "rendering": self._rendering(),
            "facility_npi": self._facility_npi(),
        }

    def _rendering(self) -> dict[str, Any] | None:
        candidates = [(s, 20) for s in self.m.all("FT1") if self.m.value(s, 20, 1)]
        candidates += [(s, 7) for s in self.m.all("PV1") if self.m.value(s, 7, 1)]
        if not candidates and self.registration and self.registration.visit.get("attending"):
            person = self.registration.visit["attending"]
            return self._person(person, "PV1-7")
        if not candidates:
            self.problems.append(
                Problem("FT1-20", "no performing or attending provider", ProblemKind.MISSING)
            )
            return None
        segment, number = candidates[0]
        return self._person(_xcn(self.m, segment, number), location(segment, number))

    def _person(self, person: Mapping[str, str], where: str) -> dict[str, Any] | None:
        self.where.add("/providers/rendering", where)
        identifier = person.get("id", "")
        by_npi = (
            person.get("id_type", "").upper() == "NPI"
            or person.get("authority", "").upper() in NPI_AUTHORITIES
        )
        npi = identifier if by_npi else None
        local = None if by_npi else local_id(person.get("authority") or None, identifier)
        try:
            found = self.registry.rendering_provider(npi=npi, local=local)
            body = {
                "npi": found.npi,
                "first_name": found.first_name,
                "last_name": found.last_name,
            }
            if found.taxonomy:
                body["taxonomy"] = found.taxonomy
            return body
        except Unresolved as exc:
            # An NPI with the person's name needs no registry entry; a local id does.
            if npi and is_valid_npi(npi) and person.get("family") and person.get("given"):
                return {"npi": npi, "first_name": person["given"], "last_name": person["family"]}
            self.problems.append(Problem(where, exc.reason, exc.kind))
            return None

    def _billing(self) -> dict[str, Any] | None:
        header = self.m.header
        self.where.add("/providers/billing", "MSH-4")
        facility = self.m.value(header, 4, 1)
        universal = self.m.value(header, 4, 2)
        try:
            provider = None
            for token in (local_id(universal or None, facility), local_id(None, facility)):
                try:
                    provider = self.registry.billing_provider(local=token)
                    break
                except Unresolved:
                    continue
            provider = provider or self.registry.default_billing_provider()
        except Unresolved as exc:
            self.problems.append(Problem("MSH-4", exc.reason, exc.kind))
            return None
        assert provider.address is not None
        return {
            "npi": provider.npi,
            "name": provider.name,
            "tax_id": provider.tax_id,
            "address": provider.address.as_contract(),
        }

    def _facility_npi(self) -> str | None:
        pv1 = self.m.first("PV1")
        facility = self.m.value(pv1, 3, 4)
        if not facility:
            return None
        found = self.registry.facility(local_id(None, facility))
        return found.npi if found is not None and is_valid_npi(found.npi) else None

    # --- visit -----------------------------------------------------------------------------

    def _visit(self, lines: list[dict[str, Any]]) -> dict[str, Any]:
        pv1 = self.m.first("PV1")
        self.where.add("/encounter_class", "PV1-2")
        self.where.add("/place_of_service", "PV1-3")
        self.where.add("/period_start", "PV1-44")
        self.where.add("/period_end", "PV1-45")
        patient_class = self.m.value(pv1, 2) or (
            self.registration.visit.get("patient_class", "") if self.registration else ""
        )
        mapped = encounter_class("hl7", patient_class or "O")
        if mapped is None:
            self.problems.append(
                Problem("PV1-2", "patient class is not one intake bills", ProblemKind.UNKNOWN)
            )
            mapped = ("ambulatory", "11")
        klass, class_place = mapped
        place = None
        facility = self.m.value(pv1, 3, 4)
        if facility:
            found = self.registry.facility(local_id(None, facility))
            place = found.place_of_service if found else None
        if place is None:
            default = self.registry.defaults.place_of_service
            place = class_place if klass != "ambulatory" else (default or class_place)
        dates = sorted(date.fromisoformat(d) for d in (line["service_date"] for line in lines) if d)
        start = _hl7_date(self.m.value(pv1, 44))
        end = _hl7_date(self.m.value(pv1, 45))
        if start is None and dates:
            self.where.add("/period_start", "FT1-4")
            start = dates[0]
        if end is None:
            self.where.add("/period_end", "FT1-4" if dates else "PV1-44")
            end = dates[-1] if dates else start
            if start and end and end < start:
                end = start
        return {
            "encounter_class": klass,
            "place_of_service": place,
            "period_start": start.isoformat() if start else None,
            "period_end": end.isoformat() if end else None,
        }

    # --- diagnoses and charges -------------------------------------------------------------

    def _diagnoses_and_lines(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        diagnoses: list[dict[str, Any]] = []
        by_code: dict[str, int] = {}

        def add(
            segment: Segment, number: int, repetition: int, text_field: int | None
        ) -> int | None:
            code = self.m.value(segment, number, 1, repetition)
            text = self.m.value(segment, number, 2, repetition) or (
                self.m.value(segment, text_field) if text_field else ""
            )
            system = code_system(self.m.value(segment, number, 3, repetition))
            if not code and not text:
                return None
            key = code.upper().replace(".", "") or text
            if key in by_code:
                return by_code[key]
            if len(diagnoses) == 12:
                self.problems.append(
                    Problem(location(segment, number), "more than 12 diagnoses on one claim")
                )
                return None
            sequence = len(diagnoses) + 1
            body: dict[str, Any] = {"sequence": sequence, "text": text or None, "codings": []}
            if code and system is not None:
                body["codings"] = [{"system": system.value, "code": code, "display": text or None}]
            if system is DocumentedCodeSystem.ICD_10_CM or (
                system is None and _looks_icd10cm(code)
            ):
                body["code"] = code
            self.where.add(f"/diagnoses/{sequence - 1}", location(segment, number))
            self.where.add(f"/diagnoses/{sequence - 1}/code", location(segment, number, 1))
            diagnoses.append(body)
            by_code[key] = sequence
            return sequence

        dg1s = self.m.all("DG1")

        def priority(segment: Segment) -> tuple[int, int]:
            value = self.m.value(segment, 15)
            return (int(value) if value.isdigit() and int(value) > 0 else 99, segment.occurrence)

        for dg1 in sorted(dg1s, key=priority):
            add(dg1, 3, 0, 4)
        lines: list[dict[str, Any]] = []
        current: dict[str, Any] | None = None
        for segment in self.m.segments:
            if segment.name == "FT1":
                current = self._charge(segment, lines, add)
            elif segment.name == "PR1":
                self._procedure(segment, current, lines)
        if not self.m.all("FT1"):
            self.problems.append(Problem("FT1", "no FT1 charge segment", ProblemKind.MISSING))
        elif not lines:
            self.problems.append(
                Problem("FT1-6", "no charge (CG) remains after credits", ProblemKind.MISSING)
            )
        for index, line in enumerate(lines, start=1):
            line["sequence"] = index
            line.pop("_charge")
        self.where.positions.update(
            {
                f"/procedures/{i}{k[len('/line') :]}": v
                for i, line in enumerate(lines)
                for k, v in line.pop("_where").items()
            }
        )
        return lines, diagnoses

    def _charge(
        self, ft1: Segment, lines: list[dict[str, Any]], add_diagnosis
    ) -> dict[str, Any] | None:
        kind = (self.m.value(ft1, 6) or CHARGE).upper()
        code, text, system, at = self._charge_code(ft1)
        quantity_raw = self.m.value(ft1, 10) or "1"
        service = _hl7_date(self.m.value(ft1, 4)) or _hl7_date(self.m.value(ft1, 5))
        if not self.m.value(ft1, 4) and not self.m.value(ft1, 5):
            self.problems.append(
                Problem(location(ft1, 4), "transaction date is missing", ProblemKind.MISSING)
            )
        elif service is None:
            self.problems.append(Problem(location(ft1, 4), "transaction date is not a date"))
        try:
            quantity = int(float(quantity_raw))
        except ValueError:
            self.problems.append(Problem(location(ft1, 10), "quantity is not a number"))
            return None
        if kind == CREDIT or quantity < 0:
            for index in range(len(lines) - 1, -1, -1):
                if lines[index]["_charge"] == code.upper():
                    del lines[index]
                    return None
            self.problems.append(
                Problem(
                    location(ft1, 6), "credit has no earlier charge of the same code in the message"
                )
            )
            return None
        if kind != CHARGE:
            return None
        pointers = []
        for r in range(self.m.repetitions(ft1, 19)):
            sequence = add_diagnosis(ft1, 19, r, None)
            if sequence is not None:
                pointers.append(sequence)
        modifiers = [
            self.m.value(ft1, 26, 1, r)
            for r in range(self.m.repetitions(ft1, 26))
            if self.m.value(ft1, 26, 1, r)
        ]
        line: dict[str, Any] = {
            "sequence": 0,
            "code_system": system if system in ("CPT", "HCPCS") else "CPT",
            "code": code if system in ("CPT", "HCPCS") else None,
            "text": text or None,
            "modifiers": modifiers,
            "units": quantity,
            "service_date": service.isoformat() if service else None,
            "diagnosis_sequences": list(dict.fromkeys(pointers))[:4],
            "codings": [],
            "_charge": code.upper(),
            "_where": {
                "/line": location(ft1),
                "/line/code": at,
                "/line/code_system": at,
                "/line/units": location(ft1, 10),
                "/line/service_date": location(ft1, 4),
                "/line/modifiers": location(ft1, 26),
                "/line/diagnosis_sequences": location(ft1, 19),
            },
        }
        documented = code_system(system) if system else None
        if code and documented is not None:
            line["codings"] = [{"system": documented.value, "code": code, "display": text or None}]
        if code and system and documented is None:
            line["text"] = text or None
        lines.append(line)
        return line

    def _charge_code(self, ft1: Segment) -> tuple[str, str, str | None, str]:
        """FT1-25 (procedure code) when sent, else FT1-7 (transaction code)."""
        for number in (25, 7):
            code = self.m.value(ft1, number, 1)
            if code:
                system_name = self.m.value(ft1, number, 3)
                system = code_system(system_name)
                text = (
                    self.m.value(ft1, number, 2) or self.m.value(ft1, 7, 2) or self.m.value(ft1, 8)
                )
                if system is None and not system_name and number == 25:
                    return code, text, _procedure_system(code.upper()), location(ft1, number)
                return code, text, system.value if system else None, location(ft1, number)
        self.problems.append(Problem(location(ft1, 7), "charge has no code", ProblemKind.MISSING))
        return "", "", None, location(ft1, 7)

    def _procedure(
        self, pr1: Segment, current: dict[str, Any] | None, lines: list[dict[str, Any]]
    ) -> None:
        """A PR1 after an FT1 documents that charge's procedure (its code, e.g. ICD-10-PCS)."""
        if current is None or current not in lines:
            return
        code = self.m.value(pr1, 3, 1)
        system = code_system(self.m.value(pr1, 3, 3))
        if not code or system is None:
            return
        display = self.m.value(pr1, 3, 2) or None
        for existing in current["codings"]:
            if (existing["system"], existing["code"]) == (system.value, code):
                existing["display"] = existing["display"] or display
                break
        else:
            current["codings"].append({"system": system.value, "code": code, "display": display})
        current["text"] = current["text"] or display
        if current["code"] is None and system.value in ("CPT", "HCPCS"):
            current["code_system"], current["code"] = system.value, code


# --- acknowledgments ------------------------------------------------------------------------


def new_control_id() -> str:
    return uuid.uuid4().hex[:20].upper()


def build_ack(
    *,
    message: Message | None,
    outcome: Hl7Outcome,
    now: datetime,
    control_id: str | None = None,
) -> str:
    """The ACK for a message: MSH answering the sender, MSA with AA/AE/AR and the original
    control id, and one ERR per problem (location ERR-2, table 0357 code ERR-3, severity E,
    reason ERR-8; ERR-1 too for v2.3/2.4 receivers). Segments end with CR."""
    s = Separators() if message is None else message.separators
    version = (
        message.version
        if message is not None and message.version in SUPPORTED_VERSIONS
        else ACK_VERSION
    )
    header = message.header if message is not None else None

    def hd(number: int) -> str:
        if message is None:
            return ""
        raw = header.raw(number)
        return "".join(ch for ch in raw if ch >= " ")[:227]

    trigger = message.message_type[1] if message is not None else ""
    msh = s.field.join(
        [
            "MSH",
            f"{s.component}{s.repetition}{s.escape}{s.subcomponent}",
            hd(5) or "CLAIMFLOW",
            hd(6) or "CLAIMFLOW",
            hd(3),
            hd(4),
            now.strftime("%Y%m%d%H%M%S"),
            "",
            f"ACK{s.component}{escape(trigger, s)[:3]}{s.component}ACK",
            escape(control_id or new_control_id(), s)[:20],
            (hd(11) or "P")[:3],
            version,
        ]
    )
    # MSA-2 is required; for a message too broken to name its control id there is none to
    # echo, and the sender matches the answer by connection order anyway.
    original = escape(message.control_id, s)[:20] if message is not None else ""
    original = original or "UNKNOWN"
    first_reason = escape(str(outcome.problems[0]), s)[:80] if outcome.problems else ""
    segments = [msh, s.field.join(["MSA", outcome.ack_code.value, original, first_reason])]
    old_style = version in ("2.3", "2.3.1", "2.4")
    for problem in outcome.problems:
        segments.append(_err(problem, s, old_style))
    return "\r".join(segments) + "\r"


def _err(problem: Problem, s: Separators, old_style: bool) -> str:
    name, occurrence, number, component = parse_location(problem.location)
    code, text = ERROR_CODES.get(problem.kind, ("207", "Application internal error"))
    if problem.kind is ProblemKind.UNSUPPORTED and name == "MSH" and number == 12:
        code, text = "203", "Unsupported version id"
    elif problem.kind is ProblemKind.UNSUPPORTED and name == "MSH" and number == 11:
        code, text = "202", "Unsupported processing id"
    erl = s.component.join(
        [name, str(occurrence) if name else "", str(number or ""), "", str(component or ""), ""]
    ).rstrip(s.component)
    reason = escape(problem.reason, s)
    cwe = s.component.join([code, text, "HL70357"])
    if old_style:
        eld = s.component.join(
            [
                name,
                str(occurrence) if name else "",
                str(number or ""),
                s.subcomponent.join([code, text, "HL70357"]),
            ]
        )
        return s.field.join(["ERR", eld])
    return s.field.join(["ERR", "", erl, cwe, "E", "", "", "", reason])


def transient_failure_ack(data: bytes | str, *, now: datetime) -> str:
    """AR for a message intake could not process this time (its database is down, say):
    nothing was published, so the sender may safely resend it (original-mode AR)."""
    parsed = parse_message(data)
    problem = Problem(
        "MSH", "temporarily unable to process the message; resend it", ProblemKind.INTERNAL
    )
    outcome = Hl7Outcome(AckCode.REJECT, problems=(problem,))
    return build_ack(message=parsed.message, outcome=outcome, now=now)


def answer(
    data: bytes | str,
    *,
    registry: TenantRegistry,
    source_system: str,
    today: date,
    now: datetime,
    registration: Registration | None = None,
) -> tuple[Hl7Outcome, str]:
    """Parse, read and acknowledge one message in one call (for callers that have looked up
    the registration already, or need none); never raises."""
    parsed = parse_message(data)
    if parsed.message is None:
        outcome = Hl7Outcome(AckCode.REJECT, problems=parsed.problems)
        return outcome, build_ack(message=None, outcome=outcome, now=now)
    try:
        outcome = read_message(
            parsed.message,
            registry=registry,
            source_system=source_system,
            today=today,
            registration=registration,
        )
    except Exception:  # the listener answers every message, whatever happens
        problem = Problem("MSH", "the message could not be processed", ProblemKind.INTERNAL)
        outcome = Hl7Outcome(AckCode.REJECT, problems=(problem,))
    return outcome, build_ack(message=parsed.message, outcome=outcome, now=now)
