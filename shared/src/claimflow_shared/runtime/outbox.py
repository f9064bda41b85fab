"""The outbox relay: events are written with the state change (see `UnitOfWork.emit`) and
the relay publishes them with an idempotent producer (acks=all). A crash between commit and
publish loses nothing; a crash between publish and marking republishes, and the inbox of
every consumer absorbs it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from sqlalchemy import delete, func, select, update

from claimflow_shared.runtime import faults, metrics
from claimflow_shared.runtime.db import Database
from claimflow_shared.runtime.loops import Backoff, repeat
from claimflow_shared.runtime.tables import OutboxMessage

log = logging.getLogger("claimflow.outbox")

_UNPUBLISHED = (
    OutboxMessage.id,
    OutboxMessage.topic,
    OutboxMessage.key,
    OutboxMessage.value,
    OutboxMessage.headers,
    OutboxMessage.event_type,
)


class OutboxRelay:
    """Publishes unpublished outbox rows in id order. One relay publishes at a time per
    database (an advisory lock held for the whole batch), so per-encounter order survives
    replicas."""

    def __init__(
        self,
        *,
        db: Database,
        service: str,
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
        retention: timedelta = timedelta(hours=24),
    ) -> None:
        self.db = db
        self.service = service
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retention = retention
        self.producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._last_purge = datetime.now(UTC)
        self.healthy = True

    def notify(self) -> None:
        self._wake.set()

    async def run(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        await repeat(
            self._publish_and_purge,
            what="outbox relay",
            idle=self._wait_for_work,
            backoff=Backoff(0.2, 10.0),
            on_error=self._unhealthy,
        )

    async def _publish_and_purge(self) -> bool:
        published = await self.publish_batch()
        self.healthy = True
        if datetime.now(UTC) - self._last_purge > timedelta(minutes=10):
            await self.purge()
            self._last_purge = datetime.now(UTC)
        return published == self.batch_size

    async def _wait_for_work(self) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)

    def _unhealthy(self, _: Exception) -> None:
        self.healthy = False

    async def publish_batch(self) -> int:
        assert self.producer is not None, "run() gives the relay its producer"
        async with self.db.transaction() as session:
            if not await self.db.try_lock(session, "outbox-relay"):
                return 0
            rows = (
                await session.execute(
                    select(*_UNPUBLISHED)
                    .where(OutboxMessage.published_at.is_(None))
                    .order_by(OutboxMessage.id)
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                return 0
            futures = [
                await self.producer.send(
                    row.topic,
                    value=row.value,
                    key=row.key.encode(),
                    headers=[(k, str(v).encode()) for k, v in row.headers.items()],
                )
                for row in rows
            ]
            await asyncio.gather(*futures)
            faults.crash_point("after-relay-send")
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([row.id for row in rows]))
                .values(published_at=datetime.now(UTC))
            )
        for row in rows:
            metrics.EVENTS_PUBLISHED.labels(self.service, row.event_type).inc()
        return len(rows)

    async def backlog(self) -> int:
        async with self.db.sessions() as session:
            result = await session.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.published_at.is_(None))
            )
            return int(result.scalar_one())

    async def purge(self) -> None:
        cutoff = datetime.now(UTC) - self.retention
        async with self.db.transaction() as session:
            await session.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.published_at.is_not(None), OutboxMessage.published_at < cutoff
                )
            )
