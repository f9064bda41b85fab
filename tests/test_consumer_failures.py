"""How the batch consumer classifies what goes wrong, through the real broker and PostgreSQL,
on a topic of the test's own: an error from handler code that passes is tried again and
applied once; one that never passes is dead-lettered with its kind after the bound, and the
partition goes on (an OSError used to count as an outage and stall it forever); the inbox's
unique key losing a race to another member is a duplicate, not a dead letter; a dead letter
too large for its topic goes truncated, pointing at the original, instead of being retried
forever. Every record ends handled (its inbox row) or dead-lettered, none skipped."""

from __future__ import annotations

import asyncio
import contextlib
import random
import string
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import BaseModel
from sqlalchemy import select

from claimflow_shared.events import EventEnvelope
from claimflow_shared.runtime.broker import make_producer
from claimflow_shared.runtime.consumer import BatchConsumer, Subscription
from claimflow_shared.runtime.service import Runtime
from claimflow_shared.runtime.settings import ServiceSettings
from claimflow_shared.runtime.tables import InboxMessage
from claimflow_shared.runtime.uow import SqlUnitOfWork
from claimflow_shared.topics import Topic

pytestmark = pytest.mark.infra


class Probe(BaseModel):
    behaviour: str


class Harness:
    """A consumer of one fresh topic (one partition, so order is the test's to read)."""

    def __init__(self, infra, *, dlq_max_bytes: int | None = None) -> None:
        suffix = "".join(random.choices(string.ascii_lowercase, k=10))
        self.topic = Topic(f"test.failures-{suffix}", "1.0", Probe, "consumer failure tests")
        self.settings = ServiceSettings(
            service_name=f"failures-{suffix}",
            kafka_bootstrap_servers=infra.kafka_bootstrap,
            database_url=infra.database_url("consumer_failures"),
            retry_initial_backoff_s=0.01,
            retry_max_backoff_s=0.05,
            retry_max_attempts=3,
            dlq_truncate_bytes=1000,
            kafka_replication_factor=1,
        )
        self.dlq_max_bytes = dlq_max_bytes
        self.calls: Counter[str] = Counter()
        self.runtime = Runtime(self.settings, version="test")
        self.uows = self.runtime.units_of_work(SqlUnitOfWork)

    async def handle(self, *, uow: SqlUnitOfWork, event: EventEnvelope) -> None:
        self.calls[event.encounter_id] += 1
        behaviour = event.payload.behaviour
        if behaviour == "fails-twice" and self.calls[event.encounter_id] <= 2:
            raise TimeoutError("the handler's own call timed out")
        if behaviour == "always-oserror":
            raise ConnectionResetError("a peer of the handler hung up")
        if behaviour == "raced" and self.calls[event.encounter_id] == 1:
            # Another member of the group applies the same event meanwhile (a rebalance).
            async with self.uows() as other:
                other.stage(
                    InboxMessage,
                    consumer=self.settings.consumer_group,
                    event_id=event.event_id,
                    event_type=event.event_type,
                    topic=self.topic.name,
                    partition=0,
                    offset=0,
                    handled_at=datetime.now(UTC),
                )
        if behaviour == "poison":
            raise ValueError("this record can never be applied")

    async def __aenter__(self) -> Harness:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            dlq_config = (
                {"max.message.bytes": str(self.dlq_max_bytes)} if self.dlq_max_bytes else {}
            )
            await admin.create_topics(
                [
                    NewTopic(self.topic.name, 1, 1),
                    NewTopic(self.topic.dlq, 1, 1, topic_configs=dlq_config),
                ]
            )
        finally:
            await admin.close()
        await self.runtime.db.create_tables()
        self.producer = make_producer(self.settings, client_id="failures-test")
        await self.producer.start()
        self.consumer = BatchConsumer(
            subscriptions=[Subscription(self.topic, self.handle)],
            units_of_work=self.uows,
            db=self.runtime.db,
            settings=self.settings,
            service=self.settings.service_name,
        )
        await self.consumer.start(self.producer)
        self.task = asyncio.create_task(self.consumer.run())
        return self

    async def __aexit__(self, *_) -> None:
        await self.consumer.stop()
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
        await self.producer.stop()
        await self.runtime.db.dispose()

    async def send(self, behaviours: list[str], *, padding: int = 0) -> list[str]:
        """One event per behaviour, in order; returns their encounter ids."""
        ids = []
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            for n, behaviour in enumerate(behaviours):
                encounter_id = f"E{n:05d}{uuid.uuid4().hex[:10].upper()}"
                event = EventEnvelope[Probe](
                    event_id=uuid.uuid4(),
                    event_type=self.topic.event_type,
                    schema_version="1.0",
                    tenant_id="failures",
                    encounter_id=encounter_id,
                    occurred_at=datetime.now(UTC),
                    producer="test",
                    payload=Probe(behaviour=behaviour),
                )
                value = event.model_dump_json().encode()
                if padding:
                    value = value[:-1] + b', "padding": "' + b"x" * padding + b'"}'
                await producer.send_and_wait(self.topic.name, value, key=encounter_id.encode())
                ids.append(encounter_id)
        finally:
            await producer.stop()
        return ids

    async def handled(self) -> set[str]:
        """Encounters whose event has an inbox row in this consumer group."""
        async with self.uows() as uow:
            rows = await uow.session.execute(
                select(InboxMessage.event_id).where(
                    InboxMessage.consumer == self.settings.consumer_group
                )
            )
            event_ids = {str(r) for r in rows.scalars()}
        return event_ids

    async def letters(self) -> list:
        """Every dead letter of the topic so far (call once the partition has moved on: each
        letter is sent before the offset past its record is committed)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        found = []
        try:
            tp = TopicPartition(self.topic.dlq, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            while await consumer.position(tp) < end:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    found.extend(records)
        finally:
            await consumer.stop()
        return found

    async def committed_past(self, offset: int, timeout: float = 60) -> None:
        """Wait until the group's committed offset is past `offset` (the partition moved on)."""
        tp = TopicPartition(self.topic.name, 0)
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if (self.consumer._committed.get(tp) or 0) > offset:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"the partition never moved past offset {offset}")


