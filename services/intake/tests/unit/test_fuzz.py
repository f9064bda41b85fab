"""Property and fuzz tests of every intake reader: whatever arrives, the reader answers with its
documented result type (never an exception), rejections carry positions and reasons but never
the values sent, and an accepted record is a valid contract.

Each test runs `INTAKE_FUZZ_EXAMPLES` generated inputs (10,000 by default, well under a
minute each on one core); set it higher for a long soak, e.g. `INTAKE_FUZZ_EXAMPLES=200000`.
Inputs are structure-aware mutations of valid seeds (a Synthea encounter, an EHR bundle, a
DFT^P03, NDJSON and CSV records) mixed with arbitrary bytes.
"""

from __future__ import annotations

import copy
import io
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow_intake.domain.bulk import BulkFileError, read_csv, read_ndjson
from claimflow_intake.domain.fhir import BundleResult, Outcome, read_bundle
from claimflow_intake.domain.hl7 import AckCode, answer, build_ack, parse_message, read_message
from claimflow_intake.domain.mllp import Frame, MllpDecoder, Oversized, encode_frame
from services.intake.tests.unit.builders import (
    CONDITION,
    COVERAGE,
    CSV_ROW,
    ENCOUNTER,
    PATIENT,
    PROCEDURE,
    TODAY,
    bundle,
    csv_text,
    hl7_message,
    hl7_segments,
    json_encounter,
    read_synthea,
    synthea_file,
    synthea_patient_files,
    tenant_registry,
)

pytestmark = pytest.mark.fuzz
EXAMPLES = int(os.environ.get("INTAKE_FUZZ_EXAMPLES", "10000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
# A value no reason may ever contain: readers must name fields, not repeat what was sent.
CANARY = "Qzxv7Canary"
REGISTRY = tenant_registry()
NOW = __import__("datetime").datetime(2026, 10, 1, 12, 0, 0)

INTERESTING = [
    "",
    " ",
    CANARY,
    f"{CANARY}\x00",
    f"\u202e{CANARY}",
    "2026-10-01",
    "2026-10-01T09:00:00-05:00",
    "2099-01-01",
    "1800-01-01",
    "2026-13-45",
    "urn:uuid:p1",
    "urn:uuid:enc1",
    "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1000000020",
    "Practitioner?identifier=",
    "Organization?identifier=urn:acme:org|ACME",
    "#coverage",
    "#",
    "http://snomed.info/sct",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://www.ama-assn.org/go/cpt",
    "E11.9",
    "99213",
    "finished",
    "in-progress",
    "AMB",
    "EMER",
    "IMP",
    "NO_INSURANCE",
    "Medicare",
    "pharmacy",
    "1234567893",
    "1234567890",
    "00000",
    "Massachusetts",
    "female",
    "Encounter",
    "Patient",
    "Claim",
]


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**6), max_value=10**12),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(INTERESTING),
    )


JSON_VALUES = st.recursive(
    _scalars(),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "reference", "code", "value", "resourceType", "x"])
            | st.text(max_size=6),
            children,
            max_size=3,
        )
    ),
    max_leaves=8,
)


def _paths(node: Any, here: tuple = ()) -> list[tuple]:
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*here, index))
    return found


def _mutate(seed: Any, data: st.DataObject, max_mutations: int = 4) -> Any:
    """A copy of the seed with a few values replaced, deleted or duplicated."""
    doc = copy.deepcopy(seed)
    paths = _paths(doc)
    for _ in range(data.draw(st.integers(min_value=1, max_value=max_mutations))):
        path = paths[data.draw(st.integers(min_value=0, max_value=len(paths) - 1))]
        if not path:
            continue
        parent = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            if not isinstance(parent, dict | list):
                continue
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this place
        last = path[-1]
        action = data.draw(st.sampled_from(["replace", "delete", "duplicate", "interesting"]))
        if action == "delete":
            del parent[last]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        elif action == "interesting":
            parent[last] = data.draw(st.sampled_from(INTERESTING))
        else:
            parent[last] = data.draw(JSON_VALUES)
    return doc


def _no_values_echoed(problems) -> None:
    for problem in problems:
        assert CANARY not in problem.reason, problem


# --- FHIR ----------------------------------------------------------------------------------------


