"""The claims repository: claims with their audit trail, what was sent and answered for
each, and X12 control numbers. Every state change goes through `transition`, which writes
its audit row and keeps the step for the `claim.state-changed` event. Batch lookups
(`load_*`) fill caches that the per-event lookups answer from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, ClassVar

from sqlalchemy import delete, func, inspect, select, update
from sqlalchemy.orm import defer
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_claims.adapters.tables import (
    ClaimAudit,
    ClaimPaymentRecord,
    ClaimRecord,
    ClaimSubmission,
    ControlNumber,
    FeeScheduleRecord,
    FeeScheduleRow,
    SubmissionFile,
)
from claimflow_claims.domain.fee_schedule import FeeRow, FeeSchedule, FeeScheduleBook
from claimflow_claims.domain.lifecycle import Step
from claimflow_claims.domain.model import Claim
from claimflow_claims.domain.scrubber import PriorClaim
from claimflow_claims.domain.states import ClaimEvent, ClaimState, advance
from claimflow_shared.events.models import ClaimTransition
from claimflow_shared.runtime.db import among
from claimflow_shared.runtime.uow import UnitOfWork

EncounterKey = tuple[str, str]
"""(tenant id, encounter id)"""
PatientKey = tuple[str, str]
"""(tenant id, MRN)"""
CONTROL_NUMBER_LIMIT = 999_999_999
CLAIM_COLUMNS = tuple(c.key for c in ClaimRecord.__table__.columns if c.key != "id")


class StagedClaim(SimpleNamespace):
    """A new claim staged for the set-wise insert at commit. It reads and changes like a
    `ClaimRecord` without the cost of building an ORM object (a third of a millisecond),
    which matters on the hot path of every coded encounter."""

    id: int | None = None


def prior_claim(record: ClaimRecord) -> PriorClaim:
    """What the scrubber's duplicate and frequency edits need to know of a claim on file."""
    return PriorClaim(
        claim_id=record.claim_id,
        patient_mrn=record.patient_mrn,
        payer_id=record.payer_id,
        billing_npi=record.billing_npi,
        state=ClaimState(record.state),
        service_dates=frozenset(date.fromisoformat(d) for d in record.service_dates),
        procedure_codes=frozenset(record.procedure_codes),
        total_charge=record.total_charge,
        payer_claim_number=record.payer_claim_number,
        frequency_code=record.frequency_code,
    )


@dataclass
class PendingChanges:
    """The steps one unit of work took a claim through, for its `claim.state-changed`."""

    record: ClaimRecord
    transitions: list[ClaimTransition]


@dataclass(frozen=True)
class QueueGroup:
    """Clean claims waiting for one (claim type, payer) interchange."""

    claim_type: str
    payer_id: str
    count: int
    oldest: datetime


