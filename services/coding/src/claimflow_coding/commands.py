"""What a coder (or an administrator) asks of the coding service: claim, release, accept,
correct, query the provider, record the answer; set a tenant's threshold. Each runs in one
unit of work with the caller as principal, leaves an audit row with the state before and
after, and a decision emits `encounter.coded` so the encounter flows on to claims."""

from __future__ import annotations

from dataclasses import dataclass

from claimflow_coding.adapters.tables import (
    CodingAction,
    TenantCodingSettings,
    WorklistClaim,
    WorklistItem,
)
from claimflow_coding.domain.worklist import (
    Decision,
    ItemAction,
    WorklistError,
    next_status,
    resolve,
)
from claimflow_coding.handlers import (
    audit,
    encounter_lock,
    end_claim,
    item_snapshot,
    save_coding,
)
from claimflow_coding.unit_of_work import CodingUnitOfWork
from claimflow_shared.events import CodingQueryRaised, EncounterDocumented
from claimflow_shared.runtime.tables import utcnow
from claimflow_shared.topics import ENCOUNTER_CODED


@dataclass(frozen=True)
class Caller:
    """Who acts, and for which tenant (None: an operator acting across tenants)."""

    principal: str
    tenant_id: str | None


async def _item(uow: CodingUnitOfWork, item_id: int, caller: Caller) -> WorklistItem:
    """The item, locked: its encounter's advisory lock first (the consumer coding an
    amendment takes the same lock, then the row: the same order, so neither waits on the
    other in a circle), then the row as committed now."""
    found = await uow.worklist.get(item_id, tenant_id=caller.tenant_id)
    if found is None:
        # Another tenant's item answers the same as a missing one: existence is not leaked.
        raise WorklistError("not-found", "item_id", "no such worklist item")
    await uow.lock(encounter_lock(found.tenant_id, found.encounter_id))
    locked = await uow.worklist.get(item_id, tenant_id=caller.tenant_id, for_update=True)
    assert locked is not None
    return locked


def _check_revision(item: WorklistItem, revision: int | None) -> None:
    if revision is not None and revision != item.revision:
        raise WorklistError(
            "conflict",
            "revision",
            f"the item is now at documented revision {item.revision}; reload it",
        )


async def claim_item(
    *, uow: CodingUnitOfWork, item_id: int, caller: Caller, take_over: bool = False
) -> WorklistItem:
    item = await _item(uow, item_id, caller)
    if item.claimed_by == caller.principal and item.status != "open":
        return item  # claiming what one holds already changes nothing
    before = item_snapshot(item)
    status = next_status(
        item.status,
        ItemAction.CLAIM,
        holder=item.claimed_by,
        principal=caller.principal,
        take_over=take_over,
    )
    if take_over:
        await end_claim(uow, item, f"taken over by {caller.principal}")
    item.status, item.claimed_by, item.claimed_at = status.value, caller.principal, utcnow()
    uow.worklist.add_claim(
        WorklistClaim(item_id=item_id, tenant_id=item.tenant_id, coder=caller.principal)
    )
    audit(
        uow,
        item,
        ItemAction.CLAIM,
        principal=caller.principal,
        before=before,
        after=item_snapshot(item),
        note="taken over" if take_over else None,
    )
    return item


async def release_item(*, uow: CodingUnitOfWork, item_id: int, caller: Caller) -> WorklistItem:
    item = await _item(uow, item_id, caller)
    before = item_snapshot(item)
    status = next_status(
        item.status, ItemAction.RELEASE, holder=item.claimed_by, principal=caller.principal
    )
    await end_claim(uow, item, "released")
    item.status, item.claimed_by, item.claimed_at = status.value, None, None
    audit(
        uow,
        item,
        ItemAction.RELEASE,
        principal=caller.principal,
        before=before,
        after=item_snapshot(item),
    )
    return item


async def decide_item(
    *,
    uow: CodingUnitOfWork,
    item_id: int,
    caller: Caller,
    decision: Decision,
    revision: int | None = None,
) -> WorklistItem:
    """Accept the suggestion (`decision.diagnoses` None) or the coder's corrected codes:
    checked by the edits, recorded, and sent on as `encounter.coded`."""
    item = await _item(uow, item_id, caller)
    _check_revision(item, revision)
    action = (
        ItemAction.ACCEPT
        if decision.diagnoses is None and decision.lines is None
        else (ItemAction.CORRECT)
    )
    before = item_snapshot(item)
    status = next_status(item.status, action, holder=item.claimed_by, principal=caller.principal)
    await _resolve(uow, item, decision, caller, action, before, status.value)
    return item


