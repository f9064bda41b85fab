"""Fuzzing intake as a service, over a real (SQLite) database: whatever arrives at the FHIR,
HL7, JSON and bulk endpoints is answered without a 500, and whatever arrives on the MLLP
listener gets an answer per frame while the listener lives on.

The readers themselves are fuzzed in `unit/test_fuzz.py` (10,000 inputs each); here the same
kinds of inputs go through the routes, the repositories and the job runner: the MLLP
listener and each bulk file take `INTAKE_FUZZ_EXAMPLES` inputs (10,000 by default), each
HTTP endpoint `INTAKE_SERVICE_FUZZ_EXAMPLES` requests (2,000 by default, about 15 ms each on
a busy 2-core machine; `INTAKE_SERVICE_FUZZ_EXAMPLES=10000` for the full count)."""

from __future__ import annotations

import asyncio
import copy
import io
import json
import os
import random
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow_intake.entrypoints.mllp import MllpListener
from services.intake.tests.integration.conftest import Intake, intake_settings
from services.intake.tests.integration.master_data import set_up_tenant
from services.intake.tests.unit.builders import (
    CSV_ROW,
    csv_text,
    hl7_message,
    hl7_segments,
    json_encounter,
)
from services.intake.tests.unit.test_fuzz import (
    CANARY,
    INTERESTING,
    JSON_VALUES,
    SEEDS,
    _hl7_mutation,
    _mutate,
)
from tests.intake_support import mllp_exchange

pytestmark = pytest.mark.fuzz
EXAMPLES = int(os.environ.get("INTAKE_FUZZ_EXAMPLES", "10000"))
REQUESTS = int(os.environ.get("INTAKE_SERVICE_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(
    max_examples=REQUESTS,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
ACME = {"X-Tenant-ID": "acme"}


class Service:
    """One intake app for a whole fuzz test (hypothesis runs its examples in one test)."""

    def __init__(self, folder) -> None:
        from fastapi import FastAPI

        from claimflow_intake.bulk_jobs import BulkIngest
        from claimflow_intake.entrypoints import admin, http
        from claimflow_intake.unit_of_work import SqlIntakeUnitOfWork
        from claimflow_shared.runtime.service import Runtime
        from claimflow_shared.runtime.tenancy import Access

        self.loop = asyncio.new_event_loop()
        self.settings = intake_settings(folder)
        self.runtime = Runtime(self.settings, version="fuzz")
        self.run(self.runtime.db.create_tables())
        uows = self.runtime.units_of_work(SqlIntakeUnitOfWork)
        bulk = BulkIngest(uows=uows, settings=self.settings)
        app = FastAPI()
        app.state.access = Access(dev=True)
        app.include_router(http.router(uows, settings=self.settings, bulk=bulk))
        app.include_router(admin.router(uows))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://intake")
        self.intake = Intake(self.client, uows, bulk, self.settings)
        self.run(set_up_tenant(self.client, "acme", hl7_facilities=["ACMEHOSP"]))

    def run(self, work):
        return self.loop.run_until_complete(work)

    def post(self, path: str, body: bytes, **headers: str) -> httpx.Response:
        return self.run(self.client.post(path, content=body, headers={**ACME, **headers}))

    def close(self) -> None:
        self.run(self.client.aclose())
        self.run(self.runtime.db.dispose())
        self.loop.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("intake-fuzz"))
    yield running
    running.close()


@FUZZ
@given(data=st.data())
def test_the_fhir_endpoint_answers_any_body_without_a_500(service, data):
    choice = data.draw(st.integers(min_value=0, max_value=9))
    if choice == 0:
        body = data.draw(st.binary(max_size=200))
    elif choice == 1:
        body = json.dumps(data.draw(JSON_VALUES)).encode()
    else:
        body = json.dumps(_mutate(SEEDS[choice % 2], data)).encode()
    response = service.post("/v1/fhir", body, **{"Content-Type": "application/fhir+json"})
    assert response.status_code in (200, 422), response.text[:500]
    if response.status_code == 422:
        assert CANARY not in response.text
    else:
        for result in response.json()["results"]:
            assert all(CANARY not in p["reason"] for p in result["problems"])


@FUZZ
@given(data=st.data())
def test_the_hl7_endpoint_acks_any_message_without_a_500(service, data):
    if data.draw(st.integers(min_value=0, max_value=4)) == 0:
        body = data.draw(st.binary(max_size=300))
    else:
        body = _hl7_mutation(data).encode("utf-8", errors="surrogateescape")
    response = service.post("/v1/hl7", body)
    assert response.status_code == 200, response.text[:500]
    msa = next(s for s in response.text.split("\r") if s.startswith("MSA|"))
    assert msa.split("|")[1] in ("AA", "AE", "AR")


@FUZZ
@given(data=st.data())
def test_the_json_endpoint_answers_any_body_without_a_500(service, data):
    choice = data.draw(st.integers(min_value=0, max_value=5))
    if choice == 0:
        body = data.draw(st.binary(max_size=200))
    elif choice == 1:
        body = json.dumps(data.draw(JSON_VALUES)).encode()
    else:
        body = json.dumps(_mutate(json_encounter(data.draw(st.integers(0, 50))), data)).encode()
    path = data.draw(st.sampled_from(["/v1/encounters", "/v1/encounters/batch"]))
    if path.endswith("batch") and choice > 1:
        body = b'{"encounters": [' + body + b"]}"
    response = service.post(path, body)
    assert response.status_code in (200, 201, 422), response.text[:500]
    if response.status_code == 422:
        assert CANARY not in response.text


# --- bulk files: one file of generated records per format ---------------------------------------


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False, 0, -1, 10**12, 1.5])
    if kind in (2, 3, 4):
        return rng.choice(INTERESTING)
    if kind == 5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {rng.choice(["id", "code", "x", "sequence"]): _random_json(rng, depth + 1)}


