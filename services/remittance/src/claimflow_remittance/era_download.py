"""The ERA download: take new 835 files from the clearinghouse and post each one in the unit
of work that moves the cursor, so a crash repeats nothing and skips nothing. One replica
downloads at a time (an advisory lock held across the download and the postings). A file that
cannot be posted for a reason other than an outage is quarantined with its error, for an
operator, and the cursor moves on: one bad 835 never stops the others."""

from __future__ import annotations

import asyncio
import logging
import time

from claimflow_remittance.adapters.clearinghouse import EraFile, EraSource
from claimflow_remittance.ledger import ImportResult, import_835, quarantine, sweep_parked
from claimflow_remittance.settings import Settings
from claimflow_remittance.unit_of_work import SqlRemittanceUnitOfWork
from claimflow_shared.runtime.db import describe_error, is_outage, is_retryable
from claimflow_shared.runtime.loops import Backoff, repeat
from claimflow_shared.runtime.uow import UnitsOfWork

log = logging.getLogger("claimflow.remittance.era")


class EraDownload:
    """Background task: download and post while there are new files, else poll gently."""

    name = "era-download"

    def __init__(
        self,
        *,
        uows: UnitsOfWork[SqlRemittanceUnitOfWork],
        source: EraSource,
        settings: Settings,
        files_per_poll: int = 20,
    ) -> None:
        self.uows = uows
        self.source = source
        self.settings = settings
        self.files_per_poll = files_per_poll
        self._next_sweep = 0.0
        self._tries: dict[int, int] = {}

    async def run(self) -> None:
        await repeat(
            self.download_once,
            what="ERA download",
            backoff=Backoff(0.5, 15.0),
            idle=lambda: asyncio.sleep(self.settings.era_poll_interval_s),
        )

    async def download_once(self) -> bool:
        """Post the next files after the cursor; True when there may be more."""
        async with self.uows.hold_lock("era-download") as mine:
            if not mine:
                return False
            async with self.uows() as uow:
                after = (await uow.ledger.cursor(self.source.name)).last_seq
            files = await self.source.files_after(after, limit=self.files_per_poll)
            for era in files:
                result = await self.take(era)
                log.info(
                    "835 taken",
                    extra={
                        "file_id": result.file_id,
                        "status": result.status,
                        "count": len(result.posted),
                    },
                )
            if time.monotonic() >= self._next_sweep:
                self._next_sweep = time.monotonic() + self.settings.unmatched_sweep_interval_s
                await self.sweep()
            return len(files) == self.files_per_poll

    async def take(self, era: EraFile) -> ImportResult:
        """Post one file and move the cursor past it in the same unit of work; a file that
        fails for any reason but an outage is quarantined instead, and the cursor moves on."""
        received_by = f"clearinghouse:{self.source.name}"
        try:
            async with self.uows(principal=received_by) as uow:
                cursor = await uow.ledger.cursor(self.source.name)
                result = await import_835(
                    uow=uow,
                    source=self.source.name,
                    source_ref=str(era.seq),
                    content=era.content,
                    received_by=received_by,
                )
                cursor.last_seq = era.seq
            return result
        except Exception as exc:
            if is_outage(exc) or not await self.uows.db.ping():
                raise  # the database is away: waited for with backoff, nothing skipped
            tries = self._tries[era.seq] = self._tries.get(era.seq, 0) + 1
            if is_retryable(exc) and tries < self.settings.retry_max_attempts:
                raise  # a deadlock or a timeout: the same file again, a bounded number of times
            log.error("835 quarantined", extra={"seq": era.seq, "error": describe_error(exc)})
            async with self.uows(principal=received_by) as uow:
                cursor = await uow.ledger.cursor(self.source.name)
                result = quarantine(
                    uow,
                    source=self.source.name,
                    source_ref=str(era.seq),
                    content=era.content,
                    received_by=received_by,
                    error=f"posting failed: {describe_error(exc)}",
                )
                cursor.last_seq = era.seq
            return result

    async def sweep(self, limit: int = 500) -> int:
        """Safety net: post waiting payments whose claim has become known (also those whose
        CLP01 the payer cut short, which the claim's own arrival cannot find)."""
        async with self.uows() as uow:
            return await sweep_parked(uow, limit=limit)
