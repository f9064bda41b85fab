"""The unit of work: one transaction in which a handler or a command changes the service's
state, stages the events it causes (the outbox) and appends rows in bulk; the commit is the
only moment any of it becomes true, and the outbox relay is woken right after it.

`UnitOfWork` is what handlers see; `SqlUnitOfWork` runs it on the service's database and
`FakeUnitOfWork` keeps it in memory for handler unit tests. Services subclass both to attach
their repositories."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Generic, Self, TypeVar

from pydantic import BaseModel
from sqlalchemy import JSON, insert, select
from sqlalchemy.dialects import postgresql
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_shared.events.envelope import EventEnvelope, new_event
from claimflow_shared.runtime.db import Database, among
from claimflow_shared.runtime.tables import InboxMessage, OutboxMessage, TimelineEntry, utcnow
from claimflow_shared.topics import TOPICS, Topic, message_key

U = TypeVar("U", bound="SqlUnitOfWork")


def envelope_headers(envelope: EventEnvelope) -> dict[str, str]:
    return {
        "event_id": str(envelope.event_id),
        "event_type": envelope.event_type,
        "schema_version": envelope.schema_version,
        "tenant_id": envelope.tenant_id,
        "encounter_id": envelope.encounter_id,
        "producer": envelope.producer,
    }


class UnitOfWork:
    """What a handler or command works through: its repositories (attached by the service),
    `emit` for events, `stage` for rows written set-wise at commit, and advisory locks.

    `cause` is the event being handled (set by the consumer per event) and `principal` who
    asked for a command; emitted events take their tenant, encounter and causation from the
    cause unless told otherwise."""

    def __init__(self, *, producer: str, principal: str | None = None) -> None:
        self.producer = producer
        self.principal = principal
        self.cause: EventEnvelope | None = None
        self.emitted: list[EventEnvelope] = []
        self._staged: dict[type[SQLModel], list[dict[str, Any]]] = {}

    def emit(
        self,
        topic: Topic,
        payload: BaseModel,
        *,
        tenant_id: str | None = None,
        encounter_id: str | None = None,
        causation_id: uuid.UUID | None = None,
        detail: str | None = None,
    ) -> EventEnvelope:
        """Stage an event; the relay publishes it after the commit, never before."""
        cause = self.cause
        tenant = tenant_id or (cause.tenant_id if cause else None)
        encounter = encounter_id or (cause.encounter_id if cause else None)
        if tenant is None or encounter is None:
            raise ValueError("an event outside a consumed event needs tenant_id and encounter_id")
        envelope = new_event(
            event_type=topic.event_type,
            schema_version=topic.version,
            tenant_id=tenant,
            encounter_id=encounter,
            payload=payload,
            producer=self.producer,
            causation_id=causation_id or (cause.event_id if cause else None),
        )
        self.stage(
            OutboxMessage,
            event_id=envelope.event_id,
            event_type=envelope.event_type,
            topic=TOPICS[envelope.event_type].name,
            key=message_key(envelope.tenant_id, envelope.encounter_id),
            tenant_id=envelope.tenant_id,
            encounter_id=envelope.encounter_id,
            value=envelope.model_dump_json().encode(),
            headers=envelope_headers(envelope),
            created_at=utcnow(),
            published_at=None,
        )
        self.note(envelope, direction="produced", detail=detail)
        self.emitted.append(envelope)
        return envelope

    def note(self, envelope: EventEnvelope, *, direction: str, detail: str | None = None) -> None:
        """Put an event on the encounter's timeline (consumed, produced or received)."""
        self.stage(
            TimelineEntry,
            tenant_id=envelope.tenant_id,
            encounter_id=envelope.encounter_id,
            event_id=envelope.event_id,
            event_type=envelope.event_type,
            direction=direction,
            causation_id=envelope.causation_id,
            occurred_at=envelope.occurred_at,
            at=utcnow(),
            detail=detail,
        )

    def stage(self, table: type[SQLModel], **row: Any) -> None:
        """Append a row to be inserted with its table's other rows in one statement at commit.
        For append-only rows nobody reads back in the same transaction (audit, postings,
        timeline); rows read back go through the session."""
        self._staged.setdefault(table, []).append(row)

    def insert(self, table: type[SQLModel], **values: Any) -> None:
        """Stage a row from its values, the table's Python-side defaults filled in, without
        building a model object (cheaper on hot paths than `add`)."""
        row = {
            name: factory() if factory else default
            for name, (factory, default) in _defaults(table).items()
            if name not in values
        }
        row.update(values)
        self.stage(table, **row)

    def add(self, row: SQLModel) -> None:
        """Stage a table row built as a model (its defaults filled in) for the set-wise insert."""
        values = {column.key: getattr(row, column.key) for column in type(row).__table__.columns}
        if values.get("id", 0) is None:
            del values["id"]  # the database numbers it
        self.stage(type(row), **values)

    def staged(self, table: type[SQLModel]) -> list[dict[str, Any]]:
        return self._staged.get(table, [])

    async def lock(self, name: str) -> None:
        """Hold an advisory lock named `name` until the transaction ends."""
        raise NotImplementedError

    async def lock_all(self, names: Iterable[str]) -> None:
        """Hold many locks, taken in a fixed order so two units never wait in a circle."""
        for name in sorted(set(names)):
            await self.lock(name)

    async def try_lock(self, name: str) -> bool:
        """Take the advisory lock `name` for this transaction if nobody holds it."""
        raise NotImplementedError

    async def seen(self, consumer: str, event_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these events the consumer group already handled (the inbox)."""
        raise NotImplementedError


@functools.cache
def _defaults(table: type[SQLModel]) -> dict[str, tuple[Callable[[], Any] | None, Any]]:
    """Each column's default: (factory, None) or (None, value); the numbered id left out."""
    defaults: dict[str, tuple[Callable[[], Any] | None, Any]] = {}
    for name, field in table.model_fields.items():
        if name == "id" or name not in table.__table__.columns:
            continue
        if field.default_factory is not None:
            defaults[name] = (field.default_factory, None)
        elif not field.is_required():
            defaults[name] = (None, field.default)
    return defaults


class SqlUnitOfWork(UnitOfWork):
    """A unit of work on the service's database. Use as `async with factory() as uow:`; it
    commits when the block ends without an error and rolls back otherwise."""

    session: AsyncSession

    def __init__(
        self,
        db: Database,
        *,
        producer: str,
        principal: str | None = None,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(producer=producer, principal=principal)
        self.db = db
        self._on_commit = on_commit
        self._locks: set[str] = set()

    def attach(self, session: AsyncSession) -> None:
        """Services attach their repositories over the session here."""

    async def __aenter__(self) -> Self:
        self.session = self.db.sessions()
        await self.session.begin()
        self.attach(self.session)
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                await self._write_staged()
                await self.session.commit()
            else:
                await self.session.rollback()
        finally:
            await self.session.close()
        if exc_type is None and self.emitted:
            self._on_commit()

    async def _write_staged(self) -> None:
        await self.session.flush()
        for table, rows in self._staged.items():
            # Rows of one table may name different columns (optional ones left out).
            by_shape: dict[frozenset[str], list[dict[str, Any]]] = {}
            for row in rows:
                by_shape.setdefault(frozenset(row), []).append(row)
            for shaped in by_shape.values():
                if self.db.is_postgres:
                    await _insert_unnest(self.session, table, shaped)
                else:
                    await self.session.execute(insert(table), shaped)
        self._staged.clear()

    async def lock(self, name: str) -> None:
        if name not in self._locks:
            await self.db.lock(self.session, name)
            self._locks.add(name)

    async def lock_all(self, names: Iterable[str]) -> None:
        wanted = set(names) - self._locks
        await self.db.lock_all(self.session, sorted(wanted))
        self._locks |= wanted

    async def try_lock(self, name: str) -> bool:
        if name in self._locks:
            return True
        got = await self.db.try_lock(self.session, name)
        if got:
            self._locks.add(name)
        return got

    async def seen(self, consumer: str, event_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        ids = list(event_ids)
        if not ids:
            return set()
        result = await self.session.execute(
            select(InboxMessage.event_id).where(
                InboxMessage.consumer == consumer,
                among(self.session, InboxMessage.event_id, ids),
            )
        )
        return set(result.scalars().all())


@functools.cache
def _unnest_insert_sql(table: type[SQLModel], names: tuple[str, ...]) -> str:
    """`INSERT ... SELECT FROM unnest($1::t1[], $2::t2[], ...)`: one statement, the same text
    whatever the number of rows, so PostgreSQL prepares it once and takes a batch in one
    round trip. JSON travels as text and is cast per row."""
    dialect = postgresql.dialect()
    columns = table.__table__.columns
    arrays, selected = [], []
    for n, name in enumerate(names, start=1):
        kind = columns[name].type
        if isinstance(kind, JSON):
            arrays.append(f"${n}::text[]")
            selected.append(f"u.c{n}::json")
        else:
            arrays.append(f"${n}::{kind.compile(dialect=dialect)}[]")
            selected.append(f"u.c{n}")
    aliases = ", ".join(f"c{n}" for n in range(1, len(names) + 1))
    quote = dialect.identifier_preparer.quote
    return (
        f"INSERT INTO {quote(table.__tablename__)} ({', '.join(quote(n) for n in names)}) "
        f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) AS u({aliases})"
    )


async def _insert_unnest(
    session: AsyncSession, table: type[SQLModel], rows: list[dict[str, Any]]
) -> None:
    names = tuple(rows[0])
    columns = table.__table__.columns
    arrays = []
    for name in names:
        values = [row[name] for row in rows]
        if isinstance(columns[name].type, JSON):
            values = [None if v is None else json.dumps(v, default=str) for v in values]
        arrays.append(values)
    connection = await session.connection()
    await connection.exec_driver_sql(_unnest_insert_sql(table, names), tuple(arrays))


class FakeUnitOfWork(UnitOfWork):
    """A unit of work in memory, for handler unit tests: what was emitted, staged, locked and
    handled is there to assert on; `commit()` marks it committed."""

    def __init__(self, *, producer: str = "test/0", principal: str | None = None) -> None:
        super().__init__(producer=producer, principal=principal)
        self.locks: list[str] = []
        self.handled: set[tuple[str, uuid.UUID]] = set()
        self.committed = False

    async def lock(self, name: str) -> None:
        self.locks.append(name)

    async def try_lock(self, name: str) -> bool:
        self.locks.append(name)
        return True

    async def seen(self, consumer: str, event_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        return {e for e in event_ids if (consumer, e) in self.handled}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self.committed = exc_type is None


class UnitsOfWork(Generic[U]):
    """Opens units of work of one service's kind: `async with uows() as uow:`."""

    def __init__(
        self,
        kind: type[U],
        db: Database,
        *,
        producer: str,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.kind = kind
        self.db = db
        self.producer = producer
        self.on_commit = on_commit

    def hold_lock(self, name: str):
        """See `Database.hold_lock`: a lock across several units of work."""
        return self.db.hold_lock(name)

    def __call__(self, *, principal: str | None = None) -> U:
        return self.kind(
            self.db, producer=self.producer, principal=principal, on_commit=self.on_commit
        )
