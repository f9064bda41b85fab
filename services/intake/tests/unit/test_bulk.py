"""Bulk NDJSON and CSV: a result per record, errors by line/row and field, the rest of the file
goes on, constant memory, and a resume from any checkpoint reads exactly what is left."""

from __future__ import annotations

import io
import json
import tracemalloc

import pytest

from claimflow_intake.domain.bulk import (
    CSV_COLUMNS,
    BulkFileError,
    read_csv,
    read_ndjson,
)
from claimflow_intake.domain.json_encounter import read_json_encounter
from services.intake.tests.unit.builders import (
    BILLING_NPI,
    CSV_ROW,
    RENDERING_NPI,
    TODAY,
    csv_text,
    json_encounter,
)


def _ndjson(lines: list[object]) -> io.BytesIO:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    return io.BytesIO(text.encode() + b"\n")


def _csv(rows: list[dict[str, str]], columns: list[str] | None = None) -> io.BytesIO:
    return io.BytesIO(csv_text(rows, columns).encode())


def _ndjson_records(stream, registry, **kwargs):
    return list(read_ndjson(stream, registry=registry, today=TODAY, **kwargs))


def _csv_records(stream, registry, **kwargs):
    return list(read_csv(stream, registry=registry, today=TODAY, source_system="upload", **kwargs))


def test_a_json_encounter_is_completed_from_the_registry(registry):
    encounter, problems = read_json_encounter(json_encounter(), registry=registry, today=TODAY)
    assert problems == []
    assert encounter.coverages[0].payer.payer_id == "BCBS"
    assert encounter.providers.billing.npi == BILLING_NPI
    assert encounter.providers.rendering.npi == RENDERING_NPI


def test_a_json_encounter_with_an_unknown_payer_names_the_field(registry):
    body = json_encounter(coverages=[{"payer": {"payer_id": "NOPE"}, "member_id": "X1"}])
    encounter, problems = read_json_encounter(body, registry=registry, today=TODAY)
    assert encounter is None
    assert [(p.location, p.reason) for p in problems] == [
        ("/coverages/0/payer/payer_id", "payer id is not known to the tenant")
    ]


def test_ndjson_gives_a_result_per_line_and_goes_on_after_a_bad_one(registry):
    bad = json_encounter(2)
    bad["patient"]["birth_date"] = "2031-01-01"
    stream = _ndjson([json_encounter(1), bad, "{oops", "", json_encounter(4)])
    records = _ndjson_records(stream, registry)
    assert [(r.ordinal, r.position, r.ok) for r in records] == [
        (1, "line 1", True),
        (2, "line 2", False),
        (3, "line 3", False),
        (4, "line 5", True),
    ]
    assert [(p.location, p.reason) for p in records[1].problems] == [
        ("/patient/birth_date", "birth date is in the future")
    ]
    assert records[1].document_id == "DOC-2"
    assert "2031" not in str(records[1].problems)
    assert records[2].problems[0].reason.startswith("not valid JSON")


def test_an_overlong_ndjson_line_is_rejected_and_the_next_line_read(registry):
    huge = json.dumps(json_encounter(1, note="x" * 5000))
    stream = _ndjson([huge, json_encounter(2)])
    records = _ndjson_records(stream, registry, max_line_bytes=1000)
    assert [r.ok for r in records] == [False, True]
    assert "longer than 1000 bytes" in records[0].problems[0].reason


def test_ndjson_resumes_from_any_checkpoint_exactly_where_it_left_off(registry):
    lines = [json_encounter(n) for n in range(1, 8)]
    lines.insert(3, "")
    data = _ndjson(lines).getvalue()
    full = _ndjson_records(io.BytesIO(data), registry)
    for cut in range(len(full)):
        resumed = _ndjson_records(io.BytesIO(data), registry, resume=full[cut].checkpoint)
        assert [(r.ordinal, r.position, r.document_id) for r in resumed] == [
            (r.ordinal, r.position, r.document_id) for r in full[cut + 1 :]
        ]


def test_csv_rows_of_one_document_become_one_encounter_with_its_lines(registry):
    rows = [
        CSV_ROW,
        CSV_ROW | {"line_code": "36415", "line_modifiers": "", "line_diagnosis_pointers": "1"},
        CSV_ROW
        | {
            "document_id": "DOC-2",
            "line_code": "J3301",
            "line_code_system": "HCPCS",
            "line_units": "4",
            "line_modifiers": "",
        },
    ]
    records = _csv_records(_csv(rows), registry)
    assert [(r.position, r.document_id, r.ok) for r in records] == [
        ("rows 2-3", "DOC-1", True),
        ("row 4", "DOC-2", True),
    ]
    first = records[0].encounter
    assert [(p.code, p.modifiers, p.diagnosis_sequences) for p in first.procedures] == [
        ("99213", ["25"], [1, 2]),
        ("36415", [], [1]),
    ]
    assert first.patient.address.state == "NC" and first.patient.address.postal_code == "276011234"
    assert [d.codings[0].system.value for d in first.diagnoses] == ["ICD-10-CM", "SNOMED-CT"]
    assert first.coverages[0].payer.payer_id == "BCBS"
    hcpcs = records[1].encounter.procedures[0]
    assert (hcpcs.code_system.value, hcpcs.code, hcpcs.units) == ("HCPCS", "J3301", 4)


