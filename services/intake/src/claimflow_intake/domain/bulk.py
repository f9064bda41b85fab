"""Bulk encounter files, streamed in constant memory: NDJSON (one JSON encounter a line) and
CSV (one row per service line). Each record comes out with its position in the file, the
encounter or the problems, and the byte offset where the next record starts, so an
interrupted ingest resumes from its last committed offset without reading what it already
accepted (and de-duplication makes even a repeated record harmless).

The CSV layout (one row per service line, documented column by column in
`services/intake/BULK_FORMATS.md`) is `CSV_COLUMNS`: a header row is required, columns may
come in any order, and an unknown column is an error, so a misspelt one is never silently
empty. Rows of one document must be adjacent; the ingest job (which records each document
id it has seen in the file) rejects a document id that comes back later in the same file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

from claimflow_intake.domain.json_encounter import read_json_encounter
from claimflow_intake.domain.registry import TenantRegistry
from claimflow_intake.domain.validation import (
    Problem,
    ProblemKind,
    SourceMap,
    code_system,
    has_control_characters,
    state_code,
    subscriber_relationship,
)
from claimflow_shared.events import EncounterDocumented

MAX_LINE_BYTES = 1024 * 1024
MAX_ROWS_PER_DOCUMENT = 50
LIST_SEPARATOR = ";"

ENCOUNTER_COLUMNS = (
    "document_id",
    "source_system",
    "patient_mrn",
    "patient_first_name",
    "patient_last_name",
    "patient_birth_date",
    "patient_sex",
    "patient_address_line1",
    "patient_address_line2",
    "patient_city",
    "patient_state",
    "patient_postal_code",
    "payer_id",
    "payer_name",
    "member_id",
    "group_number",
    "subscriber_relationship",
    "secondary_payer_id",
    "secondary_payer_name",
    "secondary_member_id",
    "secondary_group_number",
    "secondary_subscriber_relationship",
    "billing_npi",
    "rendering_npi",
    "rendering_provider_id",
    "facility_npi",
    "encounter_class",
    "period_start",
    "period_end",
    "place_of_service",
    "diagnoses",
)
LINE_COLUMNS = (
    "line_code_system",
    "line_code",
    "line_description",
    "line_modifiers",
    "line_units",
    "line_service_date",
    "line_diagnosis_pointers",
)
CSV_COLUMNS = ENCOUNTER_COLUMNS + LINE_COLUMNS
REQUIRED_COLUMNS = frozenset({"document_id", "diagnoses"})


@dataclass(frozen=True)
class Checkpoint:
    """Where the next record starts: its byte offset, its ordinal and its line (or row)."""

    offset: int = 0
    ordinal: int = 1
    line: int = 1


@dataclass(frozen=True)
class BulkRecord:
    """One record of a bulk file. `ordinal` counts records from 1 across resumes;
    `checkpoint` is where the next record starts: store it in the same transaction as this
    record's outcome, and pass it back as `resume=` after a crash."""

    ordinal: int
    position: str
    document_id: str | None
    encounter: EncounterDocumented | None
    problems: tuple[Problem, ...]
    checkpoint: Checkpoint

    @property
    def ok(self) -> bool:
        return self.encounter is not None


