"""HTTP entry point of the payer/clearinghouse simulator (a test double, not a product service):
837 in, 999 and 277CA back at once, 835 files to download after the next batch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from payer_simulator.clearinghouse import receive_837, remit_queued
from payer_simulator.edi import X12Error
from payer_simulator.settings import SimulatorSettings
from payer_simulator.store import Store

log = logging.getLogger(__name__)

X12_CONTENT_TYPES = frozenset({"text/plain", "application/edi-x12", "application/edi", ""})
MAX_REMITTANCES_PER_PAGE = 1000


class ClaimReceipt(BaseModel):
    claim_id: str
    status: str  # accepted | duplicate | rejected
    reason: str | None = None


class SubmissionResponse(BaseModel):
    submission_id: str
    accepted: bool
    ack_999: str
    ack_277ca: str | None
    claims: list[ClaimReceipt]


class RemittanceOut(BaseModel):
    seq: int
    file_name: str
    content: str


class RemittancePage(BaseModel):
    files: list[RemittanceOut]
    last_seq: int


class FlushResponse(BaseModel):
    created: list[int]


class RemittanceBatcher:
    """Every `batch_interval_s`, turns queued adjudications into 835 files until stopped."""

    def __init__(self, store: Store, settings: SimulatorSettings) -> None:
        self._store = store
        self._settings = settings
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="remittance-batcher")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._settings.batch_interval_s)
            if self._stop.is_set():
                return
            try:
                await asyncio.to_thread(remit_queued, store=self._store, settings=self._settings)
            except Exception:
                log.exception("remittance batch failed; the claims stay queued")


def get_store(request: Request) -> Store:
    store = getattr(request.app.state, "store", None)
    if store is None:
        raise HTTPException(503, "simulator is not started")
    return store


StoreDep = Annotated[Store, Depends(get_store)]


def create_app(settings: SimulatorSettings | None = None) -> FastAPI:
    settings = settings or SimulatorSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.database_path)
        batcher = RemittanceBatcher(store, settings)
        app.state.store = store
        app.state.batcher = batcher
        batcher.start()
        try:
            yield
        finally:
            await batcher.stop()
            store.close()

    app = FastAPI(
        title="ClaimFlow payer/clearinghouse simulator",
        description="A test double speaking X12: 837P in; 999, 277CA and 835 out.",
        lifespan=lifespan,
    )
    app.state.settings = settings

    @app.post("/v1/submissions", response_model=SubmissionResponse)
    async def submit(request: Request, store: StoreDep) -> SubmissionResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in X12_CONTENT_TYPES:
            raise HTTPException(415, "send the 837 as text/plain or application/edi-x12")
        text = _decode(await request.body())
        try:
            result = await asyncio.to_thread(receive_837, store=store, settings=settings, text=text)
        except X12Error as exc:
            raise HTTPException(422, f"body is not an X12 837 interchange: {exc}") from exc
        return SubmissionResponse(
            submission_id=result.submission_id,
            accepted=result.accepted,
            ack_999=result.ack_999,
            ack_277ca=result.ack_277ca,
            claims=[ClaimReceipt(**entry) for entry in result.claims],
        )

    @app.get("/v1/remittances", response_model=RemittancePage)
    async def remittances(
        store: StoreDep,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_REMITTANCES_PER_PAGE)] = 100,
    ) -> RemittancePage:
        def page() -> list[RemittanceOut]:
            with store.transaction() as tx:
                return [
                    RemittanceOut(seq=f.seq, file_name=f.file_name, content=f.content)
                    for f in tx.remittances(after=after, limit=limit)
                ]

        files = await asyncio.to_thread(page)
        return RemittancePage(files=files, last_seq=files[-1].seq if files else after)

    @app.post("/v1/remittances/flush", response_model=FlushResponse)
    async def flush(store: StoreDep) -> FlushResponse:
        created = await asyncio.to_thread(remit_queued, store=store, settings=settings)
        return FlushResponse(created=created)

    @app.get("/v1/stats")
    async def stats(store: StoreDep) -> dict[str, object]:
        def read() -> dict[str, object]:
            with store.transaction() as tx:
                return tx.stats()

        return await asyncio.to_thread(read)

    @app.get("/v1/receipts")
    async def receipts(store: StoreDep) -> dict[str, dict[str, int]]:
        """Claim id → how often it arrived, and in how many distinct interchanges."""

        def read() -> dict[str, dict[str, int]]:
            with store.transaction() as tx:
                return tx.receipts()

        return await asyncio.to_thread(read)

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready")
    async def ready(request: Request) -> JSONResponse:
        store = getattr(request.app.state, "store", None)
        batcher = getattr(request.app.state, "batcher", None)
        checks = {
            "store": store is not None and store.ping(),
            "batcher": batcher is not None and batcher.running,
        }
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    return app


def _decode(body: bytes) -> str:
    if not body.strip():
        raise HTTPException(422, "empty body: send the 837 interchange as the request body")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(422, "body is not text: an X12 837 interchange is ASCII") from exc


def run() -> None:
    """Start the simulator with uvicorn on the settings' host and port."""
    settings = SimulatorSettings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port)
