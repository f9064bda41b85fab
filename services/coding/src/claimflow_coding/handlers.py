"""What the coding service does on each event."""

from __future__ import annotations

from sqlalchemy import select

from claimflow_coding.adapters.tables import CodingRecord
from claimflow_coding.domain.coding import Coded, code_encounter
from claimflow_shared.events import EncounterDocumented, EventEnvelope
from claimflow_shared.runtime.context import HandlerContext
from claimflow_shared.topics import CODING_QUERY_RAISED, ENCOUNTER_CODED

AUTO_CODER = "claimflow-coding/auto"


async def on_encounter_documented(
    ctx: HandlerContext, event: EventEnvelope[EncounterDocumented]
) -> None:
    """Code the encounter as documented, or raise a coder query naming what is wrong."""
    already = await ctx.session.exec(
        select(CodingRecord.id).where(
            CodingRecord.tenant_id == event.tenant_id,
            CodingRecord.encounter_id == event.encounter_id,
        )
    )
    if already.first() is not None:
        return
    outcome = code_encounter(event.payload, coder=AUTO_CODER)
    if isinstance(outcome, Coded):
        coded = outcome.to_event(event.payload)
        ctx.session.add(
            CodingRecord(
                tenant_id=event.tenant_id,
                encounter_id=event.encounter_id,
                status="coded",
                coded_by=AUTO_CODER,
                diagnoses=[d.code for d in coded.final_diagnoses],
            )
        )
        ctx.emit(ENCOUNTER_CODED, coded)
        return
    query = outcome.to_event(event.payload)
    ctx.session.add(
        CodingRecord(
            tenant_id=event.tenant_id,
            encounter_id=event.encounter_id,
            status="query",
            coded_by=AUTO_CODER,
            query_reasons=[r.model_dump(mode="json") for r in query.reasons],
        )
    )
    ctx.emit(CODING_QUERY_RAISED, query)
