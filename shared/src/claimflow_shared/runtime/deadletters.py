"""Dead letters of one service's consumer group: read them, and replay them to their original
topic once each, by an operator, with the same connection settings (SASL/TLS) the service
consumes with. Every replay is recorded (who, when, which letter); a replayed letter is not
replayed again unless asked to. A replay is published before it is recorded: a crash between
the two replays it twice, and the consumers' inboxes absorb the second copy."""

from __future__ import annotations

import asyncio
import contextlib
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
    settings: ServiceSettings, topics: list[str], *, group: str, limit: int
) -> list[Letter]:
    """The letters this consumer group left on these DLQ topics (oldest first, at most
    `limit`), read without joining or moving any group."""
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
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while len(letters) < limit and [
            tp for tp in partitions if await consumer.position(tp) < ends[tp]
        ]:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                for r in records:
                    headers = tuple((k, v or b"") for k, v in r.headers or ())
                    if dict(headers).get("dlq.consumer_group") == group.encode():
                        letters.append(
                            Letter(tp.topic, tp.partition, r.offset, r.key, r.value, headers)
                        )
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
    return letters[:limit]


async def replayed_marks(db: Database, letters: list[Letter]) -> set[tuple[str, int, int]]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(
                DeadLetterReplay.dlq_topic,
                DeadLetterReplay.dlq_partition,
                DeadLetterReplay.dlq_offset,
            ).where(DeadLetterReplay.dlq_topic.in_({letter.dlq_topic for letter in letters}))
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
    done = set() if again else await replayed_marks(db, letters)
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
