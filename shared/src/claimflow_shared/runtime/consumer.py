"""The one way a service consumes events: per partition, a poll batch is decoded at the edge
(what cannot be decoded goes to the DLQ first), applied in one transaction (one inbox lookup,
handlers in offset order, inbox, timeline and outbox rows written set-wise), and only after
that commit is the partition's offset committed. A batch that fails for a reason other than
an outage is rolled back and replayed one record at a time, so only the poison record is
dead-lettered. Partitions are applied concurrently, each on its own: a partition is paused
while its batch is applied, so one partition is never applied twice at a time and a slow
batch holds back no other partition."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    MessageSizeTooLargeError,
)
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError

from claimflow_shared.events.envelope import EventEnvelope
from claimflow_shared.runtime import faults, metrics
from claimflow_shared.runtime.broker import connection_kwargs
from claimflow_shared.runtime.db import (
    Database,
    SafeError,
    describe_error,
    is_outage,
    is_retryable,
    safe_error_text,
)
from claimflow_shared.runtime.loops import Backoff
from claimflow_shared.runtime.settings import ServiceSettings
from claimflow_shared.runtime.tables import InboxMessage, utcnow
from claimflow_shared.runtime.uow import SqlUnitOfWork
from claimflow_shared.topics import Topic

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord, TopicPartition

log = logging.getLogger("claimflow.consumer")

Handle = Callable[..., Awaitable[None]]
"""`async def on_<event>(*, uow, event) -> None`"""
Prefetch = Callable[..., Awaitable[None]]
"""`async def prefetch(*, uow, events) -> None`: one lookup for a whole batch."""


@dataclass(frozen=True)
class Subscription:
    """A topic and what the service does with each of its events. `view` reads the payload
    as a smaller model when a handler needs a few of its fields (consumers ignore the
    fields they do not know, so any subset of the contract reads every event of it)."""

    topic: Topic
    handle: Handle
    prefetch: Prefetch | None = None
    view: type[BaseModel] | None = None


class UndecodableEvent(SafeError, ValueError):
    """The message can never be handled as it is: bad JSON, schema, type or major version."""


def decode_event(
    topic: Topic, value: bytes | None, *, view: type[BaseModel] | None = None
) -> EventEnvelope:
    """The event on `topic` in these bytes, or `UndecodableEvent` saying why not: never any
    other exception, whatever the bytes (deep nesting, huge numbers, dates out of range)."""
    try:
        return _decode(topic, value, view or topic.payload)
    except UndecodableEvent:
        raise
    except (RecursionError, ValueError, OverflowError, TypeError, MemoryError) as exc:
        raise UndecodableEvent(f"cannot decode: {type(exc).__name__}") from exc


def _decode(topic: Topic, value: bytes | None, payload: type[BaseModel]) -> EventEnvelope:
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
            f"event_type {str(head.get('event_type'))[:60]!r} does not belong on topic {topic.name}"
        )
    version = str(head.get("schema_version", ""))
    if version.split(".")[0] != str(topic.major):
        raise UndecodableEvent(
            f"schema_version {version[:20]!r} is not major version {topic.major} of {topic.name}"
        )
    try:
        return EventEnvelope[payload].model_validate(head)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:10]
        )
        raise UndecodableEvent(f"invalid {topic.event_type}: {problems}") from exc


Decoded = tuple["ConsumerRecord", EventEnvelope]


class BatchConsumer:
    """One consumer-group member taking every topic a service subscribes to."""

    def __init__(
        self,
        *,
        subscriptions: Sequence[Subscription],
        units_of_work: Callable[[], SqlUnitOfWork],
        db: Database,
        settings: ServiceSettings,
        service: str,
    ) -> None:
        self.subscriptions = {s.topic.name: s for s in subscriptions}
        self.units_of_work = units_of_work
        self.db = db
        self.settings = settings
        self.service = service
        self.group = settings.consumer_group
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._done: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._commit_lock = asyncio.Lock()
        self._inflight: dict[TopicPartition, asyncio.Future] = {}
        self._failure: BaseException | None = None
        self._last_commit = 0.0
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, producer: AIOKafkaProducer) -> None:
        """Join the group; `producer` sends dead letters."""
        self.producer = producer
        s = self.settings
        self.consumer = AIOKafkaConsumer(
            group_id=self.group,
            client_id=f"claimflow-{self.service}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=s.consumer_max_poll_interval_ms,
            **connection_kwargs(s),
        )
        self.consumer.subscribe(list(self.subscriptions), listener=_Rebalance(self))
        await self.consumer.start()

    async def run(self) -> None:
        """Poll, apply and commit until `stop()`. A partition whose batch is being applied is
        paused, so the poll goes on for the others: a slow batch on one topic never holds
        back another's, and one partition is never applied twice at a time."""
        assert self.consumer is not None, "start() first"
        s = self.settings
        while not self._stopping:
            if self._failure is not None:
                raise self._failure
            assigned = max(1, len(self.consumer.assignment()))
            batches = await self.consumer.getmany(
                timeout_ms=s.consumer_batch_wait_ms,
                max_records=s.consumer_batch_records * assigned,
            )
            for tp, records in batches.items():
                if records:
                    self._start(tp, records)
            # Offsets go at most every poll wait (a commit is a broker round trip), and at
            # once when there was nothing new to read.
            now = time.monotonic()
            if not batches or now - self._last_commit >= s.consumer_batch_wait_ms / 1000:
                self._last_commit = now
                await self._commit_done()

    def _start(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        assert self.consumer is not None
        self.consumer.pause(tp)
        task = asyncio.ensure_future(self._partition(tp, records))
        self._inflight[tp] = task
        task.add_done_callback(lambda done: self._finished(tp, done))

    def _finished(self, tp: TopicPartition, task: asyncio.Future) -> None:
        if self._inflight.get(tp) is task:
            del self._inflight[tp]
        if not task.cancelled() and task.exception() is not None:
            self._failure = task.exception()
        assert self.consumer is not None
        if tp in self.consumer.assignment():
            with contextlib.suppress(IllegalStateError):
                self.consumer.resume(tp)

    async def _settle(self, partitions: set[TopicPartition] | None, timeout_s: float) -> None:
        """Let the batches in flight (of these partitions, or all) finish, for `timeout_s`."""
        tasks = [t for tp, t in self._inflight.items() if partitions is None or tp in partitions]
        if tasks:
            await asyncio.wait([asyncio.shield(t) for t in tasks], timeout=timeout_s)

    async def stop(self, timeout_s: float = 20.0) -> None:
        """Finish the batches in flight (or give up on them after `timeout_s`), commit, leave."""
        self._stopping = True
        with contextlib.suppress(Exception):
            await self._settle(None, timeout_s)
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await self._commit_done()
            with contextlib.suppress(Exception):
                await self.consumer.stop()

    def lag(self) -> dict[str, int]:
        """Records behind the end of each partition this member owns: `topic/partition`."""
        if self.consumer is None:
            return {}
        lag = {}
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            done = self._committed.get(tp, self._done.get(tp))
            if end is not None and done is not None:
                lag[f"{tp.topic}/{tp.partition}"] = max(end - done, 0)
        return lag

    # -- one partition's batch -------------------------------------------------------------

    async def _partition(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        subscription = self.subscriptions[tp.topic]
        step = self.settings.consumer_batch_records
        for start in range(0, len(records), step):
            chunk = records[start : start + step]
            decoded: list[Decoded] = []
            undecodable = []
            for record in chunk:
                try:
                    event = decode_event(subscription.topic, record.value, view=subscription.view)
                    decoded.append((record, event))
                except UndecodableEvent as exc:
                    undecodable.append((record, exc))
            if undecodable:
                await self.dead_letter_all(undecodable)
                self._count(subscription.topic.event_type, "dead-lettered", len(undecodable))
            if decoded:
                await self._apply(subscription, decoded)
            self._done[tp] = chunk[-1].offset + 1

    async def _apply(self, subscription: Subscription, decoded: list[Decoded]) -> None:
        """Apply records in one transaction. An outage is waited out however long it lasts;
        a deadlock or a timeout is tried again a few times; anything else (or what still
        fails after those tries) is isolated by applying the records one at a time, and a
        record that fails alone is dead-lettered."""
        event_type = subscription.topic.event_type
        s = self.settings
        backoff = Backoff(s.retry_initial_backoff_s, s.retry_max_backoff_s)
        attempts = 0
        while True:
            started = time.perf_counter()
            try:
                handled = await self._transaction(subscription, decoded)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                attempts += 1
                outage = is_outage(exc) or not await self.db.ping()
                if outage or (is_retryable(exc) and attempts < s.retry_max_attempts):
                    metrics.TRANSIENT_RETRIES.labels(self.service, event_type).inc()
                    log.warning(
                        "database away, waiting" if outage else "retrying the batch",
                        extra={"error": describe_error(exc), "backoff_s": backoff.current_s},
                    )
                    await backoff.wait()
                    continue
                if len(decoded) > 1:
                    log.warning(
                        "batch failed; applying its records one at a time",
                        extra={"error": describe_error(exc), "count": len(decoded)},
                    )
                    for one in decoded:
                        await self._apply(subscription, [one])
                    return
                await self._poisoned(subscription, decoded[0], exc)
                return
            metrics.BATCH_SECONDS.labels(self.service, event_type).observe(
                time.perf_counter() - started
            )
            self._count(event_type, "handled", handled)
            self._count(event_type, "duplicate", len(decoded) - handled)
            return

    async def _transaction(self, subscription: Subscription, decoded: list[Decoded]) -> int:
        async with self.units_of_work() as uow:
            seen = await uow.seen(self.group, (env.event_id for _, env in decoded))
            fresh: list[Decoded] = []
            for record, envelope in decoded:
                if envelope.event_id not in seen:
                    seen.add(envelope.event_id)  # a duplicate inside the batch counts once
                    fresh.append((record, envelope))
            if subscription.prefetch and fresh:
                await subscription.prefetch(uow=uow, events=[env for _, env in fresh])
            for record, envelope in fresh:
                uow.cause = envelope
                faults.poison_check(envelope.encounter_id)
                await subscription.handle(uow=uow, event=envelope)
                uow.stage(
                    InboxMessage,
                    consumer=self.group,
                    event_id=envelope.event_id,
                    event_type=envelope.event_type,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    handled_at=utcnow(),
                )
                uow.note(envelope, direction="consumed")
            uow.cause = None
        faults.crash_point("after-consumer-commit")
        return len(fresh)

    async def _poisoned(self, subscription: Subscription, one: Decoded, exc: Exception) -> None:
        record, envelope = one
        event_type = subscription.topic.event_type
        if isinstance(exc, IntegrityError) and await self._already_handled(envelope):
            # Another member applied it during a rebalance: a duplicate, not a failure.
            self._count(event_type, "duplicate")
            return
        log.error(
            "handler failed; dead-lettering",
            extra={"event_id": str(envelope.event_id), "error": describe_error(exc)},
        )
        await self.dead_letter(record, exc)
        self._count(event_type, "dead-lettered")

    async def _already_handled(self, envelope: EventEnvelope) -> bool:
        with contextlib.suppress(Exception):
            async with self.units_of_work() as uow:
                return bool(await uow.seen(self.group, [envelope.event_id]))
        return False

    # -- offsets and dead letters ----------------------------------------------------------

    async def _commit_done(self) -> None:
        """Commit, for each partition this member still owns, the offset after the last
        record whose transaction committed. A partition revoked meanwhile is left to its new
        owner, whose inbox absorbs what this member already applied."""
        assert self.consumer is not None
        async with self._commit_lock:
            owned = self.consumer.assignment()
            offsets = {
                tp: offset
                for tp, offset in self._done.items()
                if tp in owned and self._committed.get(tp) != offset
            }
            self._done = {tp: o for tp, o in self._done.items() if tp in owned}
            if not offsets:
                return
            try:
                await self.consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as exc:
                log.warning("offsets not committed (rebalance)", extra={"error": repr(exc)})
                return
            except KafkaError as exc:
                log.warning("offsets not committed", extra={"error": repr(exc)})
                return
            self._committed.update(offsets)

    async def _revoked(self, revoked: set[TopicPartition]) -> None:
        with contextlib.suppress(Exception):
            await self._settle(revoked, self.settings.consumer_revoke_wait_s)
        with contextlib.suppress(Exception):
            await self._commit_done()
        for tp in revoked:
            self._committed.pop(tp, None)
            self._done.pop(tp, None)

    async def dead_letter(self, record: ConsumerRecord, error: BaseException) -> None:
        await self.dead_letter_all([(record, error)])

    async def dead_letter_all(self, letters: list[tuple[ConsumerRecord, BaseException]]) -> None:
        """Publish the original bytes to `<topic>.dlq` with the error (its kind and, for our own
        errors, the field and reason; never a value) and the coordinates. Retried until the
        broker takes them, because committing past an unsaved dead letter loses it; one too
        large for the broker goes truncated, pointing at the original by its coordinates."""
        assert self.producer is not None
        pending = list(letters)
        backoff = Backoff(self.settings.retry_initial_backoff_s, self.settings.retry_max_backoff_s)
        while pending:
            sent = await asyncio.gather(
                *(self._send_letter(record, error) for record, error in pending),
                return_exceptions=True,
            )
            failed = [
                letter
                for letter, outcome in zip(pending, sent, strict=True)
                if isinstance(outcome, BaseException)
            ]
            for outcome in sent:
                if isinstance(outcome, asyncio.CancelledError):
                    raise outcome
            if failed:
                log.warning(
                    "dead letters not yet published",
                    extra={"count": len(failed), "backoff_s": backoff.current_s},
                )
                await backoff.wait()
            pending = failed
        for record, error in letters:
            log.error(
                "dead-lettered",
                extra={
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "error": type(error).__name__,
                },
            )

    async def _send_letter(self, record: ConsumerRecord, error: BaseException) -> None:
        assert self.producer is not None
        topic = self.subscriptions[record.topic].topic.dlq
        headers = [(k, v or b"") for k, v in record.headers or [] if not k.startswith("dlq.")]
        headers += [
            ("dlq.error", safe_error_text(error).encode()),
            ("dlq.error_type", type(error).__name__.encode()),
            ("dlq.original_topic", record.topic.encode()),
            ("dlq.original_partition", str(record.partition).encode()),
            ("dlq.original_offset", str(record.offset).encode()),
            ("dlq.original_timestamp", str(record.timestamp).encode()),
            ("dlq.consumer_group", self.group.encode()),
            ("dlq.service", self.service.encode()),
        ]
        try:
            await self.producer.send_and_wait(
                topic, value=record.value, key=record.key, headers=headers
            )
        except MessageSizeTooLargeError:
            # The original stays on its topic (until retention): the letter points at it.
            await self.producer.send_and_wait(
                topic,
                value=(record.value or b"")[: self.settings.dlq_truncate_bytes],
                key=(record.key or b"")[:1024],
                headers=[*headers[-8:], ("dlq.truncated", b"true")],
            )

    def _count(self, event_type: str, outcome: str, n: int = 1) -> None:
        if n:
            metrics.EVENTS_CONSUMED.labels(self.service, event_type, outcome).inc(n)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, consumer: BatchConsumer) -> None:
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.consumer._revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned", extra={"count": len(assigned)})
