"""The coding handler over an in-memory unit of work: what it records and what it emits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from claimflow_cli.synthetic import encounter
from claimflow_coding.handlers import load_codings, on_encounter_documented
from claimflow_shared.events import Amendment, EncounterDocumented, EventEnvelope
from claimflow_shared.topics import CODING_QUERY_RAISED, ENCOUNTER_CODED


def documented(n: int = 1, **changes) -> EventEnvelope[EncounterDocumented]:
    body = encounter("acme", n, seed=5) | changes
    return EventEnvelope[EncounterDocumented](
        event_id=uuid.uuid4(),
        event_type="encounter.documented",
        schema_version="1.0",
        tenant_id="acme",
        encounter_id=f"E{n:04d}",
        occurred_at=datetime.now(UTC),
        producer="test/1",
        payload=EncounterDocumented.model_validate(body),
    )


async def handle(uow, event: EventEnvelope) -> None:
    uow.cause = event
    await on_encounter_documented(uow=uow, event=event)


async def test_a_compliant_encounter_is_coded_and_published_with_its_cause(uow):
    event = documented()
    await handle(uow, event)
    (coded,) = uow.emitted
    assert coded.event_type == ENCOUNTER_CODED.event_type
    assert coded.causation_id == event.event_id and coded.encounter_id == event.encounter_id
    assert coded.payload.final_diagnoses and coded.payload.code_sets.icd10cm
    assert uow.codings.records[("acme", event.encounter_id)].status == "coded"


async def test_an_encounter_with_a_non_billable_code_raises_a_query_naming_it(uow):
    event = documented(diagnoses=[{"sequence": 1, "code": "E11"}])
    await handle(uow, event)
    (query,) = uow.emitted
    assert query.event_type == CODING_QUERY_RAISED.event_type
    assert any(r.field.startswith("diagnoses[0]") for r in query.payload.reasons)
    assert uow.codings.records[("acme", event.encounter_id)].status == "query"


async def test_an_encounter_coded_before_is_left_alone(uow):
    event = documented()
    await handle(uow, event)
    again = event.model_copy(update={"event_id": uuid.uuid4()})
    await handle(uow, again)
    assert len(uow.emitted) == 1


async def test_the_batch_lookup_asks_for_every_encounter_of_the_batch(uow):
    asked = []

    async def load(keys):
        asked.extend(keys)

    uow.codings.load = load
    await load_codings(uow=uow, events=[documented(1), documented(2)])
    assert asked == [("acme", "E0001"), ("acme", "E0002")]


async def test_an_amended_encounter_is_coded_again_and_the_amendment_travels_on(uow):
    first = documented(diagnoses=[{"sequence": 1, "code": "E11"}])
    await handle(uow, first)
    assert uow.codings.records[("acme", first.encounter_id)].status == "query"
    fixed = EncounterDocumented.model_validate(encounter("acme", 1, seed=5)).model_copy(
        update={"amendment": Amendment(revision=2, supersedes_revision=1, changed=["diagnoses"])}
    )
    amended = first.model_copy(update={"event_id": uuid.uuid4(), "payload": fixed})
    await handle(uow, amended)
    coded = uow.emitted[-1]
    assert coded.event_type == ENCOUNTER_CODED.event_type
    assert coded.payload.amendment.revision == 2
    record = uow.codings.records[("acme", first.encounter_id)]
    assert (record.status, record.query_reasons) == ("coded", [])
    assert len(uow.codings.records) == 1
