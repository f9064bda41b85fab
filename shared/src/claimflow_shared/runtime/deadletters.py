"""Dead letters of one service's consumer group: read them, and replay them to their original
topic once each, by an operator, with the same connection settings (SASL/TLS) the service
consumes with. Every replay is recorded (who, when, which letter); a replayed letter is not
replayed again unless asked to. A replay is published before it is recorded: a crash between
the two replays it twice, and the consumers' inboxes absorb the second copy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import select
from sqlmodel import Field, SQLModel

from claimflow_shared.runtime.broker import connection_kwargs
from claimflow_shared.runtime.db import Database
from claimflow_shared.runtime.settings import ServiceSettings
from claimflow_shared.runtime.tables import utcnow


class DeadLetterReplay(SQLModel, table=True):
    """One dead letter put back on its original topic: by whom and when."""

    __tablename__ = "dead_letter_replays"

    dlq_topic: str = Field(primary_key=True)
    dlq_partition: int = Field(primary_key=True)
    dlq_offset: int = Field(primary_key=True)
    original_topic: str
    replayed_by: str
    replayed_at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class Letter:
    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp: int = 0

    @property
    def mark(self) -> tuple[str, int, int]:
        return (self.dlq_topic, self.partition, self.offset)

    def header(self, name: str) -> str | None:
        found = dict(self.headers).get(name)
        return found.decode(errors="replace") if found is not None else None

    def summary(self, *, replayed: bool) -> dict:
        return {
            "dlq_topic": self.dlq_topic,
            "partition": self.partition,
            "offset": self.offset,
            "original": (
                f"{self.header('dlq.original_topic')}[{self.header('dlq.original_partition')}]"
                f"@{self.header('dlq.original_offset')}"
            ),
            "error_type": self.header("dlq.error_type"),
            "error": (self.header("dlq.error") or "")[:500],
            "truncated": self.header("dlq.truncated") == "true",
            "replayed": replayed,
        }


async def read_letters(
    settings: ServiceSettings,
    topics: list[str],
    *,
    group: str,
    limit: int,
    skip: frozenset[tuple[str, int, int]] | set[tuple[str, int, int]] = frozenset(),
    newest: bool = False,
) -> list[Letter]:
    """Up to `limit` letters this consumer group left on these DLQ topics, oldest first, read
    without joining or moving any group. Letters whose mark is in `skip` do not count, so a
    replay reaches past those replayed before however many there are; `newest` reads only the
    last `limit` records of each partition (an operator's view of recent failures)."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **connection_kwargs(settings))
    await consumer.start()
    letters: list[Letter] = []
    try:
        metadata = await consumer._client.fetch_all_metadata()
        partitions = [
            TopicPartition(t, p) for t in topics for p in metadata.partitions_for_topic(t) or ()
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        if newest:
            starts = await consumer.beginning_offsets(partitions)
            for tp in partitions:
                consumer.seek(tp, max(starts[tp], ends[tp] - limit))
        else:
            await consumer.seek_to_beginning(*partitions)
        while (newest or len(letters) < limit) and [
            tp for tp in partitions if await consumer.position(tp) < ends[tp]
        ]:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                letters += [
                    letter
                    for r in records
                    if r.offset < ends[tp]
                    and (letter := _letter(tp, r, group)) is not None
                    and letter.mark not in skip
                ]
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
    if newest:
        letters.sort(key=lambda letter: letter.timestamp)
        return letters[-limit:]
    return letters[:limit]


async def letters_at(
    settings: ServiceSettings, topic: str, offsets: list[int], *, group: str, partition: int | None
) -> list[Letter]:
    """The letters of this consumer group at these offsets of `topic` (of one partition, or of
    each), fetched directly however far into the topic they are."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **connection_kwargs(settings))
    await consumer.start()
    letters: list[Letter] = []
    try:
        metadata = await consumer._client.fetch_all_metadata()
        numbers = metadata.partitions_for_topic(topic) or set()
        partitions = [TopicPartition(topic, p) for p in sorted(numbers) if partition in (None, p)]
        if not partitions:
            return []
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            for offset in sorted(set(offsets)):
                if not starts[tp] <= offset < ends[tp]:
                    continue
                consumer.seek(tp, offset)
                fetched = await consumer.getmany(tp, timeout_ms=5000, max_records=1)
                letters += [
                    letter
                    for r in fetched.get(tp, [])
                    if r.offset == offset and (letter := _letter(tp, r, group)) is not None
                ]
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
    return letters


def _letter(tp: TopicPartition, record, group: str) -> Letter | None:
    headers = tuple((k, v or b"") for k, v in record.headers or ())
    if dict(headers).get("dlq.consumer_group") != group.encode():
        return None
    return Letter(
        tp.topic, tp.partition, record.offset, record.key, record.value, headers, record.timestamp
    )


async def replayed_marks(db: Database, topics: Iterable[str]) -> set[tuple[str, int, int]]:
    """(topic, partition, offset) of every letter of these DLQ topics replayed before."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(
                DeadLetterReplay.dlq_topic,
                DeadLetterReplay.dlq_partition,
                DeadLetterReplay.dlq_offset,
            ).where(DeadLetterReplay.dlq_topic.in_(set(topics)))
        )
        return {tuple(row) for row in rows.all()}  # type: ignore[misc]


async def replay(
    *,
    db: Database,
    producer: AIOKafkaProducer,
    letters: list[Letter],
    by: str,
    again: bool = False,
    limit: int = 1000,
) -> tuple[int, int]:
    """Put up to `limit` letters back on their original topics; returns (replayed, skipped
    as replayed before or without an original topic)."""
    done = set() if again else await replayed_marks(db, {x.dlq_topic for x in letters})
    chosen = [x for x in letters if x.mark not in done and x.header("dlq.original_topic")]
    chosen = chosen[:limit]
    for start in range(0, len(chosen), 200):
        chunk = chosen[start : start + 200]
        sent = [
            await producer.send(
                letter.header("dlq.original_topic") or "",
                value=letter.value,
                key=letter.key,
                headers=[
                    *((k, v) for k, v in letter.headers if not k.startswith("dlq.")),
                    ("dlq.replayed_from", f"{letter.dlq_topic}@{letter.offset}".encode()),
                    ("dlq.replayed_by", by.encode()),
                ],
            )
            for letter in chunk
        ]
        await asyncio.gather(*sent)
        async with db.transaction() as session:
            for letter in chunk:
                await session.merge(
                    DeadLetterReplay(
                        dlq_topic=letter.dlq_topic,
                        dlq_partition=letter.partition,
                        dlq_offset=letter.offset,
                        original_topic=letter.header("dlq.original_topic") or "",
                        replayed_by=by,
                    )
                )
    return len(chosen), len(letters) - len(chosen)
