"""The one broker factory: faststream broker, idempotent producer and admin client, all from
the same settings (PLAINTEXT on loopback locally; SASL/SCRAM and TLS in production)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from claimflow_shared.runtime.settings import ServiceSettings
from claimflow_shared.topics import TOPICS


def _ssl_context(settings: ServiceSettings) -> ssl.SSLContext | None:
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
    return context


def connection_kwargs(settings: ServiceSettings) -> dict[str, Any]:
    """aiokafka connection arguments."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if (context := _ssl_context(settings)) is not None:
        kwargs["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism or "SCRAM-SHA-512"
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value()
            if settings.kafka_sasl_password
            else None
        )
    return kwargs


def _security(settings: ServiceSettings) -> BaseSecurity | None:
    context = _ssl_context(settings)
    if not settings.kafka_security_protocol.startswith("SASL"):
        return BaseSecurity(ssl_context=context) if context else None
    user = settings.kafka_sasl_username or ""
    password = (
        settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
    )
    mechanism = {
        "SCRAM-SHA-256": SASLScram256,
        "SCRAM-SHA-512": SASLScram512,
        "PLAIN": SASLPlaintext,
    }[settings.kafka_sasl_mechanism or "SCRAM-SHA-512"]
    return mechanism(user, password, ssl_context=context)


def make_broker(settings: ServiceSettings, *, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=_security(settings),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        logger=None,
    )


def make_producer(settings: ServiceSettings, *, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=30_000,
        **connection_kwargs(settings),
    )


async def ensure_topics(settings: ServiceSettings) -> None:
    """Create every registered topic and its DLQ if missing (idempotent)."""
    admin = AIOKafkaAdminClient(**connection_kwargs(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [name for t in TOPICS.values() for name in (t.name, t.dlq)]
        replicas = settings.kafka_replication_factor
        missing = [
            NewTopic(
                name,
                num_partitions=1 if name.endswith(".dlq") else settings.kafka_partitions,
                replication_factor=replicas,
                topic_configs={"min.insync.replicas": str(min(2, replicas))},
            )
            for name in wanted
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def consumer_lag(settings: ServiceSettings, *, group: str, topics: list[str]):
    """Messages behind the end of each partition for a consumer group: {(topic, p): lag}."""
    admin = AIOKafkaAdminClient(**connection_kwargs(settings))
    consumer = AIOKafkaConsumer(**connection_kwargs(settings))
    await asyncio.gather(admin.start(), consumer.start())
    try:
        committed = await admin.list_consumer_group_offsets(group)
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in (consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
        ]
        ends = await consumer.end_offsets(partitions) if partitions else {}
        lag = {}
        for tp in partitions:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag[(tp.topic, tp.partition)] = max(ends.get(tp, 0) - done, 0)
        return lag
    finally:
        await asyncio.gather(admin.close(), consumer.stop(), return_exceptions=True)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()
