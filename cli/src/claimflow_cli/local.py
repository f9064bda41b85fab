"""The local stack behind `claimflow up/down`, and dead-letter tools that talk to Kafka."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import typer
from rich.console import Console

from claimflow_cli.client import StackClient
from claimflow_local._process import port_open
from claimflow_local.kafka import KafkaBroker
from claimflow_local.postgres import PostgresCluster
from claimflow_local.stack import (
    DEFAULT_PORTS,
    SERVICES,
    Infrastructure,
    Stack,
    free_port,
    start_infrastructure,
)

KAFKA_PORT = 19092


def _port(preferred: int) -> int:
    return preferred if not port_open(preferred) else free_port()


def up(home: Path, console: Console, *, replicas: dict[str, int] | None = None) -> Stack:
    stack = Stack.load(home)
    if stack and all(p.running() for p in stack.processes()) and not replicas:
        console.print("already running")
        return stack
    if stack is None:
        with console.status("starting Kafka and PostgreSQL (first run fetches Kafka's jars)"):
            infra = start_infrastructure(home / "infra")
            stack = Stack(
                home=home,
                kafka_bootstrap=infra.kafka_bootstrap,
                database_urls={name: infra.database_url(name) for name in SERVICES},
                ports={name: _port(port) for name, port in DEFAULT_PORTS.items()},
                replicas=dict(replicas or {}),
            )
            _save_infra(home, infra)
            stack.save()
    else:
        _restart_infra(home, console)
    with console.status("starting the services and the payer simulator"):
        stack.start()
        for service, count in (replicas or {}).items():
            stack.scale(service, count)
    stack.save()
    return stack


def _save_infra(home: Path, infra: Infrastructure) -> None:
    record = {}
    if infra.broker:
        b = infra.broker
        record["kafka"] = {
            "home": str(b.home),
            "port": b.port,
            "controller_port": b.controller_port,
        }
    if infra.postgres:
        record["postgres"] = {"home": str(infra.postgres.home), "port": infra.postgres.port}
    (home / "infra.json").write_text(json.dumps(record, indent=2))


def _load_infra(home: Path) -> tuple[KafkaBroker | None, PostgresCluster | None]:
    path = home / "infra.json"
    if not path.exists():
        return None, None
    record = json.loads(path.read_text())
    broker = cluster = None
    if k := record.get("kafka"):
        broker = KafkaBroker(
            home=Path(k["home"]), port=k["port"], controller_port=k["controller_port"]
        )
    if p := record.get("postgres"):
        cluster = PostgresCluster(home=Path(p["home"]), port=p["port"])
    return broker, cluster


def _restart_infra(home: Path, console: Console) -> None:
    broker, cluster = _load_infra(home)
    with console.status("restarting Kafka and PostgreSQL"):
        if cluster and not port_open(cluster.port):
            cluster.start()
        if broker and not port_open(broker.port):
            broker.start()


def down(home: Path, console: Console) -> None:
    stack = Stack.load(home)
    if stack is None:
        console.print("nothing is running")
        return
    stack.stop()
    broker, cluster = _load_infra(home)
    if broker:
        broker.stop()
    if cluster:
        cluster.stop()
    console.print("stopped the services, the simulator, Kafka and PostgreSQL")


def require(home: Path) -> Stack:
    stack = Stack.load(home)
    if stack is None:
        raise typer.BadParameter("ClaimFlow is not up: run `claimflow up` (or `make demo`) first")
    return stack


def documented_service(name: str):
    """A service as documented: production broker address, whatever this shell has set."""
    settings = importlib.import_module(f"claimflow_{name}.settings").Settings(
        service_name=name, kafka_bootstrap_servers="kafka:9092"
    )
    return importlib.import_module(f"claimflow_{name}.bootstrap").build(settings)


def write_asyncapi(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SERVICES:
        path = out / f"{name}.asyncapi.json"
        spec = documented_service(name).asyncapi()
        path.write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def read_dead_letters(stack: Stack, *, topic: str | None, limit: int) -> list[dict]:
    """Every service's dead letters, through its operator API (the operator key in
    CLAIMFLOW_API_KEY when keys are on)."""
    letters: list[dict] = []
    with StackClient(stack) as client:
        for name in SERVICES:
            for letter in client.get(name, "/v1/ops/dlq", limit=10_000)["letters"]:
                if topic is None or letter["dlq_topic"] == topic:
                    letters.append({**letter, "service": name})
    return letters[-limit:] if limit else letters


def replay_dead_letters(
    stack: Stack, *, dlq_topic: str, offset: int | None, again: bool = False
) -> int:
    """Each service replays its own letters of the topic, once each, audited as the caller."""
    body = {"dlq_topic": dlq_topic, "offsets": None if offset is None else [offset]}
    replayed = 0
    with StackClient(stack) as client:
        for name in SERVICES:
            replayed += client.post(name, "/v1/ops/dlq/replay", body | {"again": again})["replayed"]
    return replayed
