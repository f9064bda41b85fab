"""The checked-in JSON Schemas match the models and no change breaks them."""

from __future__ import annotations

import copy
import json

import pytest

from claimflow_shared.contracts import breaking_changes, generate, schema_path
from claimflow_shared.topics import CLAIM_SUBMITTED, TOPICS


@pytest.mark.parametrize("topic", TOPICS.values(), ids=lambda t: t.name)
def test_checked_in_schema_matches_the_model(topic):
    path = schema_path(topic)
    assert path.exists(), f"run `uv run python -m claimflow_shared.contracts` to add {path.name}"
    checked_in = json.loads(path.read_text())
    assert breaking_changes(checked_in, generate(topic)) == []
    assert checked_in == json.loads(json.dumps(generate(topic), sort_keys=True)), (
        f"{path.name} is stale: regenerate with `uv run python -m claimflow_shared.contracts`"
    )


def _submitted() -> dict:
    return copy.deepcopy(generate(CLAIM_SUBMITTED))


def test_removing_a_field_is_breaking():
    new = _submitted()
    del new["$defs"]["ClaimSubmitted"]["properties"]["total_charge"]
    assert any("total_charge: removed" in p for p in breaking_changes(_submitted(), new))


def test_a_newly_required_field_is_breaking():
    new = _submitted()
    payload = new["$defs"]["ClaimSubmitted"]
    payload["properties"]["prior_auth"] = {"type": "string"}
    payload["required"].append("prior_auth")
    assert breaking_changes(_submitted(), new) == ["/payload/prior_auth: newly required"]


def test_changing_a_fields_type_is_breaking():
    new = _submitted()
    new["$defs"]["ClaimSubmitted"]["properties"]["claim_type"] = {"type": "integer"}
    assert breaking_changes(_submitted(), new) == ["/payload/claim_type: changed"] or any(
        "claim_type" in p for p in breaking_changes(_submitted(), new)
    )


def test_adding_an_optional_field_is_compatible():
    new = _submitted()
    new["$defs"]["ClaimSubmitted"]["properties"]["note"] = {"type": "string", "default": ""}
    assert breaking_changes(_submitted(), new) == []
