"""The coding handler over an in-memory unit of work: what it records and what it emits."""

from __future__ import annotations

import uuid

from claimflow_coding.adapters.tables import TenantCodingSettings
from claimflow_coding.handlers import AUTO_CODER, load_codings, on_encounter_documented
from claimflow_shared.events import CodeDecision
from claimflow_shared.topics import CODING_QUERY_RAISED, ENCOUNTER_CODED
from services.coding.tests.unit.builders import (
    CHECK_UP,
    PROBLEM_VISIT,
    amended,
    envelope,
    snomed_dx,
    synthea,
    synthetic,
    well_visit,
)


async def handle(uow, event, **options) -> None:
    uow.cause = event
    await on_encounter_documented(uow=uow, event=event, **options)
    uow.cause = None


async def test_a_compliant_encounter_is_coded_and_published_with_its_cause(uow):
    event = envelope(synthetic())
    await handle(uow, event)
    (coded,) = uow.emitted
    assert coded.event_type == ENCOUNTER_CODED.event_type
    assert coded.causation_id == event.event_id and coded.encounter_id == event.encounter_id
    assert coded.payload.final_diagnoses and coded.payload.code_sets.icd10cm
    assert coded.payload.revision == 1 and coded.payload.auto_code_threshold == 0.8
    assert {(d.decision, d.method, d.confidence) for d in coded.payload.final_diagnoses} == {
        (CodeDecision.GIVEN, "given", 1.0)
    }
    record = uow.codings.records[("acme", event.encounter_id)]
    assert (record.status, record.revision) == ("coded", 1)
    assert uow.worklist.items == {}


async def test_an_encounter_with_a_non_billable_code_waits_on_the_worklist_with_a_suggestion(uow):
    event = envelope(synthetic(diagnoses=[{"sequence": 1, "code": "E11"}]))
    await handle(uow, event)
    (query,) = uow.emitted
    assert query.event_type == CODING_QUERY_RAISED.event_type
    (reason,) = query.payload.reasons
    assert (reason.field, reason.rule) == ("diagnoses[0].code", "ICD-NOT-BILLABLE")
    assert query.payload.candidates[0].candidates[0].code.startswith("E11")
    (item,) = uow.worklist.items.values()
    assert (item.status, item.rules, item.revision) == ("open", ",ICD-NOT-BILLABLE,", 1)
    assert item.raised_event_id == query.event_id
    assert item.documented["diagnoses"][0]["code"] == "E11"
    assert [a.action for a in uow.worklist.trail] == ["raise"]
    assert uow.codings.records[("acme", event.encounter_id)].status == "query"


async def test_an_encounter_coded_before_is_left_alone(uow):
    event = envelope(synthetic())
    await handle(uow, event)
    await handle(uow, event.model_copy(update={"event_id": uuid.uuid4()}))
    assert len(uow.emitted) == 1


async def test_the_batch_lookup_asks_for_every_encounter_and_tenant_of_the_batch(uow):
    asked, tenants = [], []

    async def load(keys):
        asked.extend(keys)

    async def load_settings(ids):
        tenants.extend(ids)

    uow.codings.load = load
    uow.settings.load = load_settings
    events = [envelope(synthetic(1), encounter_id="E1"), envelope(synthetic(2), encounter_id="E2")]
    await load_codings(uow=uow, events=events)
    assert asked == [("acme", "E1"), ("acme", "E2")] and tenants == ["acme"]
    assert uow.locks == []  # no amendment in the batch: nothing to lock


async def test_a_synthea_check_up_is_coded_from_snomed_and_cvx_alone(uow):
    await handle(uow, envelope(well_visit()))
    (coded,) = uow.emitted
    payload = coded.payload
    assert [(d.code, d.method) for d in payload.final_diagnoses] == [
        ("Z0001", "service"),  # general adult examination with findings, first-listed
        ("E119", "snomed-map"),
        ("I10", "snomed-map"),
        ("Z23", "service"),  # the flu shot
    ]
    assert {d.decision for d in payload.final_diagnoses} == {CodeDecision.SUGGESTED_ACCEPTED}
    assert {d.decided_by for d in payload.final_diagnoses} == {AUTO_CODER}
    assert [
        (x.code, x.modifiers, x.diagnosis_pointers, x.method) for x in payload.service_lines
    ] == [
        ("99396", ["25"], [1, 2, 3], "preventive"),
        ("90656", [], [4], "service-map"),
        ("90471", [], [4], "vaccine-administration"),
    ]
    assert [h.hcc for h in payload.hcc_categories] == ["HCC38"]


