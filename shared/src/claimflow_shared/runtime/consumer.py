"""The one way a service consumes an event: decode at the edge, de-duplicate through the
inbox in the same transaction as the effect, retry transient failures with backoff, send
what can never succeed to the DLQ, and only then commit the offset."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaProducer
from pydantic import ValidationError
from sqlalchemy import select

from claimflow_shared.events.envelope import EventEnvelope
from claimflow_shared.runtime import metrics
from claimflow_shared.runtime.context import HandlerContext
from claimflow_shared.runtime.db import Database, describe_error, is_transient
from claimflow_shared.runtime.loops import Backoff
from claimflow_shared.runtime.tables import InboxMessage, TimelineEntry
from claimflow_shared.topics import Topic

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord

log = logging.getLogger("claimflow.consumer")

Handler = Callable[[HandlerContext, EventEnvelope], Awaitable[None]]


class UndecodableEvent(ValueError):
    """The message can never be handled as it is: bad JSON, schema, type or major version."""


def decode_event(topic: Topic, value: bytes | None) -> EventEnvelope:
    if not value:
        raise UndecodableEvent("empty message")
    try:
        head = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UndecodableEvent(f"not JSON: {exc}") from exc
    if not isinstance(head, dict):
        raise UndecodableEvent("event is not a JSON object")
    if head.get("event_type") != topic.event_type:
        raise UndecodableEvent(
            f"event_type {head.get('event_type')!r} does not belong on topic {topic.name}"
        )
    version = str(head.get("schema_version", ""))
    if version.split(".")[0] != str(topic.major):
        raise UndecodableEvent(
            f"schema_version {version!r} is not major version {topic.major} of {topic.name}"
        )
    try:
        return EventEnvelope[topic.payload].model_validate(head)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:10]
        )
        raise UndecodableEvent(f"invalid {topic.event_type}: {problems}") from exc


class EventConsumer:
    """Handles one topic's messages for one service."""

    def __init__(
        self,
        *,
        topic: Topic,
        handler: Handler,
        db: Database,
        producer: AIOKafkaProducer,
        service: str,
        producer_name: str,
        consumer_group: str,
        on_committed: Callable[[], None] = lambda: None,
        initial_backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
    ) -> None:
        self.topic = topic
        self.handler = handler
        self.db = db
        self.producer = producer
        self.service = service
        self.producer_name = producer_name
        self.consumer_group = consumer_group
        self.on_committed = on_committed
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s

    async def consume(self, record: ConsumerRecord) -> str:
        """Take one record to a final outcome; the caller commits the offset afterwards."""
        try:
            envelope = decode_event(self.topic, record.value)
        except UndecodableEvent as exc:
            await self.dead_letter(record, exc)
            return self._count("unknown", "dead-lettered")
        backoff = self._backoff()
        while True:
            started = time.perf_counter()
            try:
                outcome = await self._handle_once(envelope, record)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Whatever the error says, a database that does not answer is an outage,
                # not a poison message: never dead-letter while it is away.
                if is_transient(exc) or not await self.db.ping():
                    metrics.TRANSIENT_RETRIES.labels(self.service, envelope.event_type).inc()
                    log.warning(
                        "transient failure, retrying",
                        extra={
                            "event_id": str(envelope.event_id),
                            "error": describe_error(exc),
                            "backoff_s": backoff.current_s,
                        },
                    )
                    await backoff.wait()
                    continue
                log.error(
                    "handler failed; dead-lettering",
                    extra={"event_id": str(envelope.event_id), "error": describe_error(exc)},
                )
                await self.dead_letter(record, exc)
                return self._count(envelope.event_type, "dead-lettered")
            metrics.HANDLER_SECONDS.labels(self.service, envelope.event_type).observe(
                time.perf_counter() - started
            )
            if outcome == "handled":
                self.on_committed()
            return self._count(envelope.event_type, outcome)

    async def _handle_once(self, envelope: EventEnvelope, record: ConsumerRecord) -> str:
        async with self.db.transaction() as session:
            seen = await session.exec(
                select(InboxMessage.event_id).where(
                    InboxMessage.consumer == self.consumer_group,
                    InboxMessage.event_id == envelope.event_id,
                )
            )
            if seen.first() is not None:
                return "duplicate"
            session.add(
                InboxMessage(
                    consumer=self.consumer_group,
                    event_id=envelope.event_id,
                    event_type=envelope.event_type,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                )
            )
            session.add(
                TimelineEntry(
                    tenant_id=envelope.tenant_id,
                    encounter_id=envelope.encounter_id,
                    event_id=envelope.event_id,
                    event_type=envelope.event_type,
                    direction="consumed",
                    causation_id=envelope.causation_id,
                    occurred_at=envelope.occurred_at,
                )
            )
            ctx = HandlerContext(session=session, producer=self.producer_name, cause=envelope)
            await self.handler(ctx, envelope)
        return "handled"

    async def dead_letter(self, record: ConsumerRecord, error: BaseException) -> None:
        """Publish the original bytes to `<topic>.dlq` with the error and coordinates; retried
        until the broker takes it, because committing past an unsaved dead letter loses it."""
        headers = list(record.headers or [])
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        headers += [
            ("dlq.error", detail[:4000].encode()),
            ("dlq.error_type", type(error).__name__.encode()),
            ("dlq.original_topic", record.topic.encode()),
            ("dlq.original_partition", str(record.partition).encode()),
            ("dlq.original_offset", str(record.offset).encode()),
            ("dlq.original_timestamp", str(record.timestamp).encode()),
            ("dlq.consumer_group", self.consumer_group.encode()),
            ("dlq.service", self.service.encode()),
        ]
        backoff = self._backoff()
        while True:
            try:
                await self.producer.send_and_wait(
                    self.topic.dlq, value=record.value, key=record.key, headers=headers
                )
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dead letter not yet published", extra={"error": type(exc).__name__})
                await backoff.wait()

    def _backoff(self) -> Backoff:
        return Backoff(self.initial_backoff_s, self.max_backoff_s)

    def _count(self, event_type: str, outcome: str) -> str:
        metrics.EVENTS_CONSUMED.labels(self.service, event_type, outcome).inc()
        return outcome
