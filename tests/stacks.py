"""Kafka, PostgreSQL and the services as real processes, for the fixtures: from the
environment (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL), through testcontainers where a Docker
engine answers, or through the local runners under deploy/ where it does not (these machines,
CI)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from claimflow_local.stack import Infrastructure, Stack, free_port, start_infrastructure


def _docker_available() -> bool:
    if os.environ.get("CLAIMFLOW_NO_DOCKER"):
        return False
    with contextlib.suppress(Exception):
        import docker

        docker.from_env(timeout=3).ping()
        return True
    return False


@contextlib.contextmanager
def _testcontainers_infra() -> Iterator[Infrastructure]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with (
        KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka,
        PostgresContainer("postgres:15", driver="asyncpg") as pg,
    ):
        url = pg.get_connection_url()
        yield Infrastructure(kafka.get_bootstrap_server(), external_database_url=url)


POISON_PREFIX = "ETESTPOISON"


@contextlib.contextmanager
def own_infrastructure() -> Iterator[Infrastructure]:
    """A Kafka broker and a PostgreSQL of their own, stopped on exit."""
    if _docker_available() and not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        with _testcontainers_infra() as containers:
            yield containers
        return
    home = Path(tempfile.mkdtemp(prefix="claimflow-test-"))
    infrastructure = start_infrastructure(home)
    try:
        yield infrastructure
    finally:
        infrastructure.stop()
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def running_stack(
    infra: Infrastructure, home: Path, names: list[str] | None = None
) -> Iterator[Stack]:
    """The services (all four and the payer simulator unless `names`) as real processes."""
    ports = {
        name: free_port() for name in ("intake", "coding", "claims", "remittance", "simulator")
    }
    stack = Stack(
        home=home,
        kafka_bootstrap=infra.kafka_bootstrap,
        database_urls={
            name: infra.database_url(name) for name in ("intake", "coding", "claims", "remittance")
        },
        ports=ports,
        extra_env={
            "OUTBOX_POLL_INTERVAL_S": "0.2",
            "ERA_POLL_INTERVAL_S": "0.3",
            "RETRY_MAX_BACKOFF_S": "2",
            # Test-only fault injection (see claimflow_shared.runtime.faults).
            "CLAIMFLOW_FAULTS": f"poison={POISON_PREFIX}",
        },
        simulator_env={
            "SIMULATOR_SEED": "42",
            "SIMULATOR_DENIAL_RATE": "0.1",
            "SIMULATOR_BATCH_INTERVAL_S": "0.3",
        },
    )
    stack.start(names=names)
    try:
        yield stack
    finally:
        stack.stop()
