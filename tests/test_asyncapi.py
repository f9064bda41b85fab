"""Every service documents its channels in AsyncAPI, and the checked-in copies are current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claimflow_cli.local import documented_service
from claimflow_local.stack import SERVICES

DOCS = Path(__file__).resolve().parents[1] / "docs" / "asyncapi"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_documents_what_it_consumes_and_publishes(name):
    service = documented_service(name)
    spec = service.asyncapi()
    addresses = {channel["address"] for channel in spec["channels"].values()}
    expected = {t.name for t in service.consumes} | {t.name for t in service.publishes}
    assert expected <= addresses
    schemas = json.dumps(spec["components"])
    for topic in service.publishes:
        assert topic.payload.__name__ in schemas


@pytest.mark.parametrize("name", SERVICES)
def test_checked_in_asyncapi_is_current(name):
    service = documented_service(name)
    current = json.loads(json.dumps(service.asyncapi(), sort_keys=True))
    checked_in = json.loads((DOCS / f"{name}.asyncapi.json").read_text())
    assert checked_in == current, "regenerate with `make docs`"
