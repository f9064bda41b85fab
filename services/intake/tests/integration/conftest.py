"""Intake's HTTP API in process over a real (SQLite) database: the routers, the SQL
repositories and the bulk job runner exactly as the service wires them, without Kafka (the
outbox is read from the database instead of being relayed)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from claimflow_intake.bulk_jobs import BulkIngest
from claimflow_intake.entrypoints import admin, http
from claimflow_intake.settings import Settings
from claimflow_intake.unit_of_work import SqlIntakeUnitOfWork
from claimflow_shared.runtime.service import Runtime
from claimflow_shared.runtime.tables import OutboxMessage
from claimflow_shared.runtime.tenancy import Access
from claimflow_shared.runtime.uow import UnitsOfWork


@dataclass
class Intake:
    client: httpx.AsyncClient
    uows: UnitsOfWork[SqlIntakeUnitOfWork]
    bulk: BulkIngest
    settings: Settings

    async def published(self, tenant: str | None = None) -> list[dict]:
        """Every event in the outbox (what the relay would publish), oldest first."""
        async with self.uows() as uow:
            rows = await uow.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))
            events = [json.loads(r.value) for r in rows.scalars()]
        return [e for e in events if tenant is None or e["tenant_id"] == tenant]


def intake_settings(folder: Path, **changes) -> Settings:
    return Settings(
        data_dir=folder,
        database_url=f"sqlite+aiosqlite:///{folder / 'intake.db'}",
        allow_insecure_dev=True,
        mllp_port=0,
        **changes,
    )


@pytest.fixture
async def intake(tmp_path: Path) -> AsyncIterator[Intake]:
    settings = intake_settings(tmp_path)
    runtime = Runtime(settings, version="test")
    await runtime.db.create_tables()
    uows = runtime.units_of_work(SqlIntakeUnitOfWork)
    bulk = BulkIngest(uows=uows, settings=settings)
    app = FastAPI()
    app.state.access = Access(dev=True)
    app.include_router(http.router(uows, settings=settings, bulk=bulk))
    app.include_router(admin.router(uows))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        yield Intake(client, uows, bulk, settings)
    await runtime.db.dispose()
