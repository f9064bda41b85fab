"""One process per service serving FastAPI and FastStream together: the composition kit.

A service declares what it consumes (topic → handler), what it publishes, its HTTP routers
and background loops; the kit wires the database, outbox relay, inbox consumers, DLQ,
health, metrics, the timeline and AsyncAPI documentation the same way for all."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Response
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select

from claimflow_shared.events.envelope import EventEnvelope
from claimflow_shared.runtime import metrics
from claimflow_shared.runtime.broker import (
    consumer_lag,
    ensure_topics,
    make_broker,
    make_producer,
)
from claimflow_shared.runtime.consumer import EventConsumer, Handler
from claimflow_shared.runtime.db import Database
from claimflow_shared.runtime.logs import configure_logging
from claimflow_shared.runtime.outbox import OutboxRelay
from claimflow_shared.runtime.settings import ServiceSettings
from claimflow_shared.runtime.tables import TimelineEntry
from claimflow_shared.runtime.tenancy import TenantDep, parse_api_keys
from claimflow_shared.topics import Topic

log = logging.getLogger("claimflow.service")

BackgroundLoop = Callable[["Service"], Awaitable[None]]


@dataclass
class Service:
    settings: ServiceSettings
    version: str
    consumes: dict[Topic, Handler] = field(default_factory=dict)
    publishes: list[Topic] = field(default_factory=list)
    routers: list[APIRouter] = field(default_factory=list)
    background: list[BackgroundLoop] = field(default_factory=list)
    description: str = ""
    state: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        name = self.settings.service_name
        self.name = name
        self.producer_name = f"claimflow-{name}/{self.version}"
        self.db = Database(self.settings.effective_database_url)
        self.broker: KafkaBroker = make_broker(self.settings, client_id=f"claimflow-{name}")
        self.producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: dict[str, EventConsumer] = {}
        self._tasks: list[asyncio.Task] = []
        self.started = False
        for topic, handler in self.consumes.items():
            self._subscribe(topic, handler)
        for topic in self.publishes:
            self.broker.publisher(
                topic.name,
                title=topic.name,
                description=topic.description,
                schema=EventEnvelope[topic.payload],
            )

    def _subscribe(self, topic: Topic, handler: Handler) -> None:
        subscriber = self.broker.subscriber(
            topic.name,
            group_id=self.settings.consumer_group,
            # Offsets are committed by hand, after the inbox transaction (or the DLQ) is done:
            # faststream's default acknowledges before the handler runs.
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_poll_interval_ms=10 * 60 * 1000,
            title=f"{topic.name}:{self.name}",
            description=f"{self.name} consumes {topic.event_type}: {topic.description}",
        )

        async def on_message(message: KafkaMessage) -> None:
            await self.consumers[topic.name].consume(message.raw_message)
            await message.ack()

        on_message.__name__ = f"on_{topic.event_type.replace('.', '_').replace('-', '_')}"
        subscriber(on_message)

    def asyncapi(self) -> dict:
        spec = AsyncAPI(
            self.broker,
            title=f"ClaimFlow {self.name}",
            version=self.version,
            description=self.description,
            schema_version="3.0.0",
        )
        return spec.to_specification().to_jsonable()

    def notify_outbox(self) -> None:
        if self.relay:
            self.relay.notify()

    async def start(self) -> None:
        s = self.settings
        await self.db.create_tables()
        await ensure_topics(s)
        self.producer = make_producer(s, client_id=f"claimflow-{self.name}-relay")
        await self.producer.start()
        self.relay = OutboxRelay(
            db=self.db,
            producer=self.producer,
            service=self.name,
            batch_size=s.outbox_batch_size,
            poll_interval_s=s.outbox_poll_interval_s,
        )
        for topic, handler in self.consumes.items():
            self.consumers[topic.name] = EventConsumer(
                topic=topic,
                handler=handler,
                db=self.db,
                producer=self.producer,
                service=self.name,
                producer_name=self.producer_name,
                consumer_group=s.consumer_group,
                on_committed=self.notify_outbox,
                initial_backoff_s=s.retry_initial_backoff_s,
                max_backoff_s=s.retry_max_backoff_s,
            )
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        self._tasks.append(asyncio.create_task(self._watch_lag(), name="lag"))
        for loop in self.background:
            self._tasks.append(asyncio.create_task(loop(self), name=loop.__name__))
        await self.broker.start()
        self.started = True
        log.info("service started", extra={"service": self.name})

    async def stop(self) -> None:
        self.started = False
        with contextlib.suppress(Exception):
            await self.broker.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.producer:
            with contextlib.suppress(Exception):
                await self.producer.stop()
        await self.db.dispose()
        log.info("service stopped", extra={"service": self.name})

    async def ready(self) -> dict[str, bool]:
        checks = {
            "started": self.started,
            "database": await self.db.ping(),
            "broker": await self.broker.ping(timeout=2.0) if self.started else False,
            "outbox_relay": bool(self.relay and self.relay.healthy),
        }
        return checks

    async def lag(self) -> dict[str, int]:
        topics = [t.name for t in self.consumes]
        if not topics:
            return {}
        lag = await consumer_lag(self.settings, group=self.settings.consumer_group, topics=topics)
        return {f"{t}/{p}": n for (t, p), n in sorted(lag.items())}

    async def _watch_lag(self) -> None:
        while True:
            await asyncio.sleep(5)
            with contextlib.suppress(Exception):
                if self.relay:
                    metrics.OUTBOX_BACKLOG.labels(self.name).set(await self.relay.backlog())
                for key, value in (await self.lag()).items():
                    topic, _, partition = key.rpartition("/")
                    metrics.CONSUMER_LAG.labels(self.name, topic, partition).set(value)

    def http_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastAPI(
            title=f"ClaimFlow {self.name}",
            version=self.version,
            description=self.description,
            lifespan=lifespan,
        )
        app.state.service = self
        app.state.api_keys = parse_api_keys(self.settings.api_keys)
        app.include_router(self._ops_router())
        for router in self.routers:
            app.include_router(router)
        return app

    def _ops_router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/health/live", tags=["ops"])
        async def live() -> dict:
            return {"status": "alive", "service": self.name}

        @router.get("/health/ready", tags=["ops"])
        async def ready(response: Response) -> dict:
            checks = await self.ready()
            ok = all(checks.values())
            response.status_code = 200 if ok else 503
            return {"status": "ready" if ok else "not-ready", "checks": checks}

        @router.get("/metrics", tags=["ops"])
        async def prometheus() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        @router.get("/v1/ops/lag", tags=["ops"])
        async def lag() -> dict:
            backlog = await self.relay.backlog() if self.relay else None
            return {
                "service": self.name,
                "consumer_lag": await self.lag(),
                "outbox_backlog": backlog,
            }

        @router.get("/v1/ops/asyncapi", tags=["ops"])
        async def asyncapi() -> dict:
            return self.asyncapi()

        @router.get("/v1/timeline/{encounter_id}", tags=["ops"])
        async def timeline(encounter_id: str, tenant: TenantDep) -> dict:
            async with self.db.sessions() as session:
                rows = (
                    (
                        await session.exec(
                            select(TimelineEntry)
                            .where(
                                TimelineEntry.tenant_id == tenant,
                                TimelineEntry.encounter_id == encounter_id,
                            )
                            .order_by(TimelineEntry.at, TimelineEntry.id)
                        )
                    )
                    .scalars()
                    .all()
                )
            return {
                "service": self.name,
                "entries": [
                    {
                        "at": r.at.isoformat(),
                        "event_type": r.event_type,
                        "direction": r.direction,
                        "event_id": str(r.event_id),
                        "causation_id": str(r.causation_id) if r.causation_id else None,
                        "occurred_at": r.occurred_at.isoformat(),
                        "detail": r.detail,
                    }
                    for r in rows
                ],
            }

        return router

    def serve(self) -> None:
        """Run the HTTP app (and with it the consumers) until SIGTERM/SIGINT."""
        configure_logging(self.name, self.settings.log_level)
        uvicorn.run(
            self.http_app(),
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_config=None,
            timeout_graceful_shutdown=20,
        )
