"""The ERA download loop: take new 835 files from the clearinghouse and post each one in
the same transaction that moves the cursor, so a crash repeats nothing and skips nothing."""

from __future__ import annotations

import asyncio
import logging

from claimflow_remittance.adapters.clearinghouse import EraSource
from claimflow_remittance.adapters.tables import EraCursor
from claimflow_remittance.ledger import ingest_835, match_parked_payments
from claimflow_shared.runtime.context import HandlerContext
from claimflow_shared.runtime.loops import Backoff, repeat
from claimflow_shared.runtime.service import Service

log = logging.getLogger("claimflow.remittance.era")


async def download_once(service: Service, source: EraSource, *, limit: int = 20) -> int:
    async with service.db.sessions() as session:
        cursor = await session.get(EraCursor, source.name)
        after = cursor.last_seq if cursor else 0
    files = await source.files_after(after, limit=limit)
    for era in files:
        async with service.db.transaction() as session:
            cursor = await session.get(EraCursor, source.name, with_for_update=True)
            if cursor is not None and cursor.last_seq >= era.seq:
                continue  # another replica took it
            ctx = HandlerContext(session=session, producer=service.producer_name)
            result = await ingest_835(
                ctx, source=source.name, source_ref=str(era.seq), content=era.content
            )
            if cursor is None:
                session.add(EraCursor(source=source.name, last_seq=era.seq))
            else:
                cursor.last_seq = era.seq
                session.add(cursor)
        log.info("835 posted", extra={"file_id": result.file_id, "count": result.posted})
        service.notify_outbox()
    async with service.db.transaction() as session:
        rematched = await match_parked_payments(
            HandlerContext(session=session, producer=service.producer_name)
        )
    if rematched:
        service.notify_outbox()
    return len(files)


async def era_download_loop(service: Service) -> None:
    source: EraSource = service.state["era_source"]
    interval = service.settings.era_poll_interval_s  # type: ignore[attr-defined]

    async def download() -> bool:
        return bool(await download_once(service, source))

    await repeat(
        download,
        what="ERA download",
        backoff=Backoff(0.5, 15.0),
        idle=lambda: asyncio.sleep(interval),
    )
