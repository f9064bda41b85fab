"""Bulk ingest jobs: an uploaded NDJSON or CSV file is spooled to disk as it arrives (never
held in memory), then read in batches; each batch's encounters, per-record results and the
checkpoint after it commit together. A job is worked by one replica at a time (an advisory
lock held for the whole job), and a job a crash interrupted is picked up again from its last
checkpoint, so nothing before it is read or published twice.

The spool lives under DATA_DIR: replicas that should resume each other's jobs share it (a
volume); otherwise a job resumes when the replica that received it restarts."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from claimflow_intake.adapters.tables import BulkJob
from claimflow_intake.domain.bulk import (
    BulkFileError,
    BulkRecord,
    Checkpoint,
    read_csv,
    read_ndjson,
)
from claimflow_intake.handlers import ingest_bulk_records, today
from claimflow_intake.settings import Settings
from claimflow_intake.unit_of_work import SqlIntakeUnitOfWork
from claimflow_shared.runtime import faults
from claimflow_shared.runtime.loops import Backoff, repeat
from claimflow_shared.runtime.uow import UnitsOfWork

log = logging.getLogger("claimflow.intake.bulk")

FORMATS = ("ndjson", "csv")


def new_job_id() -> str:
    return f"B{uuid.uuid4().hex[:20].upper()}"


class BulkIngest:
    """Background task: work queued and interrupted jobs whose spool file is here."""

    name = "bulk-ingest"

    def __init__(self, *, uows: UnitsOfWork[SqlIntakeUnitOfWork], settings: Settings) -> None:
        self.uows = uows
        self.settings = settings
        self.spool_dir = Path(settings.data_dir) / "intake-bulk"
        self._wake = asyncio.Event()

    def spool_path(self, job_id: str, fmt: str) -> Path:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        return self.spool_dir / f"{job_id}.{fmt}"

    def wake(self) -> None:
        self._wake.set()

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.settings.bulk_poll_interval_s)
        self._wake.clear()

    async def run(self) -> None:
        await repeat(
            self.ingest_pending,
            what="bulk ingest",
            idle=self._idle,
            backoff=Backoff(0.5, 15.0),
        )

    async def ingest_pending(self) -> bool:
        """Work every unfinished job this replica can read; True when one was worked."""
        async with self.uows() as uow:
            jobs = await uow.bulk.unfinished()
        worked = False
        for job in jobs:
            if await asyncio.to_thread(Path(job.spool).exists):
                worked |= await self.ingest(job.job_id)
        return worked

    async def ingest(self, job_id: str) -> bool:
        async with self.uows.hold_lock(f"intake-bulk:{job_id}") as mine:
            if not mine:
                return False
            async with self.uows() as uow:
                job = await uow.bulk.job(job_id)
                if job is None or job.status not in ("queued", "running"):
                    return False
                job.status = "running"
                uow.bulk.changed(job)
                registry = await uow.registry.load(job.tenant_id)
            spool = Path(job.spool)
            resume = Checkpoint(job.offset, job.ordinal, job.line)
            stream = await asyncio.to_thread(spool.open, "rb")
            try:
                if job.format == "csv":
                    records = read_csv(
                        stream,
                        registry=registry,
                        today=today(),
                        source_system=job.source_system,
                        resume=resume,
                    )
                else:
                    records = read_ndjson(
                        stream,
                        registry=registry,
                        today=today(),
                        source_system=job.source_system,
                        resume=resume,
                    )
                await self._batches(job_id, records)
            except BulkFileError as exc:
                await self._finish(job_id, "failed", error=str(exc)[:2000])
            else:
                await self._finish(job_id, "done")
                log.info("bulk job done", extra={"job_id": job_id})
            finally:
                stream.close()
            await asyncio.to_thread(spool.unlink, missing_ok=True)
            return True

    async def _batches(self, job_id: str, records: Iterator[BulkRecord]) -> None:
        size = self.settings.bulk_batch_records
        while True:
            # Reading and validating is CPU work: off the event loop, one batch at a time.
            batch = await asyncio.to_thread(lambda: list(itertools.islice(records, size)))
            if not batch:
                return
            async with self.uows() as uow:
                job = await uow.bulk.job(job_id)
                assert job is not None
                await ingest_bulk_records(uow=uow, job=job, records=batch)
            faults.crash_point("intake-bulk-batch")

    async def _finish(self, job_id: str, status: str, *, error: str | None = None) -> None:
        async with self.uows() as uow:
            job = await uow.bulk.job(job_id)
            assert job is not None
            job.status, job.error = status, error
            job.finished_at = job.updated_at = datetime.now(UTC)
            uow.bulk.changed(job)


async def receive_upload(
    *,
    ingest: BulkIngest,
    job: BulkJob,
    chunks,
    max_bytes: int,
) -> int:
    """Write the request body to the job's spool file as it arrives; returns its size, or
    raises `UploadTooLarge` (the spool is removed)."""
    path = Path(job.spool)
    size = 0
    out = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(max_bytes)
            await asyncio.to_thread(out.write, chunk)
        await asyncio.to_thread(_flush, out)
    except BaseException:
        out.close()
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    out.close()
    return size


def _flush(stream) -> None:
    """On disk before the job is queued: a crash after that resumes from the spool."""
    stream.flush()
    os.fsync(stream.fileno())


class UploadTooLarge(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than {limit} bytes")
        self.limit = limit