class ClaimRepository:
    """Claims of every tenant; callers scope by tenant."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self._pending: dict[str, PendingChanges] = {}
        # New claims staged for the set-wise insert: a later change updates the staged row.
        self._staged_rows: dict[int, dict[str, Any]] = {}

    # -- lookups ---------------------------------------------------------------------------

    async def load_for_encounters(self, keys: Iterable[EncounterKey]) -> None:
        """Look up every claim of many encounters at once."""

    async def of_encounter(self, tenant_id: str, encounter_id: str) -> list[ClaimRecord]:
        raise NotImplementedError

    async def load(self, claim_ids: Iterable[str]) -> None:
        """Look up many claims at once."""

    async def get(self, tenant_id: str, claim_id: str) -> ClaimRecord | None:
        raise NotImplementedError

    async def load_prior_claims(self, keys: Iterable[PatientKey]) -> None:
        """Look up the claims on file of many patients at once."""

    async def prior_claims(self, tenant_id: str, patient_mrn: str) -> list[PriorClaim]:
        raise NotImplementedError

    async def claim_of(self, record: ClaimRecord) -> Claim:
        """The claim itself (its JSON), read when it was not loaded with the record."""
        return Claim.model_validate_json(record.claim)

    # -- changes ---------------------------------------------------------------------------

    def add(
        self, values: dict[str, Any], *, actor: str, reason: str, steps: Sequence[Step] = ()
    ) -> ClaimRecord:
        """A new claim from its column values, audited as created and then through `steps`
        (e.g. its scrub)."""
        now = datetime.now(UTC)
        record = StagedClaim(**({"created_at": now, "updated_at": now} | values))
        state = ClaimState.CREATED
        record.state = state.value
        self._audit(record, None, "created", actor=actor, reason=reason)
        for step in steps:
            before, state = state, advance(state, step.event)
            record.state = state.value
            self._audit(
                record, before.value, step.event.value, actor=step.actor, reason=step.reason
            )
        self._store_new(record)
        return record  # type: ignore[return-value]

    def transition(
        self, record: ClaimRecord, event: ClaimEvent, *, actor: str, reason: str | None = None
    ) -> ClaimState:
        """Move a claim through the state machine and audit it in the same transaction."""
        before = ClaimState(record.state)
        after = advance(before, event)
        record.state = after.value
        record.updated_at = datetime.now(UTC)
        self.changed(record)
        self._audit(record, before.value, event.value, actor=actor, reason=reason)
        return after

    def apply(self, record: ClaimRecord, step: Step) -> ClaimState:
        return self.transition(record, step.event, actor=step.actor, reason=step.reason)

    def note(self, record: ClaimRecord, *, event: str, actor: str, reason: str) -> None:
        """Put something on the claim's trail that changes no state (a refused event)."""
        self._audit(record, record.state, event, actor=actor, reason=reason[:500], publish=False)

    def changed(self, record: ClaimRecord) -> None:
        """The record's columns changed: write them at commit."""
        staged = self._staged_rows.get(id(record))
        if staged is not None:
            staged.update((key, getattr(record, key)) for key in CLAIM_COLUMNS)
        else:
            self._update(record)

    def _store_new(self, record: ClaimRecord) -> None:
        """Stage a new claim's row (and remember it for this unit of work's lookups)."""
        raise NotImplementedError

    def _update(self, record: ClaimRecord) -> None:
        raise NotImplementedError

    def _audit(
        self,
        record: ClaimRecord,
        before: str | None,
        event: str,
        *,
        actor: str,
        reason: str | None,
        publish: bool = True,
    ) -> None:
        at = datetime.now(UTC)
        self.uow.insert(
            ClaimAudit,
            claim_id=record.claim_id,
            tenant_id=record.tenant_id,
            from_state=before,
            to_state=record.state,
            event=event,
            actor=actor[:128],
            reason=reason,
            at=at,
        )
        if not publish:
            return
        pending = self._pending.get(record.claim_id)
        if pending is None:
            pending = self._pending[record.claim_id] = PendingChanges(record, [])
        pending.transitions.append(
            ClaimTransition(
                from_state=before,
                to_state=record.state,
                event=event,
                actor=actor[:128],
                reason=(reason or "")[:500] or None,
                at=at,
            )
        )

    def drain_changes(self) -> list[PendingChanges]:
        """The claims that moved since the last drain, each with its steps in order."""
        pending, self._pending = list(self._pending.values()), {}
        return pending

    # Append-only rows, staged from their values: building ORM objects would cost a quarter
    # of a millisecond each on the submitter's and the consumer's hot paths.

    def record_payment(self, **values: Any) -> None:
        """An 835 payment or a denial of a claim (`ClaimPaymentRecord` columns)."""
        self.uow.insert(ClaimPaymentRecord, **values)

    def record_submission(self, **values: Any) -> None:
        """A claim sent in an interchange, with what the 999 and 277CA said about it
        (`ClaimSubmission` columns)."""
        self.uow.insert(ClaimSubmission, **values)


