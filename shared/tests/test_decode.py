"""What a consumer accepts off a topic, and the reason it gives for what it refuses."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from claimflow_shared.runtime.consumer import UndecodableEvent, decode_event
from claimflow_shared.topics import CLAIM_DENIED


def _denied(**overrides) -> dict:
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": "claim.denied",
        "schema_version": "1.3",
        "tenant_id": "acme",
        "encounter_id": "E1",
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": "test/1",
        "unknown_future_field": 1,
        "payload": {
            "claim_id": "C1",
            "adjustments": [{"group": "CO", "carc": "50", "amount": "10.00"}],
            "denied_amount": "10.00",
            "category": "medical-necessity",
            "recommended_action": "appeal",
        },
    }
    event.update(overrides)
    return event


def test_a_newer_minor_version_with_unknown_fields_is_accepted():
    envelope = decode_event(CLAIM_DENIED, json.dumps(_denied()).encode())
    assert envelope.payload.claim_id == "C1"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"{not json", "not JSON"),
        (json.dumps(_denied(schema_version="2.0")).encode(), "not major version 1"),
        (json.dumps(_denied(event_type="claim.paid")).encode(), "does not belong"),
        (json.dumps(_denied(payload={"claim_id": "C1"})).encode(), "payload.adjustments"),
        (json.dumps(_denied(occurred_at="2026-01-01T00:00:00")).encode(), "occurred_at"),
    ],
)
def test_undecodable_messages_name_the_reason(raw, reason):
    with pytest.raises(UndecodableEvent, match=reason):
        decode_event(CLAIM_DENIED, raw)
