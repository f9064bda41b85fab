"""Intake's pure rules: encounter identity and the retry fingerprint."""

from claimflow_cli.synthetic import encounter
from claimflow_intake.domain.encounters import DocumentConflict, fingerprint, new_encounter_id
from claimflow_shared.events import EncounterDocumented


def _documented(n: int = 1, **changes) -> EncounterDocumented:
    body = encounter("acme", n, seed=3)
    body.update(changes)
    return EncounterDocumented.model_validate(body)


def test_encounter_ids_are_unique_and_fit_the_envelope_pattern():
    ids = {new_encounter_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("E") and i.isalnum() and len(i) == 21 for i in ids)


def test_a_retried_document_has_the_same_fingerprint():
    assert fingerprint(_documented()) == fingerprint(_documented())


def test_changed_content_changes_the_fingerprint():
    assert fingerprint(_documented()) != fingerprint(_documented(place_of_service="22"))


def test_a_conflict_names_the_document_and_the_encounter():
    error = DocumentConflict("ehr", "DOC-1", "E123")
    assert "ehr/DOC-1" in str(error) and "E123" in str(error)