def _synthea_seed() -> dict[str, Any]:
    """One Synthea encounter with everything that refers to it, kept small for speed."""
    raw = json.loads(read_synthea(synthea_patient_files()[0]))
    entries = raw["entry"]
    patient = next(e for e in entries if e["resource"]["resourceType"] == "Patient")
    encounter = next(e for e in entries if e["resource"]["resourceType"] == "Encounter")
    url = encounter["fullUrl"]
    related = [e for e in entries if url in json.dumps(e["resource"]) and e is not encounter]
    kinds = ("Claim", "Condition", "Procedure", "Immunization")
    kept = [e for e in related if e["resource"]["resourceType"] in kinds][:5]
    return {**raw, "entry": [patient, encounter, *kept]}


SEEDS = [
    bundle(PATIENT, ENCOUNTER, CONDITION, PROCEDURE, COVERAGE),
    _synthea_seed(),
]
SYNTHEA_REGISTRY = REGISTRY.merged(
    read_bundle(
        synthea_file("practitionerInformation"), registry=REGISTRY, source_system="s", today=TODAY
    ).directory
).merged(
    read_bundle(
        synthea_file("hospitalInformation"), registry=REGISTRY, source_system="s", today=TODAY
    ).directory
)


def _check_bundle_result(result: BundleResult, document: Any) -> None:
    assert isinstance(result, BundleResult)
    _no_values_echoed(result.problems)
    _no_values_echoed(result.skipped_entries)
    for outcome in result.encounters:
        _no_values_echoed(outcome.problems)
        if outcome.outcome is Outcome.MAPPED:
            assert outcome.encounter is not None and not outcome.problems
        else:
            assert outcome.encounter is None and outcome.problems
            assert all(p.location.startswith("/") for p in outcome.problems)
    if result.problems:
        assert result.encounters == ()


@FUZZ
@given(data=st.data())
def test_fhir_reader_survives_any_bundle(data):
    choice = data.draw(st.integers(min_value=0, max_value=9))
    if choice == 0:
        document: Any = data.draw(st.binary(max_size=200))
    elif choice == 1:
        document = json.dumps(data.draw(JSON_VALUES))
    else:
        document = _mutate(SEEDS[choice % 2], data)
    result = read_bundle(document, registry=SYNTHEA_REGISTRY, source_system="fuzz", today=TODAY)
    _check_bundle_result(result, document)


# --- HL7 v2 and MLLP -----------------------------------------------------------------------------

HL7_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "^",
            "~",
            "\\",
            "&",
            "|",
            "\\F\\",
            "\\X4\\",
            "\\Xzz\\",
            "\\",
            "\r",
            "\n",
            "\x00",
            CANARY,
            "20261001",
            "20991231",
            "99213^x^C4",
            "E11.9^^I10",
            "CG",
            "CD",
            "1",
            "-3",
            "1e9",
            "x" * 300,
        ]
    ),
)
SEGMENT_NAMES = ["MSH", "EVN", "PID", "PV1", "IN1", "GT1", "DG1", "FT1", "PR1", "ZZZ", "pid", "P1"]


def _hl7_mutation(data: st.DataObject) -> str:
    segments = hl7_segments(
        data.draw(
            st.sampled_from(["DFT^P03^DFT_P03", "ADT^A04^ADT_A01", "ADT^A08^ADT_A01", "ORU^R01"])
        )
    )
    for _ in range(data.draw(st.integers(min_value=0, max_value=5))):
        name = data.draw(st.sampled_from(list(segments)))
        number = data.draw(st.integers(min_value=1, max_value=50))
        segments[name] = {**(segments[name] or {}), number: data.draw(HL7_TEXT)}
        if name == "MSH" and number < 3:
            segments[name].pop(number)
    extra = [
        data.draw(st.sampled_from(SEGMENT_NAMES))
        + "|"
        + "|".join(data.draw(st.lists(HL7_TEXT, max_size=8)))
        for _ in range(data.draw(st.integers(min_value=0, max_value=3)))
    ]
    text = hl7_message(segments, *extra)
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:cut]
    return text


