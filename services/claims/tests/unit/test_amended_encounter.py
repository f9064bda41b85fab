"""An amended encounter reaching claims (encounter.coded carrying `amendment`): a claim the
payer never took is rebuilt and scrubbed again; one it has on file is replaced by a
frequency-7 claim; one on its way to the payer is left with a note."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from claimflow_claims.adapters.tables import ClaimAudit
from claimflow_claims.handlers import load_for_coded, on_encounter_coded
from claimflow_shared.events import Amendment, EncounterCoded, EventEnvelope
from services.claims.tests.integration.lifecycle_support import coded_visit


def _event(coded: EncounterCoded, revision: int | None = None) -> EventEnvelope[EncounterCoded]:
    if revision is not None:
        amendment = Amendment(revision=revision, supersedes_revision=revision - 1)
        coded = coded.model_copy(update={"amendment": amendment})
    return EventEnvelope[EncounterCoded](
        event_id=uuid.uuid4(),
        event_type="encounter.coded",
        schema_version="1.1",
        tenant_id="acme",
        encounter_id="E0001",
        occurred_at=datetime.now(UTC),
        producer="test/1",
        payload=coded,
    )


def _on(days_ago: int, **visit) -> EncounterCoded:
    return coded_visit(service_date=date.today() - timedelta(days=days_ago), **visit)


async def _handle(uow, event: EventEnvelope[EncounterCoded]) -> None:
    uow.cause = event
    await load_for_coded(uow=uow, events=[event])
    await on_encounter_coded(uow=uow, event=event)


async def _claims(uow):
    return await uow.claims.of_encounter("acme", "E0001")


async def test_a_held_claim_is_rebuilt_from_the_amended_encounter_and_scrubbed_again(uow):
    await _handle(uow, _event(_on(500)))  # past every timely-filing limit: held
    [record] = await _claims(uow)
    assert record.state == "held"
    fixed = _event(_on(3), revision=2)
    await _handle(uow, fixed)
    assert (record.state, record.coded_event_id) == ("scrubbed", fixed.event_id)
    assert all(f["severity"] != "error" for f in record.findings)
    steps = [(a["from_state"], a["to_state"]) for a in uow.staged(ClaimAudit)]
    assert steps[-2:] == [("held", "created"), ("created", "scrubbed")]
    assert "rebuilt from revision 2" in uow.staged(ClaimAudit)[-2]["reason"]
    assert "claims-submitter" in uow.locks


async def test_a_claim_on_its_way_to_the_payer_is_not_rebuilt(uow):
    await _handle(uow, _event(_on(3)))
    [record] = await _claims(uow)
    record.state, record.submission_file = "submitted", "837P-000000001.x12"
    before = record.claim
    await _handle(uow, _event(_on(4), revision=2))
    assert (record.state, record.claim) == ("submitted", before)
    assert uow.staged(ClaimAudit)[-1]["event"] == "amendment_not_applied"


async def test_a_claim_the_payer_has_on_file_is_replaced_by_the_amended_encounter(uow):
    await _handle(uow, _event(_on(3)))
    [record] = await _claims(uow)
    record.state, record.payer_claim_number = "paid", "ICN42"
    await _handle(uow, _event(_on(3, lines=[("99214", 1, [], [1])]), revision=2))
    original, replacement = await _claims(uow)
    assert original.state == "corrected"
    assert (replacement.frequency_code, replacement.original_claim_id) == ("7", record.claim_id)
    assert replacement.procedure_codes == ["99214"] and replacement.state == "scrubbed"
    [changed] = uow.emitted_of("claim.state-changed")
    assert [t.event for t in changed.payload.transitions] == ["replacement_sent"]


async def test_a_repeat_without_an_amendment_changes_nothing(uow):
    coded = _on(3)
    await _handle(uow, _event(coded))
    audits = len(uow.staged(ClaimAudit))
    await _handle(uow, _event(coded))
    assert len(uow.staged(ClaimAudit)) == audits and "claims-submitter" not in uow.locks


async def test_an_amendment_that_breaks_a_clean_claim_holds_it_with_the_reason(uow):
    await _handle(uow, _event(_on(3)))
    await _handle(uow, _event(_on(500), revision=2))
    [record] = await _claims(uow)
    assert record.state == "held"
    [held] = uow.emitted_of("claim.held")
    assert [f.edit for f in held.payload.findings] == ["timely-filing"]
