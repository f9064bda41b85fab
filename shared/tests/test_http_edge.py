"""The HTTP edge every service shares: bounded bodies, validation errors without the input,
and unexpected errors logged with their stack but never shown."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI
from fastapi.testclient import TestClient

from claimflow_cli.synthetic import encounter
from claimflow_shared.events import EncounterDocumented
from claimflow_shared.runtime.http import BodyLimit, install_error_handlers
from claimflow_shared.runtime.logs import JsonFormatter


def _app(max_bytes: int = 10_000, overrides: dict[str, int] | None = None) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=max_bytes, overrides=overrides or {})

    @app.post("/encounters")
    async def post(encounter: EncounterDocumented) -> dict:
        return {"ok": True}

    @app.post("/bulk/upload")
    async def bulk(body: dict) -> dict:
        return {"ok": True}

    @app.get("/boom")
    async def boom() -> dict:
        raise KeyError("Jane Doe 1970-01-01")

    return TestClient(app, raise_server_exceptions=False)


def test_a_422_names_the_field_and_reason_but_never_echoes_the_input():
    body = encounter("acme", 1)
    body["patient"]["last_name"] = "Secretname"
    body["patient"]["birth_date"] = "not-a-date-Secretname"
    response = _app(max_bytes=1_000_000).post("/encounters", json=body)
    assert response.status_code == 422
    assert "Secretname" not in response.text
    fields = [p["field"] for p in response.json()["detail"]]
    assert "encounter.patient.birth_date" in fields or "patient.birth_date" in fields


def test_nan_infinity_and_broken_text_are_422_not_500():
    client = _app(max_bytes=1_000_000)
    for raw in ('{"x": NaN}', '{"x": Infinity}', '{"x": 1e309}', '{"x": "\\ud800"}'):
        body = encounter("acme", 1)
        text = json.dumps(body)[:-1] + "," + raw[1:]
        response = client.post(
            "/encounters", content=text, headers={"content-type": "application/json"}
        )
        assert response.status_code in (200, 422), raw
    body = encounter("acme", 1)
    body["patient"]["first_name"] = "A\u0000B"
    assert client.post("/encounters", json=body).status_code == 422
    body["patient"]["first_name"] = "\ud800"
    text = json.dumps(body)
    response = client.post(
        "/encounters", content=text, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_a_huge_body_is_refused_with_413_before_it_is_read():
    client = _app(max_bytes=1000)
    response = client.post("/encounters", content=b"x" * 5000)
    assert response.status_code == 413
    assert "at most 1000 bytes" in response.json()["detail"]


def test_a_streamed_body_without_a_length_is_bounded_too():
    client = _app(max_bytes=1000)

    def chunks():
        for _ in range(10):
            yield b"x" * 500

    response = client.post("/encounters", content=chunks())
    assert response.status_code == 413


def test_routes_that_take_files_have_their_own_limit():
    client = _app(max_bytes=100, overrides={"/bulk": 100_000})
    assert client.post("/bulk/upload", json={"rows": "x" * 5000}).status_code == 200
    assert client.post("/encounters", json={"rows": "x" * 5000}).status_code == 413


def test_a_500_is_logged_with_its_stack_and_an_id_and_shows_neither(caplog):
    client = _app()
    with caplog.at_level(logging.ERROR, logger="claimflow.http"):
        response = client.get("/boom")
    assert response.status_code == 500
    assert "Jane" not in response.text and "error_id" in response.json()
    (record,) = [r for r in caplog.records if r.name == "claimflow.http"]
    line = json.loads(JsonFormatter("test").format(record))
    assert line["exception"] == "KeyError" and line["stack"]
    assert line["error_id"] == response.json()["error_id"]
    assert "Jane" not in json.dumps(line)


def test_a_url_carrying_control_characters_is_refused_not_a_500():
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=1000)

    @app.get("/postings")
    async def postings(claim_id: str = "") -> dict:
        return {"claim_id": claim_id}

    client = TestClient(app)
    assert client.get("/postings?claim_id=%00").status_code == 422
    assert client.get("/postings?claim_id=C1-1").status_code == 200
