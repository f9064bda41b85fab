"""Documented encounters for coding's tests: the demo's synthetic ones (ICD-10-CM and CPT
given) and Synthea-shaped ones (SNOMED CT and CVX codings only, as intake maps them)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from claimflow_cli.synthetic import encounter
from claimflow_shared.events import EncounterDocumented, EventEnvelope

SNOMED = "SNOMED-CT"


def envelope(
    body: dict[str, Any], *, tenant: str = "acme", encounter_id: str = "E0001"
) -> EventEnvelope[EncounterDocumented]:
    payload = EncounterDocumented.model_validate(body)
    return EventEnvelope[EncounterDocumented](
        event_id=uuid.uuid4(),
        event_type="encounter.documented",
        schema_version="1.1",
        tenant_id=tenant,
        encounter_id=encounter_id,
        occurred_at=datetime.now(UTC),
        producer="test/1",
        payload=payload,
    )


def synthetic(n: int = 1, **changes: Any) -> dict[str, Any]:
    """The demo's n-th encounter (ICD-10-CM and CPT given), with fields replaced."""
    return encounter("acme", n, seed=5) | changes


def snomed_dx(sequence: int, code: str, display: str) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "text": display,
        "codings": [{"system": SNOMED, "code": code, "display": display}],
    }


def coded_line(sequence: int, system: str, code: str, display: str, day: date) -> dict[str, Any]:
    """A claim item documented only in SNOMED CT / CVX: the claim code is for coding."""
    return {
        "sequence": sequence,
        "code_system": "CPT",
        "text": display,
        "service_date": day.isoformat(),
        "codings": [{"system": system, "code": code, "display": display}],
    }


def synthea(
    diagnoses: list[dict[str, Any]],
    lines: list[tuple[str, str, str]],
    *,
    sex: str = "F",
    birth: str = "1968-03-02",
    payer: tuple[str, str] = ("SIMPAYER1", "SIMULATED HEALTH PLAN"),
    n: int = 3,
) -> dict[str, Any]:
    """A Synthea-shaped encounter: SNOMED CT conditions, a SNOMED CT encounter type and
    procedures, CVX vaccines; no ICD-10-CM or CPT anywhere."""
    body = synthetic(n)
    day = date.fromisoformat(body["period_start"])
    body["patient"] = body["patient"] | {"sex": sex, "birth_date": birth}
    body["coverages"] = [body["coverages"][0] | {"payer": {"payer_id": payer[0], "name": payer[1]}}]
    body["source"] = {"system": "synthea", "document_id": f"urn:uuid:{uuid.uuid4()}"}
    body["encounter_class"] = "ambulatory"
    body["place_of_service"] = "11"
    body["diagnoses"] = diagnoses
    body["procedures"] = [
        coded_line(i, system, code, display, day)
        for i, (system, code, display) in enumerate(lines, start=1)
    ]
    return body


CHECK_UP = (SNOMED, "185349003", "Encounter for check up (procedure)")
PROBLEM_VISIT = (SNOMED, "185347001", "Encounter for problem (procedure)")
FLU_SHOT = ("CVX", "140", "Influenza, seasonal, injectable, preservative free")
DIABETES = ("44054006", "Diabetes mellitus type 2 (disorder)")
HYPERTENSION = ("59621000", "Essential hypertension (disorder)")


def well_visit(**changes: Any) -> dict[str, Any]:
    """A Synthea check-up: type 2 diabetes and hypertension found, a flu shot given."""
    return synthea(
        [snomed_dx(1, *DIABETES), snomed_dx(2, *HYPERTENSION)],
        [CHECK_UP, FLU_SHOT],
        **changes,
    )


def amended(body: dict[str, Any], revision: int, **changes: Any) -> dict[str, Any]:
    return (
        body
        | changes
        | {
            "amendment": {
                "revision": revision,
                "supersedes_revision": revision - 1,
                "changed": sorted(changes),
            }
        }
    )
