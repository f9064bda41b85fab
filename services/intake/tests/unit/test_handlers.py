"""Intake's commands over an in-memory unit of work: once per source document, amendments
published as such, every input ending in the same acceptance, nothing published for what is
rejected."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from claimflow_cli.synthetic import encounter
from claimflow_intake.adapters.tables import BulkJob
from claimflow_intake.domain.bulk import read_csv, read_ndjson
from claimflow_intake.domain.fhir import read_bundle
from claimflow_intake.handlers import (
    accept_encounters,
    accept_json,
    ingest_bulk_records,
    receive_hl7,
    receive_routed_hl7,
    record_bundle,
)
from claimflow_shared.events import EncounterDocumented
from claimflow_shared.runtime.tables import TimelineEntry
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED
from services.intake.tests.unit.builders import (
    CSV_ROW,
    TODAY,
    csv_text,
    hl7_message,
    hl7_segments,
    json_encounter,
    synthea_file,
    tenant_registry,
)

NOW = datetime(2026, 10, 2, 12, 0, tzinfo=UTC)


def documented(n: int, tenant: str = "acme", **changes) -> EncounterDocumented:
    return EncounterDocumented.model_validate(encounter(tenant, n, seed=3) | changes)


async def test_each_new_document_becomes_one_event_for_its_tenant(uow):
    results = await accept_encounters(
        uow=uow, tenant_id="acme", encounters=[documented(1), documented(2)], channel="json"
    )
    assert [r.status for r in results] == ["accepted", "accepted"]
    assert [e.event_type for e in uow.emitted] == [ENCOUNTER_DOCUMENTED.event_type] * 2
    assert [e.encounter_id for e in uow.emitted] == [r.encounter_id for r in results]
    assert {e.tenant_id for e in uow.emitted} == {"acme"}
    assert all(e.payload.amendment is None for e in uow.emitted)


async def test_a_retried_document_is_the_same_encounter_and_no_second_event(uow):
    (first,) = await accept_encounters(
        uow=uow, tenant_id="acme", encounters=[documented(1)], channel="json"
    )
    (again,) = await accept_encounters(
        uow=uow, tenant_id="acme", encounters=[documented(1)], channel="fhir"
    )
    assert again.encounter_id == first.encounter_id and again.status == "duplicate"
    assert len(uow.emitted) == 1


async def test_the_same_document_twice_in_one_batch_counts_once(uow):
    results = await accept_encounters(
        uow=uow, tenant_id="acme", encounters=[documented(1), documented(1)], channel="json"
    )
    assert results[0].encounter_id == results[1].encounter_id
    assert [r.status for r in results] == ["accepted", "duplicate"]
    assert len(uow.emitted) == 1 and len(uow.encounters.rows) == 1


async def test_changed_content_is_published_as_an_amendment_of_the_same_encounter(uow):
    (first,) = await accept_encounters(
        uow=uow, tenant_id="acme", encounters=[documented(1)], channel="json"
    )
    (amended,) = await accept_encounters(
        uow=uow, tenant_id="acme", encounters=[documented(1, place_of_service="22")], channel="hl7"
    )
    assert amended.encounter_id == first.encounter_id
    assert (amended.status, amended.revision) == ("amended", 2)
    event = uow.emitted[-1]
    assert event.encounter_id == first.encounter_id
    assert event.payload.amendment.revision == 2
    assert event.payload.amendment.changed == ["place_of_service"]
    (row,) = uow.encounters.rows
    assert (row.status, row.revision, row.channel) == ("amended", 2, "hl7")
    details = [row["detail"] for row in uow.staged(TimelineEntry)]
    assert details == ["accepted via json", "revision 2 via hl7: place_of_service changed"]


async def test_a_document_amended_within_one_batch_is_one_encounter_at_revision_2(uow):
    results = await accept_encounters(
        uow=uow,
        tenant_id="acme",
        encounters=[documented(1), documented(1, place_of_service="22")],
        channel="ndjson",
    )
    assert [(r.status, r.revision) for r in results] == [("accepted", 1), ("amended", 2)]
    assert len(uow.encounters.rows) == 1 and uow.encounters.rows[0].revision == 2
    assert [e.payload.amendment is not None for e in uow.emitted] == [False, True]


async def test_tenants_do_not_share_documents(uow):
    await accept_encounters(uow=uow, tenant_id="acme", encounters=[documented(1)], channel="json")
    (other,) = await accept_encounters(
        uow=uow, tenant_id="globex", encounters=[documented(1)], channel="json"
    )
    assert other.status == "accepted"


# --- JSON ------------------------------------------------------------------------------------


async def test_a_tenant_without_payers_takes_complete_payer_references_as_sent(uow):
    (outcome,) = await accept_json(uow=uow, tenant_id="acme", bodies=[encounter("acme", 1)])
    assert outcome.accepted is not None and outcome.accepted.status == "accepted"


async def test_a_tenant_without_payers_cannot_name_a_payer_by_display_name_alone(uow):
    body = encounter("acme", 1)
    body["coverages"][0]["payer"] = {"name": "Medicare"}
    (outcome,) = await accept_json(uow=uow, tenant_id="acme", bodies=[body])
    assert outcome.accepted is None
    assert [p.location for p in outcome.problems] == ["/coverages/0/payer/payer_id"]
    assert uow.emitted == []


async def test_json_names_resolve_through_the_tenants_registry(uow):
    uow.registry.seed(tenant_registry())
    (outcome,) = await accept_json(uow=uow, tenant_id="acme", bodies=[json_encounter(1)])
    assert outcome.accepted is not None
    payload = uow.emitted[0].payload
    assert payload.coverages[0].payer.payer_id == "BCBS"
    assert payload.providers.rendering.last_name == "Quill"


async def test_an_unknown_payer_is_rejected_naming_the_field_and_nothing_is_published(uow):
    uow.registry.seed(tenant_registry())
    body = json_encounter(1, coverages=[{"payer": {"name": "Acme Mutual"}, "member_id": "W1"}])
    (outcome,) = await accept_json(uow=uow, tenant_id="acme", bodies=[body])
    assert outcome.accepted is None
    assert outcome.problems[0].location == "/coverages/0/payer/name"
    assert "Acme Mutual" not in outcome.problems[0].reason
    assert uow.emitted == []


async def test_all_or_nothing_accepts_none_when_one_body_is_rejected(uow):
    bad = encounter("acme", 2)
    bad["providers"]["billing"]["npi"] = "1234567890"
    outcomes = await accept_json(
        uow=uow, tenant_id="acme", bodies=[encounter("acme", 1), bad], all_or_nothing=True
    )
    assert [o.accepted for o in outcomes] == [None, None]
    assert outcomes[1].problems[0].location == "/providers/billing/npi"
    assert uow.emitted == [] and uow.encounters.rows == []


# --- FHIR ------------------------------------------------------------------------------------


async def test_a_practitioner_bundle_loads_the_registry_audited_with_the_principal(uow):
    uow.registry.seed(tenant_registry())
    result = read_bundle(
        synthea_file("practitionerInformation"),
        registry=tenant_registry(),
        source_system="synthea",
        today=TODAY,
    )
    outcome = await record_bundle(uow=uow, tenant_id="acme", result=result)
    assert outcome.encounters == () and outcome.providers_loaded == 22
    loaded = await uow.registry.load("acme")
    assert len(loaded.providers) == 2 + 22
    created = [a for a in uow.registry.audit_rows if a.action == "created"]
    assert len(created) == 22 and {a.principal for a in created} == {"tenant:tester"}


async def test_every_encounter_of_a_bundle_is_answered_and_a_repeat_is_a_duplicate(uow, ehr_bundle):
    uow.registry.seed(tenant_registry())
    registry = tenant_registry()
    bundle = ehr_bundle()
    result = read_bundle(bundle, registry=registry, source_system="ehr-1", today=TODAY)
    first = await record_bundle(uow=uow, tenant_id="acme", result=result)
    again = await record_bundle(uow=uow, tenant_id="acme", result=result)
    assert [(e.fhir_id, e.outcome) for e in first.encounters] == [("enc1", "accepted")]
    assert [(e.fhir_id, e.outcome) for e in again.encounters] == [("enc1", "duplicate")]
    assert first.encounters[0].encounter_id == again.encounters[0].encounter_id
    assert len(uow.emitted) == 1


async def test_a_bundle_encounter_without_services_is_answered_not_billable(uow, ehr_bundle):
    registry = tenant_registry()
    result = read_bundle(
        ehr_bundle(procedure=None, condition=None),
        registry=registry,
        source_system="ehr-1",
        today=TODAY,
    )
    outcome = await record_bundle(uow=uow, tenant_id="acme", result=result)
    (answer,) = outcome.encounters
    assert answer.outcome == "not-billable" and answer.problems and answer.encounter_id is None
    assert uow.emitted == []


# --- HL7 v2 ----------------------------------------------------------------------------------


async def test_a_dft_is_acked_aa_and_published(uow):
    uow.registry.seed(tenant_registry())
    answer = await receive_hl7(
        uow=uow, tenant_id="acme", data=hl7_message(hl7_segments()).encode(), now=NOW
    )
    assert "MSA|AA|MSG0001" in answer.ack
    assert answer.accepted is not None and answer.accepted.status == "accepted"
    assert len(uow.emitted) == 1
    assert uow.emitted[0].payload.source.document_id.endswith("V-1001")


async def test_a_bad_dft_is_naked_with_err_naming_segment_and_field_and_publishes_nothing(uow):
    uow.registry.seed(tenant_registry())
    segments = hl7_segments()
    segments["PID"] = {**segments["PID"], 7: "20991231"}
    answer = await receive_hl7(
        uow=uow, tenant_id="acme", data=hl7_message(segments).encode(), now=NOW
    )
    assert "MSA|AE|MSG0001" in answer.ack
    err = next(line for line in answer.ack.split("\r") if line.startswith("ERR"))
    assert "PID^1^7" in err and "20991231" not in answer.ack
    assert uow.emitted == [] and uow.encounters.rows == []


async def test_a_registration_is_kept_for_the_charges_that_follow(uow):
    uow.registry.seed(tenant_registry())
    adt = hl7_segments("ADT^A04^ADT_A01", FT1=None, DG1=None)
    answer = await receive_hl7(uow=uow, tenant_id="acme", data=hl7_message(adt), now=NOW)
    assert "MSA|AA" in answer.ack and uow.emitted == []
    assert len(uow.hl7.registrations) == 1
    charges = hl7_segments(IN1=None)
    answer = await receive_hl7(uow=uow, tenant_id="acme", data=hl7_message(charges), now=NOW)
    assert "MSA|AA" in answer.ack
    assert uow.emitted[0].payload.coverages[0].payer.payer_id == "BCBS"


async def test_an_unrouted_sending_facility_is_rejected_at_msh_4_and_publishes_nothing(uow):
    uow.registry.seed(tenant_registry())
    answer = await receive_routed_hl7(uow=uow, data=hl7_message(hl7_segments()).encode(), now=NOW)
    assert "MSA|AR|MSG0001" in answer.ack and "MSH^1^4" in answer.ack
    assert uow.emitted == []


async def test_a_routed_sending_facility_names_the_tenant(uow):
    uow.registry.seed(tenant_registry())
    await uow.registry.route_hl7("acme", ["ACMEHOSP"], principal="tenant:tester")
    answer = await receive_routed_hl7(uow=uow, data=hl7_message(hl7_segments()).encode(), now=NOW)
    assert "MSA|AA" in answer.ack
    assert [e.tenant_id for e in uow.emitted] == ["acme"]


async def test_garbage_on_the_listener_gets_an_ar_and_publishes_nothing(uow):
    answer = await receive_routed_hl7(uow=uow, data=b"\x00\xffnot hl7", now=NOW)
    assert "MSA|AR" in answer.ack and uow.emitted == []


# --- bulk ------------------------------------------------------------------------------------


def _job(fmt: str = "ndjson") -> BulkJob:
    return BulkJob(
        job_id="B1",
        tenant_id="acme",
        format=fmt,
        source_system="ehr-1",
        spool="/nonexistent",
        status="running",
        principal="tenant:tester",
    )


async def test_a_bulk_batch_records_every_result_and_the_checkpoint_after_it(uow):
    uow.registry.seed(tenant_registry())
    lines = [
        json_encounter(1),
        json_encounter(2, place_of_service="00"),
        json_encounter(1),
        json_encounter(1, place_of_service="22"),
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    records = list(read_ndjson(io.BytesIO(data), registry=tenant_registry(), today=TODAY))
    job = _job()
    await ingest_bulk_records(uow=uow, job=job, records=records)
    statuses = [r.status for r in uow.bulk.result_rows]
    assert statuses == ["accepted", "rejected", "duplicate", "amended"]
    assert (job.accepted, job.rejected, job.duplicate, job.amended) == (1, 1, 1, 1)
    assert uow.bulk.result_rows[1].problems[0]["location"] == "/place_of_service"
    assert (job.offset, job.ordinal, job.line) == (len(data), 5, 5)
    assert len(uow.emitted) == 2


async def test_a_csv_document_id_that_comes_back_later_in_the_file_is_rejected(uow):
    uow.registry.seed(tenant_registry())
    other = {**CSV_ROW, "document_id": "DOC-2", "patient_mrn": "MRN000002"}
    text = csv_text([CSV_ROW, other, CSV_ROW])
    records = list(
        read_csv(
            io.BytesIO(text.encode()),
            registry=tenant_registry(),
            today=TODAY,
            source_system="ehr-1",
        )
    )
    job = _job("csv")
    await ingest_bulk_records(uow=uow, job=job, records=records[:2])
    await ingest_bulk_records(uow=uow, job=job, records=records[2:])
    assert [r.status for r in uow.bulk.result_rows] == ["accepted", "accepted", "rejected"]
    problem = uow.bulk.result_rows[2].problems[0]
    assert problem["location"] == "row 4, column document_id"
    assert len(uow.emitted) == 2
