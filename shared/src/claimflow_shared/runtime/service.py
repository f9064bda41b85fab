"""One process per service serving HTTP and consuming Kafka together: the composition kit.

A service's bootstrap makes a `Runtime` (database, outbox relay, units of work), builds its
handlers, routers and background tasks over it with typed dependencies, and hands them to a
`Service`, which runs them the same way for all: tables, topics, the relay, the batched
consumer, background tasks, health, metrics, the timeline and the AsyncAPI document."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Protocol, TypeVar

import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Query, Response
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import select

from claimflow_shared.events.envelope import EventEnvelope
from claimflow_shared.runtime import deadletters, metrics
from claimflow_shared.runtime.broker import ensure_topics, make_producer
from claimflow_shared.runtime.consumer import BatchConsumer, Subscription
from claimflow_shared.runtime.db import Database
from claimflow_shared.runtime.http import BodyLimit, install_error_handlers
from claimflow_shared.runtime.logs import configure_logging
from claimflow_shared.runtime.outbox import OutboxRelay
from claimflow_shared.runtime.settings import ServiceSettings
from claimflow_shared.runtime.tables import TimelineEntry
from claimflow_shared.runtime.tenancy import Access, OperatorDep, TenantDep
from claimflow_shared.runtime.uow import SqlUnitOfWork, UnitsOfWork
from claimflow_shared.topics import Topic

log = logging.getLogger("claimflow.service")


class ReplayRequest(BaseModel):
    """Which dead letters to replay: all of this service's, those of one DLQ topic, or
    given offsets of it; `again` replays letters that were replayed before."""

    dlq_topic: str | None = None
    offsets: list[int] | None = Field(default=None, max_length=10_000)
    partition: int | None = Field(default=None, ge=0, description="the offsets' partition")
    again: bool = False
    limit: int = Field(default=1000, ge=1, le=10_000)


U = TypeVar("U", bound=SqlUnitOfWork)


class BackgroundTask(Protocol):
    """A loop the service runs beside its consumer (submitter, ERA download, ...)."""

    name: str

    async def run(self) -> None: ...


class Runtime:
    """What one service process runs on: its database, the outbox relay, units of work."""

    def __init__(self, settings: ServiceSettings, *, version: str) -> None:
        settings.check_database()
        self.settings = settings
        self.version = version
        self.name = settings.service_name
        self.producer_name = f"claimflow-{self.name}/{version}"
        self.db = Database(settings.effective_database_url)
        self.relay = OutboxRelay(
            db=self.db,
            service=self.name,
            batch_size=settings.outbox_batch_size,
            poll_interval_s=settings.outbox_poll_interval_s,
        )

    def units_of_work(self, kind: type[U]) -> UnitsOfWork[U]:
        """Units of work of the service's kind, waking the relay after each commit."""
        return UnitsOfWork(kind, self.db, producer=self.producer_name, on_commit=self.relay.notify)


