"""The claims repository: claims with their audit trail, submitted interchanges and X12
control numbers. Every state change goes through `transition`, which writes its audit row."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_claims.adapters.tables import ClaimAudit, ClaimRecord, ControlNumber, SubmissionFile
from claimflow_claims.domain.states import ClaimEvent, ClaimState, advance
from claimflow_shared.runtime.uow import UnitOfWork

EncounterKey = tuple[str, str]
"""(tenant id, encounter id)"""


class ClaimRepository:
    """Claims of every tenant; callers scope by tenant."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def load_for_encounters(self, keys: Iterable[EncounterKey]) -> None:
        """Look up the original claims of many encounters at once."""

    async def for_encounter(self, tenant_id: str, encounter_id: str) -> ClaimRecord | None:
        raise NotImplementedError

    async def load(self, claim_ids: Iterable[str]) -> None:
        """Look up many claims at once."""

    async def get(self, tenant_id: str, claim_id: str) -> ClaimRecord | None:
        raise NotImplementedError

    def add(self, record: ClaimRecord, *, actor: str, reason: str) -> None:
        """A new claim, audited as created."""
        raise NotImplementedError

    def transition(
        self, record: ClaimRecord, event: ClaimEvent, *, actor: str, reason: str | None = None
    ) -> ClaimState:
        """Move a claim through the state machine and audit it in the same transaction."""
        before = ClaimState(record.state)
        after = advance(before, event)
        record.state = after.value
        record.updated_at = datetime.now(UTC)
        self._changed(record)
        self._audit(record, before.value, event.value, actor=actor, reason=reason)
        return after

    def _changed(self, record: ClaimRecord) -> None:
        raise NotImplementedError

    def _audit(
        self,
        record: ClaimRecord,
        before: str | None,
        event: str,
        *,
        actor: str,
        reason: str | None,
    ) -> None:
        self.uow.insert(
            ClaimAudit,
            claim_id=record.claim_id,
            tenant_id=record.tenant_id,
            from_state=before,
            to_state=record.state,
            event=event,
            actor=actor,
            reason=reason,
        )


class SqlClaimRepository(ClaimRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.session = session
        self._by_encounter: dict[EncounterKey, ClaimRecord | None] = {}
        self._by_id: dict[str, ClaimRecord | None] = {}

    async def load_for_encounters(self, keys: Iterable[EncounterKey]) -> None:
        wanted = set(keys) - set(self._by_encounter)
        if not wanted:
            return
        rows = await self.session.execute(
            select(ClaimRecord).where(
                ClaimRecord.encounter_id.in_({e for _, e in wanted}),
                ClaimRecord.frequency_code == "1",
            )
        )
        found = {(r.tenant_id, r.encounter_id): r for r in rows.scalars()}
        self._by_encounter |= {key: found.get(key) for key in wanted}

    async def for_encounter(self, tenant_id: str, encounter_id: str) -> ClaimRecord | None:
        await self.load_for_encounters([(tenant_id, encounter_id)])
        return self._by_encounter[(tenant_id, encounter_id)]

    async def load(self, claim_ids: Iterable[str]) -> None:
        wanted = set(claim_ids) - set(self._by_id)
        if not wanted:
            return
        rows = await self.session.execute(
            select(ClaimRecord).where(ClaimRecord.claim_id.in_(wanted))
        )
        found = {r.claim_id: r for r in rows.scalars()}
        self._by_id |= {claim_id: found.get(claim_id) for claim_id in wanted}

    async def get(self, tenant_id: str, claim_id: str) -> ClaimRecord | None:
        await self.load([claim_id])
        record = self._by_id[claim_id]
        return record if record is not None and record.tenant_id == tenant_id else None

    def add(self, record: ClaimRecord, *, actor: str, reason: str) -> None:
        self._by_encounter[(record.tenant_id, record.encounter_id)] = record
        self.uow.add(record)
        self._audit(record, None, "created", actor=actor, reason=reason)

    def _changed(self, record: ClaimRecord) -> None:
        self.session.add(record)

    async def ready(self, *, limit: int) -> list[ClaimRecord]:
        """Clean claims not yet in any interchange, oldest first."""
        rows = await self.session.execute(
            select(ClaimRecord)
            .where(
                ClaimRecord.state == ClaimState.READY.value,
                ClaimRecord.submission_file.is_(None),
            )
            .order_by(ClaimRecord.id)
            .limit(limit)
        )
        return list(rows.scalars())

    async def in_file(self, file_name: str) -> list[ClaimRecord]:
        rows = await self.session.execute(
            select(ClaimRecord)
            .where(ClaimRecord.submission_file == file_name)
            .order_by(ClaimRecord.id)
        )
        return list(rows.scalars())

    async def sending(self) -> SubmissionFile | None:
        """The interchange recorded before its POST whose answer was never recorded."""
        rows = await self.session.execute(
            select(SubmissionFile)
            .where(SubmissionFile.status == "sending")
            .order_by(SubmissionFile.id)
            .limit(1)
        )
        return rows.scalars().first()

    def record_file(self, file: SubmissionFile) -> None:
        self.session.add(file)

    async def next_control_number(self, name: str = "isa13") -> int:
        """Allocate the next control number (1..999999999, wrapping) in this transaction;
        the row lock serialises concurrent submitters of every replica."""
        row = (
            (
                await self.session.execute(
                    select(ControlNumber).where(ControlNumber.name == name).with_for_update()
                )
            )
            .scalars()
            .first()
        )
        if row is None:
            self.session.add(ControlNumber(name=name, value=1))
            await self.session.flush()
            return 1
        value = row.value % 999_999_999 + 1
        await self.session.execute(
            update(ControlNumber).where(ControlNumber.name == name).values(value=value)
        )
        return value

    async def search(
        self, tenant_id: str, *, state: str | None, after_id: int, limit: int
    ) -> list[ClaimRecord]:
        query = select(ClaimRecord).where(
            ClaimRecord.tenant_id == tenant_id, ClaimRecord.id > after_id
        )
        if state:
            query = query.where(ClaimRecord.state == state)
        rows = await self.session.execute(query.order_by(ClaimRecord.id).limit(limit))
        return list(rows.scalars())

    async def audit_trail(self, tenant_id: str, claim_id: str) -> list[ClaimAudit]:
        rows = await self.session.execute(
            select(ClaimAudit)
            .where(ClaimAudit.tenant_id == tenant_id, ClaimAudit.claim_id == claim_id)
            .order_by(ClaimAudit.id)
        )
        return list(rows.scalars())

    async def count_by_state(self, tenant_id: str) -> dict[str, int]:
        rows = await self.session.execute(
            select(ClaimRecord.state, func.count())
            .where(ClaimRecord.tenant_id == tenant_id)
            .group_by(ClaimRecord.state)
        )
        return {state: n for state, n in rows.all()}
