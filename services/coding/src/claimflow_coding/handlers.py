"""What the coding service does on each event."""

from __future__ import annotations

from collections.abc import Sequence

from claimflow_coding.adapters.tables import CodingRecord
from claimflow_coding.domain.coding import Coded, code_encounter
from claimflow_coding.unit_of_work import CodingUnitOfWork
from claimflow_shared.events import EncounterDocumented, EventEnvelope
from claimflow_shared.runtime.tables import utcnow
from claimflow_shared.topics import CODING_QUERY_RAISED, ENCOUNTER_CODED

AUTO_CODER = "claimflow-coding/auto"


async def load_codings(
    *, uow: CodingUnitOfWork, events: Sequence[EventEnvelope[EncounterDocumented]]
) -> None:
    """One lookup for a whole batch: which of these encounters were coded already."""
    await uow.codings.load((e.tenant_id, e.encounter_id) for e in events)


async def on_encounter_documented(
    *, uow: CodingUnitOfWork, event: EventEnvelope[EncounterDocumented]
) -> None:
    """Code the encounter as documented, or raise a coder query naming what is wrong. An
    amendment (encounter.documented 1.1 with `amendment`) of an encounter decided before is
    coded again, and its `encounter.coded` carries the amendment on to claims; revisions
    arrive in order on the encounter's partition, and a replay is stopped by the inbox."""
    existing = await uow.codings.get(event.tenant_id, event.encounter_id)
    if existing is not None and event.payload.amendment is None:
        return
    outcome = code_encounter(event.payload, coder=AUTO_CODER)
    if isinstance(outcome, Coded):
        coded = outcome.to_event(event.payload)
        _decided(
            uow, existing, event, status="coded", diagnoses=[d.code for d in coded.final_diagnoses]
        )
        uow.emit(ENCOUNTER_CODED, coded)
        return
    query = outcome.to_event(event.payload)
    reasons = [r.model_dump(mode="json") for r in query.reasons]
    _decided(uow, existing, event, status="query", query_reasons=reasons)
    uow.emit(CODING_QUERY_RAISED, query)


def _decided(
    uow: CodingUnitOfWork,
    existing: CodingRecord | None,
    event: EventEnvelope[EncounterDocumented],
    **decision,
) -> None:
    """A first decision is a new record; an amendment's replaces the one before it."""
    values = {"coded_by": AUTO_CODER, "diagnoses": [], "query_reasons": [], **decision}
    if existing is None:
        uow.codings.add(
            CodingRecord(tenant_id=event.tenant_id, encounter_id=event.encounter_id, **values)
        )
        return
    for name, value in {**values, "decided_at": utcnow()}.items():
        setattr(existing, name, value)