class BulkFileError(ValueError):
    """The file as a whole cannot be read (no CSV header, unknown columns)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


# --- NDJSON -----------------------------------------------------------------------------------


def read_ndjson(
    stream: BinaryIO,
    *,
    registry: TenantRegistry,
    today: date,
    source_system: str | None = None,
    resume: Checkpoint | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[BulkRecord]:
    """One record per non-blank line, at `position` `line N`; problems are JSON pointers."""
    resume = resume or Checkpoint()
    if resume.offset:
        stream.seek(resume.offset)
    offset = resume.offset
    ordinal = resume.ordinal
    line_number = resume.line - 1
    while True:
        raw = stream.readline(max_line_bytes + 1)
        if not raw:
            return
        line_number += 1
        offset += len(raw)
        too_long = len(raw) > max_line_bytes and not raw.endswith(b"\n")
        if too_long:
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(max_line_bytes)
                offset += len(raw)
        if not too_long and not raw.strip():
            continue
        position = f"line {line_number}"
        checkpoint = Checkpoint(offset, ordinal + 1, line_number + 1)
        if too_long:
            problems = (Problem("/", f"line is longer than {max_line_bytes} bytes"),)
            yield BulkRecord(ordinal, position, None, None, problems, checkpoint)
        else:
            yield _json_record(raw, ordinal, position, checkpoint, registry, today, source_system)
        ordinal += 1


def _json_record(
    raw: bytes,
    ordinal: int,
    position: str,
    offset: Checkpoint,
    registry: TenantRegistry,
    today: date,
    source_system: str | None,
) -> BulkRecord:
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        problem = Problem("/", f"not valid JSON (column {exc.colno})")
        return BulkRecord(ordinal, position, None, None, (problem,), offset)
    except (UnicodeDecodeError, ValueError):
        return BulkRecord(ordinal, position, None, None, (Problem("/", "not UTF-8 JSON"),), offset)
    except RecursionError:
        problem = Problem("/", "JSON is nested too deeply")
        return BulkRecord(ordinal, position, None, None, (problem,), offset)
    document_id = _document_id(body)
    encounter, problems = read_json_encounter(
        body, registry=registry, today=today, source_system=source_system
    )
    return BulkRecord(ordinal, position, document_id, encounter, tuple(problems), offset)


def _document_id(body: Any) -> str | None:
    source = body.get("source") if isinstance(body, dict) else None
    value = source.get("document_id") if isinstance(source, dict) else None
    if isinstance(value, str) and value and not has_control_characters(value):
        return value[:128]
    return None


# --- CSV --------------------------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    values: dict[str, str]
    problems: list[Problem]


def read_csv(
    stream: BinaryIO,
    *,
    registry: TenantRegistry,
    today: date,
    source_system: str,
    resume: Checkpoint | None = None,
) -> Iterator[BulkRecord]:
    """One record per document (its adjacent rows). Problems name `row N, column C`, rows
    numbered as a spreadsheet shows them (the header is row 1). Raises `BulkFileError`
    only for a file without a usable header."""
    rows = _CsvRows(stream, resume=resume)
    ordinal = resume.ordinal if resume else 1
    group: list[_Row] = []
    overflow = 0
    for row, before in rows:
        document_id = row.values.get("document_id", "")
        if group and (document_id != group[0].values.get("document_id") or not document_id):
            checkpoint = Checkpoint(before, ordinal + 1, row.number)
            yield _csv_record(group, overflow, ordinal, checkpoint, registry, today, source_system)
            ordinal += 1
            group, overflow = [], 0
        if len(group) < MAX_ROWS_PER_DOCUMENT:
            group.append(row)
        else:
            overflow += 1
    if group:
        checkpoint = Checkpoint(rows.offset, ordinal + 1, rows.row_number)
        yield _csv_record(group, overflow, ordinal, checkpoint, registry, today, source_system)


class _CsvRows:
    """Rows with their physical row number and the byte offset before each one."""

    def __init__(self, stream: BinaryIO, *, resume: Checkpoint | None) -> None:
        self.stream = stream
        if resume is not None and resume.offset:
            stream.seek(0)
        header_bytes = stream.readline(MAX_LINE_BYTES)
        self.header = self._header(header_bytes)
        self.offset = len(header_bytes)
        self.row_number = 1
        if resume is not None and resume.offset:
            stream.seek(resume.offset)
            self.offset = resume.offset
            self.row_number = resume.line - 1

    def _header(self, raw: bytes) -> list[str]:
        text = raw.decode("utf-8-sig", errors="replace").strip()
        if not text:
            raise BulkFileError(
                [Problem("row 1", "the file has no header row", ProblemKind.MISSING)]
            )
        try:
            names = [n.strip().lower() for n in next(csv.reader([text]))]
        except (csv.Error, StopIteration):
            raise BulkFileError([Problem("row 1", "the header row is not CSV")]) from None
        unknown = [n for n in names if n not in CSV_COLUMNS]
        problems = [
            Problem(f"row 1, column {n[:40]}", "is not a known column", ProblemKind.UNKNOWN)
            for n in unknown
        ]
        missing = sorted(REQUIRED_COLUMNS - set(names))
        problems += [
            Problem(f"row 1, column {n}", "required column is missing", ProblemKind.MISSING)
            for n in missing
        ]
        if len(set(names)) != len(names):
            problems.append(Problem("row 1", "a column appears twice"))
        if problems:
            raise BulkFileError(problems)
        return names

    def _lines(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        while True:
            raw = self.stream.readline(MAX_LINE_BYTES)
            if not raw:
                return
            self.offset += len(raw)
            try:
                yield decoder.decode(raw)
            except UnicodeDecodeError:
                decoder.reset()
                yield "\x00invalid-utf8\n"

    def __iter__(self) -> Iterator[tuple[_Row, int]]:
        reader = csv.reader(self._lines(), strict=True)
        width = len(self.header)
        while True:
            before = self.offset
            self.row_number += 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error:
                problem = Problem(f"row {self.row_number}", "is not a well-formed CSV row")
                yield _Row(self.row_number, {}, [problem]), before
                continue
            if not fields or all(not f.strip() for f in fields):
                continue
            problems = []
            if any("\x00invalid-utf8" in f for f in fields):
                problems.append(Problem(f"row {self.row_number}", "is not UTF-8"))
            elif len(fields) != width:
                problems.append(
                    Problem(
                        f"row {self.row_number}", f"has {len(fields)} cells; the header has {width}"
                    )
                )
            values = {name: value.strip() for name, value in zip(self.header, fields, strict=False)}
            yield _Row(self.row_number, values, problems), before


def _csv_record(
    rows: list[_Row],
    overflow: int,
    ordinal: int,
    resume_offset: Checkpoint,
    registry: TenantRegistry,
    today: date,
    source_system: str,
) -> BulkRecord:
    first, last = rows[0].number, rows[-1].number + overflow
    position = f"row {first}" if first == last else f"rows {first}-{last}"
    document_id = rows[0].values.get("document_id") or None
    problems = [p for row in rows for p in row.problems]
    if overflow:
        problems.append(
            Problem(
                f"row {rows[0].number + MAX_ROWS_PER_DOCUMENT}",
                f"a document has at most {MAX_ROWS_PER_DOCUMENT} service lines",
            )
        )
    if problems:
        return BulkRecord(ordinal, position, document_id, None, tuple(problems), resume_offset)
    where = SourceMap(absolute=True)
    body, problems = _csv_body(rows, where, source_system)
    if document_id and has_control_characters(document_id):
        document_id = None
    if not problems:
        encounter, invalid = read_json_encounter(
            body, registry=registry, today=today, source_system=source_system
        )
        problems = [Problem(where.locate(p.location), p.reason, p.kind) for p in invalid]
        if encounter is not None:
            return BulkRecord(ordinal, position, document_id, encounter, (), resume_offset)
    return BulkRecord(ordinal, position, document_id, None, tuple(problems), resume_offset)


def _cell(row: _Row, column: str) -> str | None:
    value = row.values.get(column, "")
    return value or None


def _at(row: _Row, column: str) -> str:
    return f"row {row.number}, column {column}"


_ENCOUNTER_FIELDS = {
    "/source/document_id": "document_id",
    "/source/system": "source_system",
    "/patient/mrn": "patient_mrn",
    "/patient/first_name": "patient_first_name",
    "/patient/last_name": "patient_last_name",
    "/patient/birth_date": "patient_birth_date",
    "/patient/sex": "patient_sex",
    "/patient/address": "patient_address_line1",
    "/patient/address/line1": "patient_address_line1",
    "/patient/address/line2": "patient_address_line2",
    "/patient/address/city": "patient_city",
    "/patient/address/state": "patient_state",
    "/patient/address/postal_code": "patient_postal_code",
    "/coverages": "payer_id",
    "/coverages/0": "payer_id",
    "/coverages/0/payer": "payer_id",
    "/coverages/0/payer/name": "payer_name",
    "/coverages/0/member_id": "member_id",
    "/coverages/0/group_number": "group_number",
    "/coverages/0/relationship": "subscriber_relationship",
    "/coverages/1": "secondary_payer_id",
    "/coverages/1/payer/name": "secondary_payer_name",
    "/coverages/1/member_id": "secondary_member_id",
    "/coverages/1/group_number": "secondary_group_number",
    "/coverages/1/relationship": "secondary_subscriber_relationship",
    "/providers/billing": "billing_npi",
    "/providers/rendering": "rendering_npi",
    "/providers/facility_npi": "facility_npi",
    "/encounter_class": "encounter_class",
    "/period_start": "period_start",
    "/period_end": "period_end",
    "/place_of_service": "place_of_service",
    "/diagnoses": "diagnoses",
}
_LINE_FIELDS = {
    "": "line_code",
    "/code": "line_code",
    "/code_system": "line_code_system",
    "/text": "line_description",
    "/modifiers": "line_modifiers",
    "/units": "line_units",
    "/service_date": "line_service_date",
    "/diagnosis_sequences": "line_diagnosis_pointers",
}


def _csv_body(
    rows: list[_Row], where: SourceMap, source_system: str
) -> tuple[dict[str, Any], list[Problem]]:
    first = rows[0]
    problems: list[Problem] = []
    for column in ENCOUNTER_COLUMNS:
        for row in rows[1:]:
            if row.values.get(column, "") != first.values.get(column, ""):
                problems.append(
                    Problem(
                        _at(row, column), f"differs from row {first.number} of the same document"
                    )
                )
                break
    for pointer, column in _ENCOUNTER_FIELDS.items():
        where.add(pointer, _at(first, column))
    if _cell(first, "rendering_provider_id") and not _cell(first, "rendering_npi"):
        where.add("/providers/rendering", _at(first, "rendering_provider_id"))
    if not _cell(first, "payer_id"):
        where.add("/coverages/0/payer", _at(first, "payer_name"))
        where.add("/coverages/0", _at(first, "payer_name"))
    state = _cell(first, "patient_state")
    address = {
        "line1": _cell(first, "patient_address_line1"),
        "line2": _cell(first, "patient_address_line2"),
        "city": _cell(first, "patient_city"),
        "state": (state_code(state) or state) if state else None,
        "postal_code": (_cell(first, "patient_postal_code") or "").replace("-", "") or None,
    }
    body: dict[str, Any] = {
        "source": {
            "system": _cell(first, "source_system") or source_system,
            "document_id": _cell(first, "document_id"),
        },
        "patient": {
            "mrn": _cell(first, "patient_mrn"),
            "first_name": _cell(first, "patient_first_name"),
            "last_name": _cell(first, "patient_last_name"),
            "birth_date": _cell(first, "patient_birth_date"),
            "sex": _sex(_cell(first, "patient_sex")),
            "address": address,
        },
        "coverages": [c for c in (_coverage(first, ""), _coverage(first, "secondary_")) if c],
        "providers": {
            "billing": {"npi": _cell(first, "billing_npi")}
            if _cell(first, "billing_npi")
            else None,
            "rendering": {
                "npi": _cell(first, "rendering_npi"),
                "local_id": _cell(first, "rendering_provider_id"),
            },
            "facility_npi": _cell(first, "facility_npi"),
        },
        "encounter_class": (_cell(first, "encounter_class") or "ambulatory").lower(),
        "period_start": _cell(first, "period_start"),
        "period_end": _cell(first, "period_end") or _cell(first, "period_start"),
        "place_of_service": _cell(first, "place_of_service"),
        "diagnoses": _diagnoses(first, problems),
        "procedures": [_line(row, i, where, first, problems) for i, row in enumerate(rows)],
    }
    if body["coverages"] and len(body["coverages"]) > 1:
        body["coverages"][1]["priority"] = "secondary"
    return body, problems


def _sex(value: str | None) -> str | None:
    if value is None:
        return None
    return {"male": "M", "female": "F", "unknown": "U"}.get(value.lower(), value.upper())


def _coverage(row: _Row, prefix: str) -> dict[str, Any] | None:
    payer_id, payer_name = _cell(row, f"{prefix}payer_id"), _cell(row, f"{prefix}payer_name")
    if not (payer_id or payer_name):
        return None
    relationship = _cell(row, f"{prefix}subscriber_relationship")
    coverage: dict[str, Any] = {
        "payer": {"payer_id": payer_id, "name": payer_name},
        "member_id": _cell(row, f"{prefix}member_id"),
        "group_number": _cell(row, f"{prefix}group_number"),
    }
    if relationship:
        coverage["relationship"] = (
            subscriber_relationship("x12", relationship)
            or subscriber_relationship("fhir", relationship)
            or relationship
        )
    return coverage


def _diagnoses(row: _Row, problems: list[Problem]) -> list[dict[str, Any]]:
    out = []
    for index, entry in enumerate(_split(_cell(row, "diagnoses")), start=1):
        system_name, colon, code = entry.rpartition(":")
        system = code_system(system_name) if colon else code_system("ICD-10-CM")
        if system is None:
            problems.append(
                Problem(
                    _at(row, "diagnoses"),
                    f"entry {index} names an unknown code system",
                    ProblemKind.UNKNOWN,
                )
            )
            continue
        diagnosis: dict[str, Any] = {
            "sequence": index,
            "codings": [{"system": system.value, "code": code}],
        }
        if system.value == "ICD-10-CM":
            diagnosis["code"] = code
        out.append(diagnosis)
    return out


def _line(
    row: _Row, index: int, where: SourceMap, first: _Row, problems: list[Problem]
) -> dict[str, Any]:
    for suffix, column in _LINE_FIELDS.items():
        where.add(f"/procedures/{index}{suffix}", _at(row, column))
    system_name = _cell(row, "line_code_system") or "CPT"
    system = code_system(system_name)
    code = _cell(row, "line_code")
    line: dict[str, Any] = {
        "sequence": index + 1,
        "code_system": "CPT",
        "text": _cell(row, "line_description"),
        "modifiers": _split(_cell(row, "line_modifiers")),
        "service_date": _cell(row, "line_service_date") or _cell(first, "period_start"),
    }
    if system is None:
        problems.append(
            Problem(_at(row, "line_code_system"), "is not a known code system", ProblemKind.UNKNOWN)
        )
    elif system.value in ("CPT", "HCPCS"):
        line["code_system"], line["code"] = system.value, code
    if system is not None and code:
        line["codings"] = [{"system": system.value, "code": code}]
    if not code and not line["text"]:
        problems.append(
            Problem(
                _at(row, "line_code"), "a line needs a code or a description", ProblemKind.MISSING
            )
        )
    units = _cell(row, "line_units")
    if units is not None:
        line["units"] = int(units) if units.isdigit() else units
    pointers = _split(_cell(row, "line_diagnosis_pointers"))
    if pointers:
        line["diagnosis_sequences"] = [int(p) if p.isdigit() else p for p in pointers]
    return line


def _split(value: str | None) -> list[str]:
    if not value:
        return []
    return [part.strip() for part in value.split(LIST_SEPARATOR) if part.strip()]


def csv_header() -> str:
    """The documented header row, for templates and tests."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(CSV_COLUMNS)
    return buffer.getvalue()
