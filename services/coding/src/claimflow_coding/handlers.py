"""What the coding service does on each event: code the documented encounter, or put it on the
coder worklist with the reasons and a suggestion. An amendment (a newer revision of the same
document) is coded again; a repeat or an older revision changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from claimflow_coding.adapters.tables import CodingAction, EncounterCoding, WorklistItem
from claimflow_coding.domain.cac import DEFAULT_THRESHOLD
from claimflow_coding.domain.coding import Coded, NeedsQuery, code_encounter
from claimflow_coding.domain.worklist import WAITING, ItemAction, ItemStatus, next_status
from claimflow_coding.unit_of_work import CodingUnitOfWork
from claimflow_shared.events import (
    CodingQueryRaised,
    EncounterCoded,
    EncounterDocumented,
    EventEnvelope,
)
from claimflow_shared.runtime.tables import utcnow
from claimflow_shared.topics import CODING_QUERY_RAISED, ENCOUNTER_CODED

AUTO_CODER = "claimflow-coding/auto"


def encounter_lock(tenant_id: str, encounter_id: str) -> str:
    """Held by whoever changes an encounter's coding: the consumer re-coding an amendment
    and a coder acting on its worklist item."""
    return f"coding:{tenant_id}:{encounter_id}"


def revision_of(documented: EncounterDocumented) -> int:
    return documented.amendment.revision if documented.amendment else 1


async def load_codings(
    *, uow: CodingUnitOfWork, events: Sequence[EventEnvelope[EncounterDocumented]]
) -> None:
    """One lookup for a whole batch: which encounters were coded already, the tenants'
    thresholds; amendments take their encounter's lock first, so a coder's concurrent
    decision is either seen or waits."""
    amended = [e for e in events if e.payload.amendment is not None]
    if amended:
        await uow.lock_all(encounter_lock(e.tenant_id, e.encounter_id) for e in amended)
        await uow.worklist.load((e.tenant_id, e.encounter_id) for e in amended)
    await uow.codings.load((e.tenant_id, e.encounter_id) for e in events)
    await uow.settings.load({e.tenant_id for e in events})


async def on_encounter_documented(
    *,
    uow: CodingUnitOfWork,
    event: EventEnvelope[EncounterDocumented],
    default_threshold: float = DEFAULT_THRESHOLD,
) -> None:
    """Code the encounter as documented, or raise a coder query naming what is wrong."""
    documented = event.payload
    revision = revision_of(documented)
    record = await uow.codings.get(event.tenant_id, event.encounter_id)
    if record is not None and revision <= record.revision:
        return
    item = None
    if record is not None:
        await uow.lock(encounter_lock(event.tenant_id, event.encounter_id))
        item = await uow.worklist.for_encounter(event.tenant_id, event.encounter_id)
    threshold = await uow.settings.threshold(event.tenant_id)
    threshold = default_threshold if threshold is None else threshold
    outcome = code_encounter(documented, coder=AUTO_CODER, threshold=threshold)
    if isinstance(outcome, Coded):
        coded = outcome.to_event(documented, revision=revision)
        save_coding(uow, record, event.tenant_id, event.encounter_id, coded=coded)
        if item is not None and item.status in _WAITING:
            await _supersede(uow, item, revision)
        uow.emit(ENCOUNTER_CODED, coded, detail=f"auto-coded, revision {revision}")
        return
    save_coding(uow, record, event.tenant_id, event.encounter_id, revision=revision, query=outcome)
    query = outcome.to_event(documented, revision=revision)
    raised = uow.emit(CODING_QUERY_RAISED, query, detail=", ".join(outcome.rules)[:200])
    if item is not None:
        await end_claim(uow, item, "reopened")
    _raise(uow, item, event, outcome, query, raised_event_id=raised.event_id, threshold=threshold)


_WAITING = {status.value for status in WAITING}


def save_coding(
    uow: CodingUnitOfWork,
    record: EncounterCoding | None,
    tenant_id: str,
    encounter_id: str,
    *,
    coded: EncounterCoded | None = None,
    query: NeedsQuery | None = None,
    revision: int | None = None,
) -> EncounterCoding:
    """Record the encounter's current coding (new, or replacing what an older revision or
    the worklist decided)."""
    values: dict[str, Any]
    if coded is not None:
        values = {
            "revision": coded.revision or revision or 1,
            "status": "coded",
            "coded_by": coded.coded_by,
            "diagnoses": [d.code for d in coded.final_diagnoses],
            "service_lines": [_line(x) for x in coded.service_lines],
            "hcc_categories": [h.model_dump(mode="json") for h in coded.hcc_categories],
            "hccs": hcc_filter_text(h.hcc for h in coded.hcc_categories),
            "query_rules": [],
        }
    else:
        assert query is not None
        values = {
            "revision": revision or 1,
            "status": "query",
            "coded_by": AUTO_CODER,
            "diagnoses": [],
            "service_lines": [],
            "hcc_categories": [],
            "hccs": ",",
            "query_rules": query.rules,
        }
    if record is None:
        record = EncounterCoding(tenant_id=tenant_id, encounter_id=encounter_id, **values)
        uow.codings.add(record)
        return record
    for name, value in values.items():
        setattr(record, name, value)
    record.decided_at = utcnow()
    return record


def hcc_filter_text(hccs: Iterable[str]) -> str:
    return "," + "".join(f"{h}," for h in hccs)


def _line(line) -> dict[str, Any]:
    return {
        "code_system": line.code_system.value,
        "code": line.code,
        "modifiers": list(line.modifiers),
        "units": line.units,
        "diagnosis_pointers": list(line.diagnosis_pointers),
    }


def item_snapshot(item: WorklistItem) -> dict[str, Any]:
    """What the audit trail keeps of an item before and after an action."""
    suggestion = item.suggestion or {}
    return {
        "status": item.status,
        "revision": item.revision,
        "claimed_by": item.claimed_by,
        "rules": [r for r in item.rules.split(",") if r],
        "diagnoses": [d["code"] for d in suggestion.get("suggested_diagnoses", [])],
        "service_lines": [
            f"{x['code']}{'-' + '-'.join(x['modifiers']) if x.get('modifiers') else ''}"
            for x in suggestion.get("suggested_lines", [])
        ],
    }


def audit(
    uow: CodingUnitOfWork,
    item: WorklistItem,
    action: ItemAction | str,
    *,
    principal: str,
    before: dict[str, Any],
    after: dict[str, Any],
    note: str | None = None,
) -> None:
    uow.worklist.record(
        CodingAction(
            tenant_id=item.tenant_id,
            encounter_id=item.encounter_id,
            item_id=item.id,
            action=str(getattr(action, "value", action)),
            principal=principal,
            before=before,
            after=after,
            note=note,
        )
    )


def _raise(
    uow: CodingUnitOfWork,
    item: WorklistItem | None,
    event: EventEnvelope[EncounterDocumented],
    outcome: NeedsQuery,
    query: CodingQueryRaised,
    *,
    raised_event_id: uuid.UUID,
    threshold: float,
) -> None:
    """Put the encounter on the worklist, or back on it (a new revision reopens the item)."""
    documented = event.payload
    fields = {
        "revision": query.revision or 1,
        "rules": "," + ",".join(outcome.rules) + ",",
        "reasons": [r.model_dump(mode="json") for r in outcome.reasons],
        "suggestion": query.model_dump(mode="json"),
        "documented": documented.model_dump(mode="json"),
        "payer_id": documented.coverages[0].payer.payer_id,
        "hccs": hcc_filter_text(h.hcc for h in query.hcc_categories),
        "threshold": threshold,
        "raised_event_id": raised_event_id,
    }
    revision = fields["revision"]
    if item is None:
        new = WorklistItem(
            tenant_id=event.tenant_id,
            encounter_id=event.encounter_id,
            status=ItemStatus.OPEN.value,
            **fields,
        )
        uow.worklist.add(new)
        # The item's id is known after the flush: the trail is kept per encounter.
        uow.worklist.record(
            CodingAction(
                tenant_id=event.tenant_id,
                encounter_id=event.encounter_id,
                item_id=None,
                action=ItemAction.RAISE.value,
                principal=AUTO_CODER,
                before={},
                after={"status": new.status, "revision": revision, "rules": outcome.rules},
            )
        )
        return
    before = item_snapshot(item)
    item.status = next_status(
        item.status, ItemAction.REOPEN, holder=item.claimed_by, principal=AUTO_CODER
    ).value
    for name, value in fields.items():
        setattr(item, name, value)
    item.raised_at = utcnow()
    item.claimed_by = item.claimed_at = item.resolved_by = item.resolved_at = None
    item.provider_query = item.provider_answer = None
    audit(
        uow,
        item,
        ItemAction.REOPEN,
        principal=AUTO_CODER,
        before=before,
        after=item_snapshot(item),
        note=f"documented revision {revision} raised a query again",
    )


async def _supersede(uow: CodingUnitOfWork, item: WorklistItem, revision: int) -> None:
    before = item_snapshot(item)
    await end_claim(uow, item, "superseded")
    item.status = next_status(
        item.status, ItemAction.SUPERSEDE, holder=item.claimed_by, principal=AUTO_CODER
    ).value
    item.resolved_by, item.resolved_at = AUTO_CODER, utcnow()
    audit(
        uow,
        item,
        ItemAction.SUPERSEDE,
        principal=AUTO_CODER,
        before=before,
        after=item_snapshot(item),
        note=f"documented revision {revision} was coded automatically",
    )


async def end_claim(uow: CodingUnitOfWork, item: WorklistItem, outcome: str) -> None:
    """Close the coder's hold on the item, if one is open."""
    if item.id is None or item.claimed_by is None:
        return
    claim = await uow.worklist.open_claim(item.id)
    if claim is not None:
        claim.ended_at, claim.outcome = utcnow(), outcome
