"""Accepting a documented encounter: identity, idempotency fingerprint, the outgoing event."""

from __future__ import annotations

import hashlib
import uuid

from claimflow_shared.events import EncounterDocumented


def new_encounter_id() -> str:
    return f"E{uuid.uuid4().hex[:20].upper()}"


def fingerprint(encounter: EncounterDocumented) -> str:
    """Same source document and same content → same fingerprint (a safe retry)."""
    return hashlib.sha256(encounter.model_dump_json().encode()).hexdigest()


class DocumentConflict(ValueError):
    """The source document id was already accepted with different content."""

    def __init__(self, system: str, document_id: str, encounter_id: str) -> None:
        super().__init__(
            f"source document {system}/{document_id} was already accepted as encounter "
            f"{encounter_id} with different content; amendments are not supported yet"
        )
        self.encounter_id = encounter_id
