"""The service's own database: an async engine from DATABASE_URL (PostgreSQL in production,
an SQLite file per service by default), a unit of work, and the transient-error test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


class Database:
    """Engine plus session factory; `transaction()` is the unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self.is_postgres = url.startswith("postgresql")

    async def create_tables(self) -> None:
        async with self.engine.begin() as conn:
            if self.is_postgres:
                # Several replicas may start at once; serialise DDL on an advisory lock.
                await conn.execute(text("SELECT pg_advisory_xact_lock(424242)"))
            await conn.run_sync(SQLModel.metadata.create_all)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


# SQLSTATE classes worth retrying: connection exception, transaction rollback (serialization,
# deadlock), insufficient resources, operator intervention (shutdown), system error.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
_TRANSIENT_DRIVER_ERRORS = (
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "InterfaceError",
    "CannotConnectNowError",
    "TooManyConnectionsError",
    "InternalClientError",
)


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying without skipping the message: the database or network is away."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        sqlstate = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        if sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES:
            return True
        chain = [orig, getattr(orig, "__cause__", None), getattr(orig, "__context__", None)]
        if any(type(e).__name__ in _TRANSIENT_DRIVER_ERRORS for e in chain if e is not None):
            return True
        if any(isinstance(e, OSError | ConnectionError) for e in chain if e is not None):
            return True
        return "connection" in str(orig).lower() and "closed" in str(orig).lower()
    return isinstance(exc, ConnectionError | TimeoutError | asyncio.TimeoutError | OSError)


def describe_error(exc: BaseException) -> str:
    """The error's type, and the driver's beneath it: safe to log (no values, no PHI)."""
    orig = getattr(exc, "orig", None)
    return (
        f"{type(exc).__name__}({type(orig).__name__})" if orig is not None else type(exc).__name__
    )
