"""Accepting a documented encounter: identity, the content fingerprint, and the decision
between a new encounter, a repeat of one already accepted, and an amendment of it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic_core import to_json

from claimflow_shared.events import Amendment, EncounterDocumented


def new_encounter_id() -> str:
    return f"E{uuid.uuid4().hex[:20].upper()}"


def fingerprint(encounter: EncounterDocumented) -> str:
    """Same source document and same content → same fingerprint (a safe retry).

    The amendment marker is not content. Fields added in 1.1 count only when set, so a
    document shaped as in 1.0 keeps the fingerprint it was stored with before 1.1."""
    exclude: dict[str, object] = {"amendment": True}
    for name in ("diagnoses", "procedures"):
        bare = {
            i: {"codings"} for i, item in enumerate(getattr(encounter, name)) if not item.codings
        }
        if bare:
            exclude[name] = bare
    return hashlib.sha256(encounter.model_dump_json(exclude=exclude).encode()).hexdigest()


def field_prints(encounter: EncounterDocumented) -> dict[str, str]:
    """A short digest of each top-level payload field, kept instead of the document itself,
    so an amendment can name the fields it changed without intake storing the PHI twice."""
    body = encounter.model_dump(mode="json", exclude={"amendment"})
    # Model dumps keep field order, so the same content always serialises the same way.
    return {name: hashlib.sha256(to_json(value)).hexdigest()[:16] for name, value in body.items()}


def changed_fields(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """Top-level payload fields whose content differs (names only, never values)."""
    return [name for name, digest in after.items() if before.get(name) != digest]


@dataclass(frozen=True)
class StoredDocument:
    """What intake keeps about an accepted source document (tenant, system, document id)."""

    encounter_id: str
    fingerprint: str
    revision: int = 1
    field_prints: Mapping[str, str] | None = None


@dataclass(frozen=True)
class NewEncounter:
    encounter_id: str
    event: EncounterDocumented
    fingerprint: str
    field_prints: Mapping[str, str]
    revision: int = 1
    status: str = "accepted"


@dataclass(frozen=True)
class RepeatedDocument:
    """The same document with the same content: nothing to publish."""

    encounter_id: str
    status: str = "duplicate"


@dataclass(frozen=True)
class AmendedDocument:
    """The same document with changed content: publish `event` (revision + 1)."""

    encounter_id: str
    event: EncounterDocumented
    fingerprint: str
    field_prints: Mapping[str, str]
    revision: int
    status: str = "amended"


IntakeDecision = NewEncounter | RepeatedDocument | AmendedDocument


def decide_intake(
    *, encounter: EncounterDocumented, stored: StoredDocument | None
) -> IntakeDecision:
    """New document → new encounter; same content → repeat; changed content → amendment
    carrying the next revision and the names of the fields that changed."""
    print_ = fingerprint(encounter)
    if stored is not None and stored.fingerprint == print_:
        return RepeatedDocument(stored.encounter_id)
    prints = field_prints(encounter)
    if stored is None:
        if encounter.amendment is not None:
            encounter = encounter.model_copy(update={"amendment": None})
        return NewEncounter(new_encounter_id(), encounter, print_, prints)
    revision = stored.revision + 1
    amendment = Amendment(
        revision=revision,
        supersedes_revision=stored.revision,
        changed=changed_fields(stored.field_prints, prints) if stored.field_prints else [],
    )
    return AmendedDocument(
        stored.encounter_id,
        encounter.model_copy(update={"amendment": amendment}),
        print_,
        prints,
        revision,
    )
