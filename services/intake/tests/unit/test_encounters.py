"""Intake's pure rules: encounter identity, the content fingerprint, repeats and amendments."""

import hashlib
import json

import pytest

from claimflow_cli.synthetic import encounter
from claimflow_intake.domain.encounters import (
    AmendedDocument,
    NewEncounter,
    RepeatedDocument,
    StoredDocument,
    changed_fields,
    decide_intake,
    field_prints,
    fingerprint,
    new_encounter_id,
)
from claimflow_shared.events import (
    Amendment,
    DocumentedCodeSystem,
    DocumentedCoding,
    EncounterDocumented,
)


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


def test_field_prints_name_changed_fields_without_keeping_their_values():
    before, after = field_prints(_documented()), field_prints(_documented(place_of_service="22"))
    assert changed_fields(before, after) == ["place_of_service"]
    patient = _documented().patient
    assert not any(patient.last_name in digest for digest in before.values())


def test_a_document_without_1_1_fields_keeps_its_1_0_fingerprint():
    documented = _documented()
    body = json.loads(documented.model_dump_json())
    del body["amendment"]
    for item in body["diagnoses"] + body["procedures"]:
        del item["codings"]
    as_1_0 = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    assert fingerprint(documented) == hashlib.sha256(as_1_0.encode()).hexdigest()


def test_the_amendment_marker_is_not_content():
    documented = _documented()
    marked = documented.model_copy(
        update={"amendment": Amendment(revision=2, supersedes_revision=1)}
    )
    assert fingerprint(marked) == fingerprint(documented)


def test_documented_codings_are_content():
    documented = _documented()
    diagnosis = documented.diagnoses[0].model_copy(
        update={"codings": [DocumentedCoding(system="SNOMED-CT", code="44054006")]}
    )
    coded = documented.model_copy(update={"diagnoses": [diagnosis, *documented.diagnoses[1:]]})
    assert fingerprint(coded) != fingerprint(documented)


def _stored(encounter_id: str, documented: EncounterDocumented) -> StoredDocument:
    return StoredDocument(encounter_id, fingerprint(documented), 1, field_prints(documented))


def test_a_new_document_is_a_new_encounter():
    decision = decide_intake(encounter=_documented(), stored=None)
    assert isinstance(decision, NewEncounter) and decision.status == "accepted"
    assert decision.event.amendment is None
    assert decision.fingerprint == fingerprint(_documented())


def test_the_same_document_again_is_a_duplicate_of_the_same_encounter():
    stored = _stored("E1", _documented())
    decision = decide_intake(encounter=_documented(), stored=stored)
    assert decision == RepeatedDocument("E1")


def test_changed_content_is_an_amendment_naming_what_changed():
    stored = _stored("E1", _documented())
    changed = _documented(place_of_service="22")
    decision = decide_intake(encounter=changed, stored=stored)
    assert isinstance(decision, AmendedDocument) and decision.encounter_id == "E1"
    assert decision.event.amendment == Amendment(
        revision=2, supersedes_revision=1, changed=["place_of_service"]
    )
    again = StoredDocument("E1", decision.fingerprint, decision.revision, decision.field_prints)
    third = decide_intake(encounter=_documented(place_of_service="11"), stored=again)
    assert third.event.amendment.revision == 3 and third.event.amendment.supersedes_revision == 2
    assert decide_intake(encounter=decision.event, stored=again) == RepeatedDocument("E1")


def test_an_amendment_must_supersede_an_earlier_revision():
    with pytest.raises(ValueError):
        Amendment(revision=2, supersedes_revision=2)
    with pytest.raises(ValueError):
        Amendment(revision=1, supersedes_revision=0)


def test_a_documented_coding_is_a_validated_value():
    assert DocumentedCoding(system="CVX", code="140").system is DocumentedCodeSystem.CVX
    for bad in ({"system": "ICD-9", "code": "250.00"}, {"system": "CPT", "code": "99 213"}):
        with pytest.raises(ValueError):
            DocumentedCoding(**bad)