# Bulk lookups leave the claim's JSON (kilobytes a claim) in the database until it is needed:
# following an 835 or an acknowledgment only touches the claim's state.
_LIGHT = (defer(ClaimRecord.claim),)


class SqlClaimRepository(ClaimRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.session = session
        self._by_encounter: dict[EncounterKey, list[ClaimRecord]] = {}
        self._by_id: dict[str, ClaimRecord | None] = {}
        self._by_patient: dict[PatientKey, dict[str, PriorClaim]] = {}

    def _remember(self, record: ClaimRecord) -> None:
        self._by_id[record.claim_id] = record
        key = (record.tenant_id, record.encounter_id)
        if key in self._by_encounter and record not in self._by_encounter[key]:
            self._by_encounter[key].append(record)
        patient = self._by_patient.get((record.tenant_id, record.patient_mrn))
        if patient is not None:
            patient[record.claim_id] = prior_claim(record)

    async def load_for_encounters(self, keys: Iterable[EncounterKey]) -> None:
        wanted = set(keys) - set(self._by_encounter)
        if not wanted:
            return
        rows = await self.session.execute(
            select(ClaimRecord)
            .options(*_LIGHT)
            .where(among(self.session, ClaimRecord.encounter_id, {e for _, e in wanted}))
            .order_by(ClaimRecord.sequence)
        )
        found: dict[EncounterKey, list[ClaimRecord]] = defaultdict(list)
        for record in rows.scalars():
            found[(record.tenant_id, record.encounter_id)].append(record)
            self._by_id.setdefault(record.claim_id, record)
        self._by_encounter |= {key: found.get(key, []) for key in wanted}

    async def of_encounter(self, tenant_id: str, encounter_id: str) -> list[ClaimRecord]:
        await self.load_for_encounters([(tenant_id, encounter_id)])
        return self._by_encounter[(tenant_id, encounter_id)]

    async def load(self, claim_ids: Iterable[str]) -> None:
        wanted = set(claim_ids) - set(self._by_id)
        if not wanted:
            return
        rows = await self.session.execute(
            select(ClaimRecord)
            .options(*_LIGHT)
            .where(among(self.session, ClaimRecord.claim_id, wanted))
        )
        found = {r.claim_id: r for r in rows.scalars()}
        self._by_id |= {claim_id: found.get(claim_id) for claim_id in wanted}

    async def get(self, tenant_id: str, claim_id: str) -> ClaimRecord | None:
        await self.load([claim_id])
        record = self._by_id[claim_id]
        return record if record is not None and record.tenant_id == tenant_id else None

    async def claim_of(self, record: ClaimRecord) -> Claim:
        if isinstance(record, ClaimRecord) and "claim" in inspect(record).unloaded:
            await self.session.refresh(record, attribute_names=["claim"])
        return Claim.model_validate_json(record.claim)

    async def lock_claim(self, record: ClaimRecord) -> ClaimRecord | None:
        """The claim read again under a row lock (a command changes it; the submitter may be
        putting it in an interchange at the same moment)."""
        rows = await self.session.execute(
            select(ClaimRecord)
            .where(ClaimRecord.claim_id == record.claim_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return rows.scalars().first()

    async def load_prior_claims(self, keys: Iterable[PatientKey]) -> None:
        wanted = set(keys) - set(self._by_patient)
        if not wanted:
            return
        rows = await self.session.execute(
            select(ClaimRecord)
            .options(*_LIGHT)
            .where(among(self.session, ClaimRecord.patient_mrn, {m for _, m in wanted}))
        )
        found: dict[PatientKey, dict[str, PriorClaim]] = defaultdict(dict)
        for record in rows.scalars():
            found[(record.tenant_id, record.patient_mrn)][record.claim_id] = prior_claim(record)
            self._by_id.setdefault(record.claim_id, record)
        self._by_patient |= {key: found.get(key, {}) for key in wanted}

    async def prior_claims(self, tenant_id: str, patient_mrn: str) -> list[PriorClaim]:
        await self.load_prior_claims([(tenant_id, patient_mrn)])
        return list(self._by_patient[(tenant_id, patient_mrn)].values())

    def _store_new(self, record: ClaimRecord) -> None:
        self.uow.stage(ClaimRecord, **{key: getattr(record, key) for key in CLAIM_COLUMNS})
        self._staged_rows[id(record)] = self.uow.staged(ClaimRecord)[-1]
        self._by_encounter.setdefault((record.tenant_id, record.encounter_id), [])
        self._remember(record)

    def _update(self, record: ClaimRecord) -> None:
        self.session.add(record)
        self._remember(record)

    # -- the submitter's queue -------------------------------------------------------------

    async def queue_groups(self) -> list[QueueGroup]:
        """Clean claims not yet in any interchange, per claim type and payer, oldest first."""
        rows = await self.session.execute(
            select(
                ClaimRecord.claim_type,
                ClaimRecord.payer_id,
                func.count(),
                func.min(ClaimRecord.updated_at),
            )
            .where(
                ClaimRecord.state == ClaimState.SCRUBBED.value,
                ClaimRecord.submission_file.is_(None),
            )
            .group_by(ClaimRecord.claim_type, ClaimRecord.payer_id)
        )
        groups = [QueueGroup(kind, payer, count, oldest) for kind, payer, count, oldest in rows]
        return sorted(groups, key=lambda g: g.oldest)

    async def queued(self, *, claim_type: str, payer_id: str, limit: int) -> list[ClaimRecord]:
        """Clean claims of one claim type and payer not yet in any interchange, oldest first;
        a claim a biller is changing right now (row locked) waits for the next batch."""
        rows = await self.session.execute(
            select(ClaimRecord)
            .where(
                ClaimRecord.state == ClaimState.SCRUBBED.value,
                ClaimRecord.submission_file.is_(None),
                ClaimRecord.claim_type == claim_type,
                ClaimRecord.payer_id == payer_id,
            )
            .order_by(ClaimRecord.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows.scalars())

    async def in_file(self, file_name: str, *, with_claims: bool = True) -> list[ClaimRecord]:
        rows = await self.session.execute(
            select(ClaimRecord)
            .options(*(() if with_claims else _LIGHT))
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

    async def next_control_number(self, name: str = "isa13", count: int = 1) -> int:
        """Allocate `count` consecutive control numbers (1..999999999, wrapping) in this
        transaction and return the first; the row lock serialises the submitters of every
        replica, and the number is stored, so a restart never hands it out again."""
        row = (
            (
                await self.session.execute(
                    select(ControlNumber).where(ControlNumber.name == name).with_for_update()
                )
            )
            .scalars()
            .first()
        )
        last = row.value if row is not None else 0
        first = last % CONTROL_NUMBER_LIMIT + 1
        if first + count - 1 > CONTROL_NUMBER_LIMIT:
            first = 1  # a block never straddles the wrap
        value = first + count - 1
        if row is None:
            self.session.add(ControlNumber(name=name, value=value))
            await self.session.flush()
        else:
            await self.session.execute(
                update(ControlNumber).where(ControlNumber.name == name).values(value=value)
            )
        return first

    # -- read views ------------------------------------------------------------------------

    async def search(
        self,
        tenant_id: str,
        *,
        state: str | None = None,
        payer_id: str | None = None,
        claim_type: str | None = None,
        encounter_id: str | None = None,
        service_from: date | None = None,
        service_to: date | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[ClaimRecord]:
        query = select(ClaimRecord).where(
            ClaimRecord.tenant_id == tenant_id, ClaimRecord.id > after_id
        )
        if state:
            query = query.where(ClaimRecord.state == state)
        if payer_id:
            query = query.where(ClaimRecord.payer_id == payer_id)
        if claim_type:
            query = query.where(ClaimRecord.claim_type == claim_type)
        if encounter_id:
            query = query.where(ClaimRecord.encounter_id == encounter_id)
        if service_from:
            query = query.where(ClaimRecord.period_end >= service_from)
        if service_to:
            query = query.where(ClaimRecord.period_start <= service_to)
        rows = await self.session.execute(query.order_by(ClaimRecord.id).limit(limit))
        return list(rows.scalars())

    async def audit_trail(self, tenant_id: str, claim_id: str) -> list[ClaimAudit]:
        rows = await self.session.execute(
            select(ClaimAudit)
            .where(ClaimAudit.tenant_id == tenant_id, ClaimAudit.claim_id == claim_id)
            .order_by(ClaimAudit.id)
        )
        return list(rows.scalars())

    async def payments_of(self, tenant_id: str, claim_id: str) -> list[ClaimPaymentRecord]:
        rows = await self.session.execute(
            select(ClaimPaymentRecord)
            .where(
                ClaimPaymentRecord.tenant_id == tenant_id,
                ClaimPaymentRecord.claim_id == claim_id,
            )
            .order_by(ClaimPaymentRecord.id)
        )
        return list(rows.scalars())

    async def submissions_of(self, tenant_id: str, claim_id: str) -> list[ClaimSubmission]:
        rows = await self.session.execute(
            select(ClaimSubmission)
            .where(ClaimSubmission.tenant_id == tenant_id, ClaimSubmission.claim_id == claim_id)
            .order_by(ClaimSubmission.id)
        )
        return list(rows.scalars())

    async def file(self, file_name: str) -> SubmissionFile | None:
        rows = await self.session.execute(
            select(SubmissionFile).where(SubmissionFile.file_name == file_name)
        )
        return rows.scalars().first()

    async def count_by_state(self, tenant_id: str) -> dict[str, int]:
        rows = await self.session.execute(
            select(ClaimRecord.state, func.count())
            .where(ClaimRecord.tenant_id == tenant_id)
            .group_by(ClaimRecord.state)
        )
        return {state: n for state, n in rows.all()}


class FeeScheduleRepository:
    """Tenants' fee schedules over the default one. Each process keeps the schedules it
    priced with and reloads one only when an import gave it a newer version."""

    default_schedule: ClassVar[FeeSchedule | None] = None

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def load(self, tenant_ids: Iterable[str]) -> None:
        """Make sure the schedules of these tenants are current (one query per batch)."""

    def book(self, tenant_id: str) -> FeeScheduleBook:
        raise NotImplementedError

    def schedule_for(self, tenant_id: str, payer_id: str | None) -> FeeSchedule:
        return self.book(tenant_id).schedule_for(tenant_id=tenant_id, payer_id=payer_id)

    @classmethod
    def default(cls) -> FeeSchedule:
        if cls.default_schedule is None:
            cls.default_schedule = FeeSchedule.load()
        return cls.default_schedule


class SqlFeeScheduleRepository(FeeScheduleRepository):
    # (tenant, payer) -> (version, schedule), shared by the units of work of this process.
    _cache: ClassVar[dict[tuple[str, str], tuple[int, FeeSchedule]]] = {}
    # tenant -> the (payer, version) pairs it had when last checked.
    _tenants: ClassVar[dict[str, dict[str, int]]] = {}

    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.session = session
        self._checked: set[str] = set()

    async def load(self, tenant_ids: Iterable[str]) -> None:
        wanted = set(tenant_ids) - self._checked
        if not wanted:
            return
        rows = await self.session.execute(
            select(
                FeeScheduleRecord.id,
                FeeScheduleRecord.tenant_id,
                FeeScheduleRecord.payer_id,
                FeeScheduleRecord.version,
                FeeScheduleRecord.name,
            ).where(among(self.session, FeeScheduleRecord.tenant_id, wanted))
        )
        versions: dict[str, dict[str, int]] = {tenant: {} for tenant in wanted}
        stale: list[tuple[int, str, str, int, str]] = []
        for schedule_id, tenant, payer, version, name in rows:
            versions[tenant][payer] = version
            cached = self._cache.get((tenant, payer))
            if cached is None or cached[0] != version:
                stale.append((schedule_id, tenant, payer, version, name))
        if stale:
            await self._reload(stale)
        self._tenants.update(versions)
        self._checked |= wanted

    async def _reload(self, stale: list[tuple[int, str, str, int, str]]) -> None:
        rows = await self.session.execute(
            select(FeeScheduleRow).where(
                among(self.session, FeeScheduleRow.schedule_id, [s[0] for s in stale])
            )
        )
        by_schedule: dict[int, list[FeeRow]] = defaultdict(list)
        for row in rows.scalars():
            by_schedule[row.schedule_id].append(
                FeeRow(
                    (row.code_system, row.code, row.modifier),
                    row.unit_price,
                    row.effective_date,
                    row.end_date,
                )
            )
        for schedule_id, tenant, payer, version, name in stale:
            schedule = FeeSchedule.from_rows(by_schedule[schedule_id], name=name)
            self._cache[(tenant, payer)] = (version, schedule)

    def book(self, tenant_id: str) -> FeeScheduleBook:
        payers = self._tenants.get(tenant_id, {})
        schedules = {
            (tenant_id, payer): cached[1]
            for payer in payers
            if (cached := self._cache.get((tenant_id, payer))) is not None
        }
        return FeeScheduleBook(self.default(), schedules)

    async def schedules(self, tenant_id: str) -> list[FeeScheduleRecord]:
        rows = await self.session.execute(
            select(FeeScheduleRecord)
            .where(FeeScheduleRecord.tenant_id == tenant_id)
            .order_by(FeeScheduleRecord.payer_id)
        )
        return list(rows.scalars())

    async def rows_of(self, schedule_id: int) -> list[FeeScheduleRow]:
        rows = await self.session.execute(
            select(FeeScheduleRow)
            .where(FeeScheduleRow.schedule_id == schedule_id)
            .order_by(FeeScheduleRow.code_system, FeeScheduleRow.code, FeeScheduleRow.id)
        )
        return list(rows.scalars())

    async def replace(
        self,
        *,
        tenant_id: str,
        payer_id: str,
        name: str,
        rows: Sequence[FeeRow],
        imported_by: str,
    ) -> FeeScheduleRecord:
        """Replace the tenant's schedule for the payer with `rows`, as one new version."""
        await self.uow.lock(f"fee-schedule:{tenant_id}:{payer_id}")
        found = (
            (
                await self.session.execute(
                    select(FeeScheduleRecord).where(
                        FeeScheduleRecord.tenant_id == tenant_id,
                        FeeScheduleRecord.payer_id == payer_id,
                    )
                )
            )
            .scalars()
            .first()
        )
        now = datetime.now(UTC)
        if found is None:
            found = FeeScheduleRecord(
                tenant_id=tenant_id,
                payer_id=payer_id,
                name=name,
                row_count=len(rows),
                imported_by=imported_by,
                imported_at=now,
            )
            self.session.add(found)
            await self.session.flush()
        else:
            await self.session.execute(
                delete(FeeScheduleRow).where(FeeScheduleRow.schedule_id == found.id)
            )
            found.version += 1
            found.name, found.row_count = name, len(rows)
            found.imported_by, found.imported_at = imported_by, now
            self.session.add(found)
        assert found.id is not None
        for row in rows:
            system, code, modifier = row.key
            self.uow.insert(
                FeeScheduleRow,
                schedule_id=found.id,
                code_system=system,
                code=code,
                modifier=modifier,
                unit_price=Decimal(row.unit_price),
                effective_date=row.effective,
                end_date=row.end,
            )
        self._checked.discard(tenant_id)
        return found