async def test_handler_errors_are_retried_bounded_and_only_the_hopeless_record_is_dead_lettered(
    infra,
):
    async with Harness(infra) as h:
        behaviours = ["ok", "fails-twice", "ok", "always-oserror", "ok", "raced", "ok"]
        ids = await h.send(behaviours)
        await h.committed_past(len(ids) - 1)
        letters = await h.letters()
        handled = await h.handled()
    lettered = [r.key.decode() for r in letters]
    assert lettered == [ids[3]], "only the record that never passes is dead-lettered"
    headers = dict(letters[0].headers)
    assert headers["dlq.error_type"] == b"ConnectionResetError"
    assert headers["dlq.original_offset"] == b"3"
    # The others are applied (their inbox rows), the flaky one after its retries; the raced
    # one was applied by "the other member", and its own rollback is a duplicate, not a letter.
    assert h.calls[ids[1]] >= 3
    assert h.calls[ids[3]] >= h.settings.retry_max_attempts
    applied = {ids[n] for n in (0, 1, 2, 4, 5, 6)}
    async with h.uows() as uow:
        rows = await uow.session.execute(
            select(InboxMessage.event_id, InboxMessage.offset).where(
                InboxMessage.consumer == h.settings.consumer_group
            )
        )
        offsets = sorted(offset for _, offset in rows.all())
    assert len(handled) == len(applied)
    assert offsets == [0, 0, 1, 2, 4, 6], "the raced one was written by the other member"


async def test_a_dead_letter_too_large_for_its_topic_goes_truncated_with_its_coordinates(infra):
    async with Harness(infra, dlq_max_bytes=4000) as h:
        ids = await h.send(["ok", "poison", "ok"], padding=20_000)
        await h.committed_past(2)
        letters = await h.letters()
        handled = await h.handled()
    assert [r.key.decode() for r in letters] == [ids[1]]
    headers = dict(letters[0].headers)
    assert headers["dlq.truncated"] == b"true"
    assert headers["dlq.original_offset"] == b"1"
    assert headers["dlq.original_topic"] == h.topic.name.encode()
    assert len(letters[0].value) <= h.settings.dlq_truncate_bytes
    assert len(handled) == 2
