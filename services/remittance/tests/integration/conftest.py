"""The remittance service on a real (SQLite) database, in process: its SQL repositories,
commands and HTTP API, without Kafka. The same code runs on PostgreSQL in the stack tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from claimflow_remittance import handlers
from claimflow_remittance.entrypoints import http
from claimflow_remittance.ledger import import_835
from claimflow_remittance.settings import Settings
from claimflow_remittance.unit_of_work import SqlRemittanceUnitOfWork
from claimflow_shared.runtime.db import Database
from claimflow_shared.runtime.tables import OutboxMessage
from claimflow_shared.runtime.tenancy import Access, hash_api_key
from claimflow_shared.runtime.uow import UnitsOfWork

KEYS = {
    "tenant-key-t1": "alice:tenant:t1",
    "tenant-key-t2": "bob:tenant:t2",
    "operator-key": "ops:operator:*",
}


@pytest.fixture
async def db(tmp_path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'remittance.db'}")
    await database.create_tables()
    yield database
    await database.dispose()


@pytest.fixture
def uows(db) -> UnitsOfWork[SqlRemittanceUnitOfWork]:
    return UnitsOfWork(SqlRemittanceUnitOfWork, db, producer="claimflow-remittance/test")


def app_for(uows, *, keys: bool = True, max_upload_bytes: int = 1024 * 1024) -> FastAPI:
    app = FastAPI()
    spec = ",".join(f"{who}:{hash_api_key(key)}" for key, who in KEYS.items())
    app.state.access = Access(spec=spec) if keys else Access(dev=True)
    app.include_router(http.router(uows, Settings(max_upload_bytes=max_upload_bytes)))
    return app


@pytest.fixture
async def api(uows) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_for(uows))
    async with httpx.AsyncClient(transport=transport, base_url="http://remittance") as client:
        yield client


def as_tenant(tenant: str = "t1") -> dict[str, str]:
    return {"X-API-Key": f"tenant-key-{tenant}"}


OPERATOR = {"X-API-Key": "operator-key"}


async def deliver(uows, event, *, handle=handlers.on_claim_submitted, load=handlers.load_submitted):
    async with uows() as uow:
        uow.cause = event
        await load(uow=uow, events=[event])
        await handle(uow=uow, event=event)


async def upload(uows, text: str, *, tenant: str = "t1", ref: str | None = None):
    async with uows(principal="tenant:alice") as uow:
        return await import_835(
            uow=uow,
            source="upload",
            source_ref=ref or f"{tenant}:{hash(text)}",
            content=text,
            received_by="tenant:alice",
            tenant_id=tenant,
        )


async def download(uows, text: str, *, seq: int):
    async with uows() as uow:
        return await import_835(
            uow=uow,
            source="clearinghouse",
            source_ref=str(seq),
            content=text,
            received_by="clearinghouse:clearinghouse",
        )


async def outbox(db: Database, event_type: str | None = None) -> list[dict]:
    async with db.sessions() as session:
        rows = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        events = [json.loads(r.value) for r in rows]
    return [e for e in events if event_type is None or e["event_type"] == event_type]