async def _resolve(
    uow: CodingUnitOfWork,
    item: WorklistItem,
    decision: Decision,
    caller: Caller,
    action: ItemAction,
    before: dict,
    status: str,
) -> None:
    documented = EncounterDocumented.model_validate(item.documented)
    suggestion = CodingQueryRaised.model_validate(item.suggestion)
    coded = resolve(
        documented=documented,
        suggestion=suggestion,
        decision=decision,
        coder=caller.principal,
        threshold=item.threshold,
    ).to_event(documented, revision=item.revision)
    record = await uow.codings.get(item.tenant_id, item.encounter_id)
    save_coding(uow, record, item.tenant_id, item.encounter_id, coded=coded)
    await end_claim(uow, item, "resolved")
    item.status, item.resolved_by, item.resolved_at = status, caller.principal, utcnow()
    after = item_snapshot(item) | {
        "final_diagnoses": [d.code for d in coded.final_diagnoses],
        "final_lines": [
            f"{x.code}{'-' + '-'.join(x.modifiers) if x.modifiers else ''}"
            for x in coded.service_lines
        ],
        "decisions": [f"{d.code}:{d.decision.value}" for d in coded.final_diagnoses],
    }
    audit(
        uow,
        item,
        action,
        principal=caller.principal,
        before=before,
        after=after,
        note=decision.note,
    )
    uow.emit(
        ENCOUNTER_CODED,
        coded,
        tenant_id=item.tenant_id,
        encounter_id=item.encounter_id,
        causation_id=item.raised_event_id,
        detail=f"{action.value} by {caller.principal}",
    )


async def query_provider(
    *, uow: CodingUnitOfWork, item_id: int, caller: Caller, question: str
) -> WorklistItem:
    """Record the physician query the coder sends; the item waits for the answer."""
    item = await _item(uow, item_id, caller)
    before = item_snapshot(item)
    status = next_status(
        item.status, ItemAction.QUERY_PROVIDER, holder=item.claimed_by, principal=caller.principal
    )
    item.status, item.provider_query, item.provider_answer = status.value, question, None
    audit(
        uow,
        item,
        ItemAction.QUERY_PROVIDER,
        principal=caller.principal,
        before=before,
        after=item_snapshot(item) | {"question": question},
    )
    return item


async def answer_query(
    *,
    uow: CodingUnitOfWork,
    item_id: int,
    caller: Caller,
    answer: str,
    decision: Decision | None = None,
) -> WorklistItem:
    """Record the provider's answer. With codes, the answer resolves the item at once (the
    codes are the coder's, found through the provider); without, it returns to the coder."""
    item = await _item(uow, item_id, caller)
    before = item_snapshot(item)
    status = next_status(
        item.status, ItemAction.ANSWER, holder=item.claimed_by, principal=caller.principal
    )
    item.status, item.provider_answer = status.value, answer
    audit(
        uow,
        item,
        ItemAction.ANSWER,
        principal=caller.principal,
        before=before,
        after=item_snapshot(item) | {"answer": answer},
    )
    if decision is not None:
        before = item_snapshot(item)
        action = (
            ItemAction.ACCEPT
            if decision.diagnoses is None and decision.lines is None
            else (ItemAction.CORRECT)
        )
        status = next_status(
            item.status, action, holder=item.claimed_by, principal=caller.principal
        )
        await _resolve(uow, item, decision, caller, action, before, status.value)
    return item


async def set_threshold(
    *,
    uow: CodingUnitOfWork,
    tenant_id: str,
    threshold: float,
    principal: str,
    note: str | None = None,
) -> TenantCodingSettings:
    """Set the confidence a tenant's suggestions must reach to be coded without a human."""
    current = await uow.settings.get(tenant_id)
    before = {"auto_code_threshold": current.auto_code_threshold} if current else {}
    if current is None:
        current = TenantCodingSettings(
            tenant_id=tenant_id, auto_code_threshold=threshold, updated_by=principal
        )
        uow.settings.add(current)
    else:
        current.auto_code_threshold, current.updated_by = threshold, principal
        current.updated_at = utcnow()
    uow.worklist.record(
        CodingAction(
            tenant_id=tenant_id,
            action="set-threshold",
            principal=principal,
            before=before,
            after={"auto_code_threshold": threshold},
            note=note,
        )
    )
    return current
