"""The transactional outbox: events are written with the state change and a relay publishes
them with an idempotent producer (acks=all). A crash between commit and publish loses
nothing; a crash between publish and marking republishes, and the inbox absorbs it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from sqlalchemy import delete, func, select, text, update
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_shared.events.envelope import EventEnvelope
from claimflow_shared.runtime import metrics
from claimflow_shared.runtime.db import Database
from claimflow_shared.runtime.loops import Backoff, repeat
from claimflow_shared.runtime.tables import OutboxMessage, TimelineEntry
from claimflow_shared.topics import TOPICS, message_key

log = logging.getLogger("claimflow.outbox")

RELAY_LOCK = 7_311_001


def envelope_headers(envelope: EventEnvelope) -> dict[str, str]:
    return {
        "event_id": str(envelope.event_id),
        "event_type": envelope.event_type,
        "schema_version": envelope.schema_version,
        "tenant_id": envelope.tenant_id,
        "encounter_id": envelope.encounter_id,
        "producer": envelope.producer,
    }


def add_to_outbox(session: AsyncSession, envelope: EventEnvelope, *, detail: str | None = None):
    """Stage an event for publishing in the caller's transaction, and note it on the timeline."""
    topic = TOPICS[envelope.event_type]
    session.add(
        OutboxMessage(
            event_id=envelope.event_id,
            event_type=envelope.event_type,
            topic=topic.name,
            key=message_key(envelope.tenant_id, envelope.encounter_id),
            tenant_id=envelope.tenant_id,
            encounter_id=envelope.encounter_id,
            value=envelope.model_dump_json().encode(),
            headers=envelope_headers(envelope),
        )
    )
    session.add(
        TimelineEntry(
            tenant_id=envelope.tenant_id,
            encounter_id=envelope.encounter_id,
            event_id=envelope.event_id,
            event_type=envelope.event_type,
            direction="produced",
            causation_id=envelope.causation_id,
            occurred_at=envelope.occurred_at,
            detail=detail,
        )
    )


class OutboxRelay:
    """Publishes unpublished outbox rows in id order. One relay publishes at a time per
    database (a PostgreSQL advisory lock), so per-encounter order survives replicas."""

    def __init__(
        self,
        *,
        db: Database,
        producer: AIOKafkaProducer,
        service: str,
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
        retention: timedelta = timedelta(hours=24),
    ) -> None:
        self.db = db
        self.producer = producer
        self.service = service
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retention = retention
        self._wake = asyncio.Event()
        self._last_purge = datetime.now(UTC)
        self.healthy = True

    def notify(self) -> None:
        self._wake.set()

    async def run(self) -> None:
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
        async with self.db.transaction() as session:
            if self.db.is_postgres:
                got = await session.exec(
                    text("SELECT pg_try_advisory_xact_lock(:k)").bindparams(k=RELAY_LOCK)
                )
                if not got.scalar():
                    return 0
            rows = (
                (
                    await session.exec(
                        select(OutboxMessage)
                        .where(OutboxMessage.published_at.is_(None))
                        .order_by(OutboxMessage.id)
                        .limit(self.batch_size)
                    )
                )
                .scalars()
                .all()
            )
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
            await session.exec(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([row.id for row in rows]))
                .values(published_at=datetime.now(UTC))
            )
        for row in rows:
            metrics.EVENTS_PUBLISHED.labels(self.service, row.event_type).inc()
        return len(rows)

    async def backlog(self) -> int:
        async with self.db.sessions() as session:
            result = await session.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.published_at.is_(None))
            )
            return int(result.scalar_one())

    async def purge(self) -> None:
        cutoff = datetime.now(UTC) - self.retention
        async with self.db.transaction() as session:
            await session.exec(
                delete(OutboxMessage).where(
                    OutboxMessage.published_at.is_not(None), OutboxMessage.published_at < cutoff
                )
            )
