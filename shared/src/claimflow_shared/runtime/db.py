"""The service's own database: an async engine from DATABASE_URL (PostgreSQL in production,
an SQLite file per service by default), a unit of work, and the transient-error test."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import ARRAY, any_, bindparam, event, select, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # No pre-ping: a round trip per transaction for nothing, since a dropped connection fails
    # the transaction, which is retried as transient and the pool replaces the connection.
    # hide_parameters: error messages never carry bound values (patient data) into logs or
    # dead-letter headers.
    return create_async_engine(
        url, pool_size=10, max_overflow=10, pool_recycle=1800, hide_parameters=True
    )


def among(session: AsyncSession, column: Any, values: Iterable[Any]) -> Any:
    """`column IN values`. On PostgreSQL as `column = ANY($1)` with one array parameter, so
    the statement text (and asyncpg's prepared statement) is the same for every batch
    instead of one new statement to prepare per number of values."""
    values = list(values)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


async def rows_by_encounter(
    session: AsyncSession,
    table: type[SQLModel],
    keys: Iterable[tuple[str, str]],
    *,
    for_update: bool = False,
) -> dict[tuple[str, str], Any]:
    """The row of `table` for each (tenant, encounter) key, None where there is none, in one
    query for a whole batch. `for_update` also locks them until the transaction ends, in
    encounter-id order, so that two batches wait for each other rather than deadlock."""
    wanted = set(keys)
    if not wanted:
        return {}
    column: Any = table.encounter_id  # type: ignore[attr-defined]
    query = select(table).where(among(session, column, {e for _, e in wanted}))
    if for_update:
        query = query.order_by(column).with_for_update()
    rows = await session.execute(query)
    found = {(r.tenant_id, r.encounter_id): r for r in rows.scalars()}
    return {key: found.get(key) for key in wanted}


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name, the same in every replica."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Database:
    """Engine plus session factory; `transaction()` is the unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self.is_postgres = url.startswith("postgresql")
        self._local_locks: dict[str, asyncio.Lock] = {}

    async def create_tables(self) -> None:
        async with self.engine.begin() as conn:
            if self.is_postgres:
                # Several replicas may start at once; serialise DDL on an advisory lock.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("create-tables")}
                )
            await conn.run_sync(SQLModel.metadata.create_all)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def lock(self, session: AsyncSession, name: str) -> None:
        """Wait for the advisory lock `name`, held until the session's transaction ends."""
        if self.is_postgres:
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(name)})

    async def lock_all(self, session: AsyncSession, names: list[str]) -> None:
        """Wait for many advisory locks in one statement, in key order (no lock cycles)."""
        if self.is_postgres and names:
            keys = sorted({lock_key(name) for name in names})
            await session.execute(
                text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
                {"keys": keys},
            )

    async def try_lock(self, session: AsyncSession, name: str) -> bool:
        """Take the advisory lock `name` for the transaction if no one holds it."""
        if not self.is_postgres:
            return True  # SQLite: one process per database, one writer at a time anyway
        result = await session.execute(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key(name)}
        )
        return bool(result.scalar())

    @asynccontextmanager
    async def hold_lock(self, name: str) -> AsyncIterator[bool]:
        """Hold the advisory lock `name` on a connection of its own for the whole block, across
        any transactions and outside calls it makes; yields False when another holds it. A
        crashed holder's connection closes, and the lock goes with it."""
        if not self.is_postgres:
            if self._local_locks.setdefault(name, asyncio.Lock()).locked():
                yield False
                return
            async with self._local_locks[name]:
                yield True
            return
        async with self.engine.connect() as conn:
            key = lock_key(name)
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
            await conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    with contextlib.suppress(Exception):  # a dead connection frees it anyway
                        await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        await conn.commit()

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


# SQLSTATE classes of a database that is away: connection exception, insufficient resources,
# operator intervention (shutdown), system error.
_OUTAGE_SQLSTATE_CLASSES = ("08", "53", "57", "58")
# Transaction rollback: serialization failure, deadlock. The database is up; try again.
_RETRY_SQLSTATE_CLASSES = ("40",)
_OUTAGE_DRIVER_ERRORS = (
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "InterfaceError",
    "CannotConnectNowError",
    "TooManyConnectionsError",
    "InternalClientError",
)


def _sqlstate(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


def is_outage(exc: BaseException) -> bool:
    """The database (or the network to it) is away: wait for it, never skip the message."""
    if isinstance(exc, OperationalError | InterfaceError):
        return _sqlstate(exc)[:2] not in _RETRY_SQLSTATE_CLASSES
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if _sqlstate(exc)[:2] in _OUTAGE_SQLSTATE_CLASSES:
            return True
        orig = exc.orig
        chain = [orig, getattr(orig, "__cause__", None), getattr(orig, "__context__", None)]
        if any(type(e).__name__ in _OUTAGE_DRIVER_ERRORS for e in chain if e is not None):
            return True
        if any(isinstance(e, OSError | ConnectionError) for e in chain if e is not None):
            return True
        return "connection" in str(orig).lower() and "closed" in str(orig).lower()
    return False


def is_retryable(exc: BaseException) -> bool:
    """Worth a few more attempts although nothing is down: a deadlock or serialization
    failure, a timeout or an OS error from handler code. Bounded by the caller."""
    if isinstance(exc, DBAPIError):
        return _sqlstate(exc)[:2] in _RETRY_SQLSTATE_CLASSES
    return isinstance(exc, OSError | TimeoutError | asyncio.TimeoutError)


class SafeError(Exception):
    """An error of our own whose message names fields and reasons, never values: it may go
    into logs and dead-letter headers as it is."""


def safe_error_text(exc: BaseException, limit: int = 2000) -> str:
    """What may be said of an error outside the service: our own safe errors in full; for
    anything else its kind (and the database's SQLSTATE), since its message may hold data."""
    if isinstance(exc, SafeError):
        return f"{type(exc).__name__}: {exc}"[:limit]
    sqlstate = _sqlstate(exc)
    return describe_error(exc) + (f" SQLSTATE {sqlstate}" if sqlstate else "")


def describe_error(exc: BaseException) -> str:
    """The error's type, and the driver's beneath it: safe to log (no values, no PHI)."""
    orig = getattr(exc, "orig", None)
    return (
        f"{type(exc).__name__}({type(orig).__name__})" if orig is not None else type(exc).__name__
    )