@FUZZ
@given(data=st.data())
def test_hl7_reader_answers_any_message_with_a_valid_ack(data):
    if data.draw(st.integers(min_value=0, max_value=4)) == 0:
        raw: bytes | str = data.draw(st.binary(max_size=300))
    else:
        raw = _hl7_mutation(data)
    parsed = parse_message(raw)
    if parsed.message is not None:
        outcome = read_message(parsed.message, registry=REGISTRY, source_system="fuzz", today=TODAY)
        ack = build_ack(message=parsed.message, outcome=outcome, now=NOW)
        assert (outcome.ack_code is AckCode.ACCEPT) == (
            outcome.encounter is not None or outcome.registration is not None
        )
    else:
        outcome, ack = answer(raw, registry=REGISTRY, source_system="fuzz", today=TODAY, now=NOW)
        assert outcome.ack_code is AckCode.REJECT
    _no_values_echoed(outcome.problems)
    reply = parse_message(ack).message
    assert reply is not None and reply.first("MSA") is not None
    assert reply.value(reply.first("MSA"), 1) in ("AA", "AE", "AR")
    assert len(reply.all("ERR")) == len(outcome.problems)
    # MSA-2 must echo the control id; nothing else may repeat what was sent.
    msa = reply.first("MSA")
    assert CANARY not in msa.raw(3)
    assert all(CANARY not in err.raw(8) for err in reply.all("ERR"))


@FUZZ
@given(
    chunks=st.lists(
        st.one_of(
            st.binary(max_size=64),
            st.sampled_from([b"\x0b", b"\x1c", b"\r", b"\x1c\r", encode_frame(b"MSH|^~\\&|A")]),
        ),
        max_size=12,
    ),
    max_size=st.integers(min_value=1, max_value=64),
)
def test_mllp_decoder_survives_any_byte_stream(chunks, max_size):
    decoder = MllpDecoder(max_size=max_size)
    for chunk in chunks:
        for item in decoder.feed(chunk):
            assert isinstance(item, Frame | Oversized)
            if isinstance(item, Frame):
                assert len(item.payload) <= max_size
                assert b"\x0b" not in item.payload and b"\x1c" not in item.payload
        assert len(decoder._buffer) <= max_size


# --- bulk ----------------------------------------------------------------------------------------

NDJSON_SEED = json_encounter(1)


@FUZZ
@given(data=st.data())
def test_ndjson_reader_yields_one_result_per_line_whatever_the_lines(data):
    lines: list[bytes] = []
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        kind = data.draw(st.integers(min_value=0, max_value=5))
        if kind == 0:
            lines.append(data.draw(st.binary(max_size=80)).replace(b"\n", b" "))
        elif kind == 1:
            lines.append(json.dumps(data.draw(JSON_VALUES)).encode())
        else:
            lines.append(json.dumps(_mutate(NDJSON_SEED, data)).encode())
    stream = io.BytesIO(b"\n".join(lines) + b"\n")
    records = list(read_ndjson(stream, registry=REGISTRY, today=TODAY, max_line_bytes=4096))
    assert len(records) == sum(1 for line in lines if line.strip())
    assert [r.ordinal for r in records] == list(range(1, len(records) + 1))
    offsets = [r.checkpoint.offset for r in records]
    assert offsets == sorted(offsets)
    for record in records:
        assert record.ok != bool(record.problems)
        _no_values_echoed(record.problems)


CSV_CELLS = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        [
            "",
            '"',
            '""',
            "a,b",
            "x\ny",
            "\x00",
            CANARY,
            "2099-01-01",
            "not-a-date",
            "1;2;99",
            "SNOMED-CT:1",
            "FOO:1",
            "-1",
            "1.5",
            "HCPCS",
            "XYZ",
        ]
    ),
)


@FUZZ
@given(data=st.data())
def test_csv_reader_yields_results_or_a_header_error_whatever_the_rows(data):
    if data.draw(st.integers(min_value=0, max_value=9)) == 0:
        raw = data.draw(st.binary(max_size=300))
    else:
        rows = []
        for _n in range(data.draw(st.integers(min_value=1, max_value=4))):
            row = dict(CSV_ROW, document_id=f"D{data.draw(st.integers(min_value=0, max_value=2))}")
            for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
                row[data.draw(st.sampled_from(sorted(CSV_ROW)))] = data.draw(CSV_CELLS)
            rows.append(row)
        raw = csv_text(rows).encode()
        if data.draw(st.booleans()):
            cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
            raw = raw[:cut] + data.draw(st.binary(max_size=8))
    try:
        records = list(
            read_csv(io.BytesIO(raw), registry=REGISTRY, today=TODAY, source_system="fuzz")
        )
    except BulkFileError as exc:
        assert exc.problems and all(p.location.startswith("row 1") for p in exc.problems)
        return
    assert [r.ordinal for r in records] == list(range(1, len(records) + 1))
    for record in records:
        assert record.ok != bool(record.problems)
        _no_values_echoed(record.problems)
        assert all(p.location.startswith("row") for p in record.problems)
