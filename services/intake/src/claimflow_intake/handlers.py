"""Intake's commands: accept documented encounters, once per source document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from claimflow_intake.adapters.tables import AcceptedEncounter
from claimflow_intake.domain.encounters import DocumentConflict, fingerprint, new_encounter_id
from claimflow_intake.unit_of_work import IntakeUnitOfWork
from claimflow_shared.events import EncounterDocumented
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED


@dataclass(frozen=True)
class Accepted:
    encounter_id: str
    created: bool


async def accept_encounters(
    *, uow: IntakeUnitOfWork, tenant_id: str, encounters: Sequence[EncounterDocumented]
) -> list[Accepted]:
    """Record each new source document and stage its `encounter.documented`; a retried
    document (same content) is a no-op, changed content a `DocumentConflict`."""
    known = await uow.encounters.by_documents(
        tenant_id, [(e.source.system, e.source.document_id) for e in encounters]
    )
    results = []
    for encounter in encounters:
        key = (encounter.source.system, encounter.source.document_id)
        content = fingerprint(encounter)
        if (existing := known.get(key)) is not None:
            if existing.fingerprint != content:
                raise DocumentConflict(*key, existing.encounter_id)
            results.append(Accepted(existing.encounter_id, created=False))
            continue
        accepted = AcceptedEncounter(
            tenant_id=tenant_id,
            encounter_id=new_encounter_id(),
            source_system=encounter.source.system,
            document_id=encounter.source.document_id,
            fingerprint=content,
        )
        uow.encounters.add(accepted)
        known[key] = accepted
        uow.emit(
            ENCOUNTER_DOCUMENTED,
            encounter,
            tenant_id=tenant_id,
            encounter_id=accepted.encounter_id,
        )
        results.append(Accepted(accepted.encounter_id, created=True))
    return results
