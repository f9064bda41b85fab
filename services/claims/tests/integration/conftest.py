"""The claims service on a real (SQLite) database with the payer simulator in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from claimflow_claims.settings import Settings
from claimflow_claims.submission import ClaimSubmitter
from claimflow_claims.unit_of_work import SqlClaimsUnitOfWork
from claimflow_shared.runtime.service import Runtime
from services.claims.tests.integration.lifecycle_support import ClaimsHarness, InProcessSimulator


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[ClaimsHarness]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'claims.db'}",
        data_dir=tmp_path,
        submit_max_wait_s=0,
    )
    runtime = Runtime(settings, version="test")
    await runtime.db.create_tables()
    uows = runtime.units_of_work(SqlClaimsUnitOfWork)
    simulator = InProcessSimulator(tmp_path / "simulator")
    submitter = ClaimSubmitter(uows=uows, clearinghouse=simulator, settings=settings)
    try:
        yield ClaimsHarness(uows, submitter, simulator)
    finally:
        await simulator.close()
        await runtime.db.dispose()


@pytest.fixture
async def api(harness):
    """The claims HTTP API over the harness's database (development access: X-Tenant-ID)."""
    import httpx
    from fastapi import FastAPI

    from claimflow_claims.entrypoints import http
    from claimflow_shared.runtime.tenancy import Access

    app = FastAPI()
    app.state.access = Access(dev=True)
    app.include_router(http.router(harness.uows))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://claims", headers={"X-Tenant-ID": "acme"}
    ) as client:
        yield client