async def test_a_tenants_threshold_decides_whether_a_suggestion_needs_a_human(uow):
    body = synthetic(diagnoses=[{"sequence": 1, "text": "T2DM w/ diabetic nephropathy"}])
    await handle(uow, envelope(body, encounter_id="E1"))
    (coded,) = uow.emitted
    (diagnosis,) = coded.payload.final_diagnoses
    assert (diagnosis.code, diagnosis.method) == ("E1121", "cac")
    assert 0.8 <= diagnosis.confidence < 0.99
    uow.settings.add(
        TenantCodingSettings(tenant_id="acme", auto_code_threshold=0.99, updated_by="ops")
    )
    await handle(uow, envelope(body, encounter_id="E2"))
    query = uow.emitted[-1]
    assert query.event_type == CODING_QUERY_RAISED.event_type
    assert [r.rule for r in query.payload.reasons] == ["CAC-LOW-CONFIDENCE"]
    assert query.payload.auto_code_threshold == 0.99
    assert query.payload.suggested_diagnoses[0].code == "E1121"


async def test_the_service_default_threshold_applies_to_tenants_without_their_own(uow):
    body = synthetic(diagnoses=[{"sequence": 1, "text": "T2DM w/ diabetic nephropathy"}])
    await handle(uow, envelope(body), default_threshold=0.99)
    assert uow.emitted[-1].event_type == CODING_QUERY_RAISED.event_type


async def test_a_problem_visit_without_time_or_mdm_asks_for_the_em_level(uow):
    body = synthea([snomed_dx(1, "59621000", "Essential hypertension (disorder)")], [PROBLEM_VISIT])
    await handle(uow, envelope(body))
    (query,) = uow.emitted
    assert [r.rule for r in query.payload.reasons] == ["EM-LEVEL"]
    assert [d.code for d in query.payload.suggested_diagnoses] == ["I10"]


async def test_an_amendment_is_coded_again_and_an_older_revision_changes_nothing(uow):
    original = synthetic()
    await handle(uow, envelope(original))
    changed = amended(original, 2, diagnoses=[{"sequence": 1, "code": "J06.9"}])
    await handle(uow, envelope(changed))
    assert [e.payload.revision for e in uow.emitted] == [1, 2]
    assert [d.code for d in uow.emitted[-1].payload.final_diagnoses] == ["J069"]
    assert uow.locks == ["coding:acme:E0001"]
    await handle(uow, envelope(original))  # a replay of revision 1
    assert len(uow.emitted) == 2
    assert uow.codings.records[("acme", "E0001")].revision == 2


async def test_an_amendment_that_fixes_the_code_supersedes_the_worklist_item(uow):
    broken = synthetic(diagnoses=[{"sequence": 1, "code": "E11"}])
    await handle(uow, envelope(broken))
    (item,) = uow.worklist.items.values()
    item.status, item.claimed_by = "claimed", "tenant:coder-1"
    fixed = amended(broken, 2, diagnoses=[{"sequence": 1, "code": "E11.9"}])
    await handle(uow, envelope(fixed))
    assert uow.emitted[-1].event_type == ENCOUNTER_CODED.event_type
    assert (item.status, item.resolved_by) == ("superseded", AUTO_CODER)
    assert [a.action for a in uow.worklist.trail] == ["raise", "supersede"]
    assert uow.worklist.trail[-1].before["status"] == "claimed"


async def test_an_amendment_still_unclear_reopens_the_item_for_any_coder(uow):
    broken = synthetic(diagnoses=[{"sequence": 1, "code": "E11"}])
    await handle(uow, envelope(broken))
    (item,) = uow.worklist.items.values()
    item.status, item.claimed_by = "resolved", "tenant:coder-1"
    still = amended(broken, 2, diagnoses=[{"sequence": 1, "code": "S52.521"}])
    await handle(uow, envelope(still))
    assert (item.status, item.claimed_by, item.revision) == ("open", None, 2)
    assert item.rules == ",ICD-7TH-CHARACTER,"
    assert item.raised_event_id == uow.emitted[-1].event_id
    assert [a.action for a in uow.worklist.trail] == ["raise", "reopen"]


async def test_a_check_up_with_only_findings_that_are_no_condition_codes_the_examination(uow):
    body = synthea(
        [snomed_dx(1, "160903007", "Full-time employment (finding)")],
        [CHECK_UP],
        birth="1990-05-05",
    )
    await handle(uow, envelope(body))
    (coded,) = uow.emitted
    assert [d.code for d in coded.payload.final_diagnoses] == ["Z0000"]
    assert [n.rule for n in coded.payload.notes] == ["NOT-CODED"]