def _mutated_json(seed: Any, rng: random.Random) -> Any:
    """A copy of the seed with a few values, anywhere in it, replaced or deleted."""
    doc = copy.deepcopy(seed)
    for _ in range(rng.randrange(1, 4)):
        node: Any = doc
        while True:
            if isinstance(node, dict) and node:
                key: Any = rng.choice(list(node))
            elif isinstance(node, list) and node:
                key = rng.randrange(len(node))
            else:
                key = None
                break
            child = node[key]
            if isinstance(child, dict | list) and child and rng.random() < 0.6:
                node = child
                continue
            break
        if key is None:
            continue
        if rng.random() < 0.3:
            del node[key]
        else:
            node[key] = _random_json(rng)
    return doc


def _ndjson_lines(rng: random.Random, count: int) -> bytes:
    lines = []
    for n in range(count):
        kind = rng.randrange(10)
        if kind == 0:
            lines.append(bytes(rng.randrange(256) for _ in range(rng.randrange(60))))
        elif kind == 1:
            lines.append(json.dumps(_random_json(rng)).encode())
        else:
            lines.append(json.dumps(_mutated_json(json_encounter(n % 500), rng)).encode())
    return b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n"


def _csv_rows(rng: random.Random, count: int) -> bytes:
    cells = ["", '"', "a,b", "x\ny", "\x00", CANARY, "2099-01-01", "1;2;99", "FOO:1", "-1"]
    rows = []
    for n in range(count):
        row = dict(CSV_ROW, document_id=f"D{n // rng.choice([1, 1, 2])}")
        for _ in range(rng.randrange(4)):
            row[rng.choice(sorted(CSV_ROW))] = rng.choice([*cells, str(rng.random())])
        rows.append(row)
    raw = csv_text(rows).encode()
    # Some bytes that are not UTF-8 and a torn last row, as a file cut short would have.
    return raw[: len(raw) // 2] + b"\xff\xfe" + raw[len(raw) // 2 : -7]


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_a_bulk_file_of_generated_records_is_answered_record_by_record(service, fmt):
    rng = random.Random(f"bulk-fuzz-{fmt}")
    data = _ndjson_lines(rng, EXAMPLES) if fmt == "ndjson" else _csv_rows(rng, EXAMPLES)
    response = service.post("/v1/bulk", data, **{"Content-Type": "application/x-ndjson"})
    if fmt == "csv":
        response = service.post("/v1/bulk?format=csv", data, **{"Content-Type": "text/csv"})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    while service.run(service.intake.bulk.ingest_pending()):
        pass
    job = service.run(service.client.get(f"/v1/bulk/{job_id}", headers=ACME)).json()
    assert job["status"] == "done", job
    assert job["records"] == job["accepted"] + job["duplicate"] + job["amended"] + job["rejected"]
    if fmt == "ndjson":
        assert job["records"] == sum(1 for line in io.BytesIO(data) if line.strip())
    results = service.run(
        service.client.get(f"/v1/bulk/{job_id}/results", params={"limit": 10_000}, headers=ACME)
    ).json()
    assert [r["ordinal"] for r in results] == list(range(1, min(job["records"], 10_000) + 1))
    assert not any(CANARY in p["reason"] for r in results for p in r["problems"])


# --- the MLLP listener --------------------------------------------------------------------------


def test_the_mllp_listener_answers_every_frame_of_any_byte_stream_and_lives_on(tmp_path):
    from claimflow_intake.unit_of_work import SqlIntakeUnitOfWork
    from claimflow_shared.runtime.service import Runtime

    rng = random.Random("mllp-fuzz")
    settings_ = intake_settings(tmp_path, mllp_max_message_bytes=4096)

    async def scenario() -> None:
        runtime = Runtime(settings_, version="fuzz")
        await runtime.db.create_tables()
        uows = runtime.units_of_work(SqlIntakeUnitOfWork)
        listener = MllpListener(uows=uows, settings=settings_)
        serving = asyncio.create_task(listener.run())
        for _ in range(500):  # until it listens
            if listener.port is not None:
                break
            await asyncio.sleep(0.01)
        try:
            sent = 0
            while sent < EXAMPLES:
                batch = []
                for _ in range(min(200, EXAMPLES - sent)):
                    kind = rng.randrange(4)
                    if kind == 0:
                        batch.append(bytes(rng.randrange(256) for _ in range(rng.randrange(80))))
                    elif kind == 1:
                        batch.append(b"MSH|^~\\&|" + bytes(rng.randrange(256) for _ in range(40)))
                    elif kind == 2:
                        batch.append(b"x" * rng.choice([4097, 10_000]))  # over the limit
                    else:
                        message = hl7_message(hl7_segments())
                        cut = rng.randrange(len(message) + 1)
                        batch.append(message[:cut].encode())
                # Frame markers inside a payload split it: answers are per frame received.
                batch = [b.replace(b"\x0b", b" ").replace(b"\x1c", b" ") for b in batch]
                answers = await mllp_exchange(listener.port, batch)
                assert len(answers) == len(batch)
                assert all("\rMSA|A" in a for a in answers)
                sent += len(batch)
            (last,) = await mllp_exchange(listener.port, [hl7_message(hl7_segments()).encode()])
            assert "MSA|AR" in last and "MSH^1^4" in last  # unrouted: answered, not dropped
            assert not serving.done()
        finally:
            serving.cancel()
            await runtime.db.dispose()

    asyncio.run(scenario())
