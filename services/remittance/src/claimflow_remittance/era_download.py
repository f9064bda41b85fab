"""The ERA download: take new 835 files from the clearinghouse and post each one in the unit
of work that moves the cursor, so a crash repeats nothing and skips nothing. One replica
downloads at a time (an advisory lock held across the download and the postings)."""

from __future__ import annotations

import asyncio
import logging

from claimflow_remittance.adapters.clearinghouse import EraSource
from claimflow_remittance.ledger import import_835, post_parked
from claimflow_remittance.settings import Settings
from claimflow_remittance.unit_of_work import SqlRemittanceUnitOfWork
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
                async with self.uows() as uow:
                    cursor = await uow.ledger.cursor(self.source.name)
                    result = await import_835(
                        uow=uow,
                        source=self.source.name,
                        source_ref=str(era.seq),
                        content=era.content,
                    )
                    cursor.last_seq = era.seq
                log.info("835 posted", extra={"file_id": result.file_id, "count": result.posted})
            await self.sweep()
            return len(files) == self.files_per_poll

    async def sweep(self, limit: int = 500) -> int:
        """Safety net: post parked payments whose claim has become known."""
        async with self.uows() as uow:
            claim_ids = await uow.ledger.matchable_parked(limit=limit)
            if not claim_ids:
                return 0
            await uow.lock_claims(claim_ids)
            return await post_parked(uow, claim_ids)
