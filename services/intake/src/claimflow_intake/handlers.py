"""Intake's commands: accept documented encounters, once per source document."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from claimflow_intake.adapters.tables import AcceptedEncounter
from claimflow_intake.domain.encounters import DocumentConflict, fingerprint, new_encounter_id
from claimflow_shared.events import EncounterDocumented
from claimflow_shared.runtime.context import HandlerContext
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED


@dataclass(frozen=True)
class Accepted:
    encounter_id: str
    created: bool


async def accept_encounter(
    ctx: HandlerContext, *, tenant_id: str, encounter: EncounterDocumented
) -> Accepted:
    """Record the encounter and stage `encounter.documented`; a retried document is a no-op."""
    existing = (
        (
            await ctx.session.exec(
                select(AcceptedEncounter).where(
                    AcceptedEncounter.tenant_id == tenant_id,
                    AcceptedEncounter.source_system == encounter.source.system,
                    AcceptedEncounter.document_id == encounter.source.document_id,
                )
            )
        )
        .scalars()
        .first()
    )
    if existing is not None:
        if existing.fingerprint != fingerprint(encounter):
            raise DocumentConflict(
                encounter.source.system, encounter.source.document_id, existing.encounter_id
            )
        return Accepted(existing.encounter_id, created=False)
    encounter_id = new_encounter_id()
    ctx.session.add(
        AcceptedEncounter(
            tenant_id=tenant_id,
            encounter_id=encounter_id,
            source_system=encounter.source.system,
            document_id=encounter.source.document_id,
            fingerprint=fingerprint(encounter),
        )
    )
    ctx.emit(ENCOUNTER_DOCUMENTED, encounter, tenant_id=tenant_id, encounter_id=encounter_id)
    return Accepted(encounter_id, created=True)
