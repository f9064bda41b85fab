"""What the coding service does on each event."""

from __future__ import annotations

from collections.abc import Sequence

from claimflow_coding.adapters.tables import CodingRecord
from claimflow_coding.domain.coding import Coded, code_encounter
from claimflow_coding.unit_of_work import CodingUnitOfWork
from claimflow_shared.events import EncounterDocumented, EventEnvelope
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
    """Code the encounter as documented, or raise a coder query naming what is wrong."""
    if await uow.codings.get(event.tenant_id, event.encounter_id) is not None:
        return
    outcome = code_encounter(event.payload, coder=AUTO_CODER)
    if isinstance(outcome, Coded):
        coded = outcome.to_event(event.payload)
        uow.codings.add(
            CodingRecord(
                tenant_id=event.tenant_id,
                encounter_id=event.encounter_id,
                status="coded",
                coded_by=AUTO_CODER,
                diagnoses=[d.code for d in coded.final_diagnoses],
            )
        )
        uow.emit(ENCOUNTER_CODED, coded)
        return
    query = outcome.to_event(event.payload)
    uow.codings.add(
        CodingRecord(
            tenant_id=event.tenant_id,
            encounter_id=event.encounter_id,
            status="query",
            coded_by=AUTO_CODER,
            query_reasons=[r.model_dump(mode="json") for r in query.reasons],
        )
    )
    uow.emit(CODING_QUERY_RAISED, query)