@dataclass
class Service:
    runtime: Runtime
    units_of_work: Callable[[], SqlUnitOfWork]
    subscriptions: Sequence[Subscription] = ()
    publishes: Sequence[Topic] = ()
    routers: Sequence[APIRouter] = ()
    background: Sequence[BackgroundTask] = ()
    closers: Sequence[Callable[[], Awaitable[None]]] = ()
    description: str = ""
    # Larger request-body limits for routes that take files, by path prefix.
    body_limits: Mapping[str, int] = field(default_factory=dict)
    _tasks: list[asyncio.Task] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.settings = self.runtime.settings
        self.name = self.runtime.name
        self.version = self.runtime.version
        self.db: Database = self.runtime.db
        self.relay: OutboxRelay = self.runtime.relay
        self.producer: AIOKafkaProducer | None = None
        self.consumer = BatchConsumer(
            subscriptions=self.subscriptions,
            units_of_work=self.units_of_work,
            db=self.db,
            settings=self.settings,
            service=self.name,
        )
        self.started = False

    @property
    def consumes(self) -> list[Topic]:
        return [s.topic for s in self.subscriptions]

    def asyncapi(self) -> dict:
        """The service's channels as AsyncAPI 3.0, described through FastStream (the broker
        object only describes; consuming is the batched consumer's job)."""
        broker = KafkaBroker(self.settings.kafka_bootstrap_servers)
        for topic in self.consumes:
            broker.subscriber(
                topic.name,
                group_id=self.settings.consumer_group,
                title=f"{topic.name}:{self.name}",
                description=f"{self.name} consumes {topic.event_type}: {topic.description}",
            )(_describe(topic))
        for topic in self.publishes:
            broker.publisher(
                topic.name,
                title=topic.name,
                description=topic.description,
                schema=EventEnvelope[topic.payload],
            )
        spec = AsyncAPI(
            broker,
            title=f"ClaimFlow {self.name}",
            version=self.version,
            description=self.description,
            schema_version="3.0.0",
        )
        return spec.to_specification().to_jsonable()

    async def start(self) -> None:
        s = self.settings
        await self.db.create_tables()
        await ensure_topics(s)
        self.producer = make_producer(s, client_id=f"claimflow-{self.name}")
        await self.producer.start()
        self._spawn("outbox-relay", self.relay.run(self.producer))
        self._spawn("metrics", self._watch())
        if self.subscriptions:
            await self.consumer.start(self.producer)
            self._spawn("consumer", self.consumer.run())
        for task in self.background:
            self._spawn(task.name, task.run())
        self.started = True
        log.info("service started", extra={"service": self.name})

    def _spawn(self, name: str, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(name)
        task.add_done_callback(_log_crash)
        self._tasks.append(task)

    async def stop(self) -> None:
        self.started = False
        if self.subscriptions:
            await self.consumer.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for close in self.closers:
            with contextlib.suppress(Exception):
                await close()
        if self.producer:
            with contextlib.suppress(Exception):
                await self.producer.stop()
        await self.db.dispose()
        log.info("service stopped", extra={"service": self.name})

    async def ready(self) -> dict[str, bool]:
        consuming = not self.subscriptions or any(
            t.get_name() == "consumer" and not t.done() for t in self._tasks
        )
        return {
            "started": self.started,
            "consumer": consuming,
            "database": await self.db.ping(),
            "broker": await self._broker_answers(),
            "outbox_relay": self.relay.healthy,
        }

    async def _broker_answers(self) -> bool:
        if not self.started or self.producer is None:
            return False
        try:
            metadata = await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 2.0)
        except Exception:
            return False
        return bool(metadata.brokers())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(5)
            with contextlib.suppress(Exception):
                metrics.OUTBOX_BACKLOG.labels(self.name).set(await self.relay.backlog())
                for key, value in self.consumer.lag().items():
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
        access = Access(
            spec=self.settings.api_keys,
            file=self.settings.api_keys_file,
            dev=self.settings.allow_insecure_dev,
        )
        access.check_startable()
        if access.dev and not access.keys():
            log.warning("insecure development mode: X-Tenant-ID is trusted, no API keys")
        app.state.access = access
        install_error_handlers(app)
        app.add_middleware(
            BodyLimit, max_bytes=self.settings.max_request_bytes, overrides=dict(self.body_limits)
        )
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
        async def lag(_: OperatorDep) -> dict:
            return {
                "service": self.name,
                "consumer_lag": self.consumer.lag(),
                "outbox_backlog": await self.relay.backlog(),
            }

        @router.get("/v1/ops/dlq", tags=["ops"])
        async def dead_letters(
            _: OperatorDep,
            limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
            oldest: bool = False,
        ) -> dict:
            """This service's dead letters (its consumer group's), oldest first: the newest
            `limit` of them (among the last `limit` records of each DLQ partition), or with
            `oldest` the first `limit`."""
            letters = await deadletters.read_letters(
                self.settings,
                self._dlq_topics(),
                group=self.settings.consumer_group,
                limit=limit,
                newest=not oldest,
            )
            done = await deadletters.replayed_marks(self.db, self._dlq_topics())
            return {
                "service": self.name,
                "letters": [
                    letter.summary(
                        replayed=(letter.dlq_topic, letter.partition, letter.offset) in done
                    )
                    for letter in letters
                ],
            }

        @router.post("/v1/ops/dlq/replay", tags=["ops"])
        async def replay_dead_letters(request: ReplayRequest, principal: OperatorDep) -> dict:
            """Put dead letters back on their topics, once each; audited with the operator."""
            topics = [t for t in self._dlq_topics() if request.dlq_topic in (None, t)]
            group = self.settings.consumer_group
            if request.offsets is not None:
                letters = [
                    letter
                    for topic in topics
                    for letter in await deadletters.letters_at(
                        self.settings,
                        topic,
                        request.offsets,
                        group=group,
                        partition=request.partition,
                    )
                ]
            else:
                done = set() if request.again else await deadletters.replayed_marks(self.db, topics)
                letters = await deadletters.read_letters(
                    self.settings, topics, group=group, limit=request.limit, skip=done
                )
            assert self.producer is not None
            replayed, skipped = await deadletters.replay(
                db=self.db,
                producer=self.producer,
                letters=letters,
                by=str(principal),
                again=request.again,
                limit=request.limit,
            )
            log.warning("dead letters replayed", extra={"count": replayed, "service": self.name})
            return {"service": self.name, "replayed": replayed, "skipped": skipped}

        @router.get("/v1/ops/asyncapi", tags=["ops"])
        async def asyncapi() -> dict:
            return self.asyncapi()

        @router.get("/v1/timeline/{encounter_id}", tags=["ops"])
        async def timeline(encounter_id: str, tenant: TenantDep) -> dict:
            async with self.db.sessions() as session:
                rows = (
                    (
                        await session.execute(
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

    def _dlq_topics(self) -> list[str]:
        return [topic.dlq for topic in self.consumes]

    def serve(self) -> None:
        """Run the HTTP app (and with it the consumer) until SIGTERM/SIGINT."""
        configure_logging(self.name, self.settings.log_level)
        uvicorn.run(
            self.http_app(),
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_config=None,
            timeout_graceful_shutdown=20,
        )


def _describe(topic: Topic) -> Callable[..., Awaitable[None]]:
    async def on_message(event) -> None:
        """Documents the channel; the batched consumer does the consuming."""

    on_message.__name__ = f"on_{topic.event_type.replace('.', '_').replace('-', '_')}"
    on_message.__annotations__ = {"event": EventEnvelope[topic.payload], "return": None}
    return on_message


def _log_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "background task died",
            extra={"service": task.get_name(), "error": repr(task.exception())},
        )
