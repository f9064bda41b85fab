"""Reading and changing claims in the claims database; every state change is audited."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_claims.adapters.tables import ClaimAudit, ClaimRecord, ControlNumber
from claimflow_claims.domain.states import ClaimEvent, ClaimState, advance


async def get_claim(session: AsyncSession, *, claim_id: str) -> ClaimRecord | None:
    return (
        (await session.exec(select(ClaimRecord).where(ClaimRecord.claim_id == claim_id)))
        .scalars()
        .first()
    )


async def claim_for_encounter(
    session: AsyncSession, *, tenant_id: str, encounter_id: str, frequency_code: str = "1"
) -> ClaimRecord | None:
    return (
        (
            await session.exec(
                select(ClaimRecord).where(
                    ClaimRecord.tenant_id == tenant_id,
                    ClaimRecord.encounter_id == encounter_id,
                    ClaimRecord.frequency_code == frequency_code,
                )
            )
        )
        .scalars()
        .first()
    )


def transition(
    session: AsyncSession,
    record: ClaimRecord,
    event: ClaimEvent,
    *,
    actor: str,
    reason: str | None = None,
) -> ClaimState:
    """Move a claim through the state machine and write the audit row in the same session."""
    before = ClaimState(record.state)
    after = advance(before, event)
    record.state = after.value
    record.updated_at = datetime.now(UTC)
    session.add(record)
    session.add(
        ClaimAudit(
            claim_id=record.claim_id,
            tenant_id=record.tenant_id,
            from_state=before.value,
            to_state=after.value,
            event=event.value,
            actor=actor,
            reason=reason,
        )
    )
    return after


def audit_created(session: AsyncSession, record: ClaimRecord, *, actor: str, reason: str):
    session.add(
        ClaimAudit(
            claim_id=record.claim_id,
            tenant_id=record.tenant_id,
            from_state=None,
            to_state=record.state,
            event="created",
            actor=actor,
            reason=reason,
        )
    )


async def next_control_number(session: AsyncSession, name: str = "isa13") -> int:
    """Allocate the next control number (1..999999999, wrapping) inside the caller's
    transaction; the row lock serialises concurrent submitters."""
    row = (
        (
            await session.exec(
                select(ControlNumber).where(ControlNumber.name == name).with_for_update()
            )
        )
        .scalars()
        .first()
    )
    if row is None:
        session.add(ControlNumber(name=name, value=1))
        await session.flush()
        return 1
    value = row.value % 999_999_999 + 1
    await session.exec(update(ControlNumber).where(ControlNumber.name == name).values(value=value))
    return value