def test_a_csv_error_names_its_row_and_column_and_the_file_goes_on(registry):
    rows = [
        CSV_ROW,
        CSV_ROW | {"document_id": "DOC-2", "patient_sex": "robot"},
        CSV_ROW | {"document_id": "DOC-3", "line_units": "two"},
        CSV_ROW | {"document_id": "DOC-4"},
    ]
    records = _csv_records(_csv(rows), registry)
    assert [r.ok for r in records] == [True, False, False, True]
    assert records[1].problems[0].location == "row 3, column patient_sex"
    assert "robot" not in str(records[1].problems)
    assert records[2].problems[0].location == "row 4, column line_units"


def test_csv_encounter_columns_must_agree_across_a_documents_rows(registry):
    rows = [CSV_ROW, CSV_ROW | {"patient_birth_date": "1980-03-01"}]
    [record] = _csv_records(_csv(rows), registry)
    assert not record.ok
    assert record.problems[0].location == "row 3, column patient_birth_date"
    assert "differs from row 2" in record.problems[0].reason


def test_a_csv_header_with_an_unknown_column_stops_the_file(registry):
    with pytest.raises(BulkFileError) as raised:
        _csv_records(_csv([CSV_ROW | {"patient_dob": "x"}]), registry)
    assert raised.value.problems[0].location == "row 1, column patient_dob"


def test_a_document_with_too_many_lines_is_rejected_whole(registry):
    rows = [CSV_ROW] * 51 + [CSV_ROW | {"document_id": "DOC-2"}]
    records = _csv_records(_csv(rows), registry)
    assert [(r.position, r.ok) for r in records] == [("rows 2-52", False), ("row 53", True)]


def test_quoted_newlines_and_invalid_utf8_are_rejected_rows_not_crashes(registry):
    text = csv_text(
        [CSV_ROW | {"line_description": "two\nlines"}, CSV_ROW | {"document_id": "DOC-2"}]
    )
    data = text.encode() + b"DOC-3,\xff\xfe" + b"," * (len(CSV_ROW) - 1) + b"\n"
    records = _csv_records(io.BytesIO(data), registry)
    assert [r.ok for r in records] == [False, True, False]
    assert [(p.location, p.reason) for p in records[0].problems] == [
        ("row 2, column line_description", "contains a control character")
    ]
    assert records[1].position == "row 3"
    assert records[2].problems[0].reason == "is not UTF-8"


def test_csv_resumes_from_any_checkpoint_exactly_where_it_left_off(registry):
    rows = []
    for n in range(1, 7):
        rows += [CSV_ROW | {"document_id": f"DOC-{n}"}] * (n % 3 + 1)
    data = _csv(rows).getvalue()
    full = _csv_records(io.BytesIO(data), registry)
    assert len(full) == 6
    for cut in range(len(full)):
        resumed = _csv_records(io.BytesIO(data), registry, resume=full[cut].checkpoint)
        assert [(r.ordinal, r.position, r.document_id, r.ok) for r in resumed] == [
            (r.ordinal, r.position, r.document_id, r.ok) for r in full[cut + 1 :]
        ]


def test_the_documented_columns_are_the_ones_read():
    assert len(CSV_COLUMNS) == len(set(CSV_COLUMNS))
    assert {"document_id", "diagnoses", "line_code", "payer_name"} <= set(CSV_COLUMNS)


@pytest.mark.parametrize("kind", ["ndjson", "csv"])
def test_reading_a_large_file_keeps_memory_flat(kind, registry):
    count = 3000
    if kind == "ndjson":
        data = _ndjson([json_encounter(n) for n in range(count)]).getvalue()
        reader = lambda s: read_ndjson(s, registry=registry, today=TODAY)  # noqa: E731
    else:
        data = _csv([CSV_ROW | {"document_id": f"D{n}"} for n in range(count)]).getvalue()
        reader = lambda s: read_csv(s, registry=registry, today=TODAY, source_system="u")  # noqa: E731
    tracemalloc.start()
    seen = 0
    for record in reader(io.BytesIO(data)):
        seen += record.ok
        if seen == 100:
            tracemalloc.reset_peak()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seen == count
    assert peak < 2_000_000
