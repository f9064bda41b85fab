"""The whole stack as local processes: Kafka, PostgreSQL, four services and the payer
simulator, each started in the background with its environment and a pid file."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from claimflow_local._process import free_port, pid_alive, read_pid, stop_pid, wait_until
from claimflow_local.kafka import KafkaBroker, new_broker
from claimflow_local.postgres import PostgresCluster, new_cluster

SERVICES = ("intake", "coding", "claims", "remittance")
DEFAULT_PORTS = {
    "intake": 8001,
    "coding": 8002,
    "claims": 8003,
    "remittance": 8004,
    "simulator": 8010,
}


def http_ready(url: str) -> bool:
    try:
        with urlopen(url, timeout=2) as response:
            return response.status == 200
    except (URLError, OSError, ValueError):
        return False


@dataclass
class Process:
    """One background program with a pid file and a log file under `run_dir`."""

    name: str
    command: list[str]
    env: dict[str, str]
    port: int
    run_dir: Path
    pid: int | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def start(self) -> Process:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                self.command,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = proc.pid
        self.popen = proc
        self.pid_file.write_text(str(proc.pid))
        return self

    def running(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        pid = self.pid or read_pid(self.pid_file)
        return bool(pid and pid_alive(pid))

    def ready(self) -> bool:
        return http_ready(f"{self.url}/health/ready")

    def wait_ready(self, timeout: float = 90.0) -> Process:
        def check() -> bool:
            if not self.running():
                raise RuntimeError(f"{self.name} exited; see {self.log_file}")
            return self.ready()

        wait_until(check, timeout=timeout, what=self.name, log=self.log_file)
        return self

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown."""
        pid = self.pid or read_pid(self.pid_file)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if self.popen is not None:
                self.popen.wait()
        self.pid = None
        self.popen = None

    def stop(self) -> None:
        pid = self.pid or read_pid(self.pid_file)
        if pid:
            stop_pid(pid, timeout=30)
        if self.popen is not None:
            self.popen.wait()
        self.pid = None
        self.popen = None
        self.pid_file.unlink(missing_ok=True)


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def service_of(process_name: str) -> str:
    """`claims-2` → `claims`: replicas of a stage are named after it with a number."""
    base, _, number = process_name.rpartition("-")
    return base if number.isdigit() and base in SERVICES else process_name


def replica_names(service: str, count: int) -> list[str]:
    return [service if n == 1 else f"{service}-{n}" for n in range(1, count + 1)]


def parse_replicas(spec: str) -> dict[str, int]:
    """`claims=3,coding=2` → {"claims": 3, "coding": 2}; ValueError naming what is wrong."""
    replicas: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition("=")
        if name.strip() not in SERVICES:
            raise ValueError(f"unknown stage {name.strip()!r}; stages are {', '.join(SERVICES)}")
        if not count.strip().isdigit() or not 1 <= int(count) <= 16:
            raise ValueError(f"replicas of {name.strip()} must be a number from 1 to 16")
        replicas[name.strip()] = int(count)
    return replicas


@dataclass
class Stack:
    """Where everything lives and how to reach it. A stage may run as several replicas (one
    consumer group, one database); each replica is a process of its own with its own port."""

    home: Path
    kafka_bootstrap: str
    database_urls: dict[str, str]
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: dict[str, str] = field(default_factory=dict)
    simulator_env: dict[str, str] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    def service_env(self, name: str) -> dict[str, str]:
        service = service_of(name)
        return {
            "SERVICE_NAME": service,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "DATABASE_URL": self.database_urls.get(service, ""),
            "DATA_DIR": str(self.home / "data"),
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.port(name)),
            "CLEARINGHOUSE_URL": f"http://127.0.0.1:{self.ports['simulator']}",
            "SERVICE_REPLICAS": str(self.replicas.get(service, 1)),
            "KAFKA_REPLICATION_FACTOR": "1",  # one local broker
            # A local stack trusts X-Tenant-ID until keys are created (`claimflow keys create`).
            "ALLOW_INSECURE_DEV": "true",
            "API_KEYS_FILE": str(self.home / "api-keys"),
            # Each intake replica's HL7 v2 MLLP listener gets a port of its own.
            **({"MLLP_PORT": str(self.port(f"{name}-mllp"))} if service == "intake" else {}),
            **self.extra_env,
        }

    def __post_init__(self) -> None:
        self._processes: dict[str, Process] = {}

    def port(self, name: str) -> int:
        if name not in self.ports:
            self.ports[name] = free_port()
        return self.ports[name]

    def process(self, name: str) -> Process:
        """The same Process object for a name, so a started child can be reaped."""
        if name not in self._processes:
            self._processes[name] = self._make_process(name)
        return self._processes[name]

    def _make_process(self, name: str) -> Process:
        if name == "simulator":
            env = {
                "SIMULATOR_HTTP_PORT": str(self.ports["simulator"]),
                "SIMULATOR_DATA_DIR": str(self.home / "simulator"),
                **self.simulator_env,
            }
            return Process(name, [_bin("payer-simulator")], env, self.ports[name], self.run_dir)
        return Process(
            name,
            [_bin(f"claimflow-{service_of(name)}")],
            self.service_env(name),
            self.port(name),
            self.run_dir,
        )

    def names(self) -> list[str]:
        """Every process of the stack: the simulator, then each stage's replicas."""
        return [
            "simulator",
            *(n for s in SERVICES for n in replica_names(s, self.replicas.get(s, 1))),
        ]

    def processes(self) -> list[Process]:
        return [self.process(name) for name in self.names()]

    def replicas_of(self, service: str) -> list[Process]:
        return [self.process(n) for n in replica_names(service, self.replicas.get(service, 1))]

    def start(self, *, timeout: float = 120.0, names: list[str] | None = None) -> list[Process]:
        procs = [
            p
            for p in self.processes()
            if not p.running() and (names is None or p.name in names or service_of(p.name) in names)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_ready(timeout)
        return self.processes()

    def scale(self, service: str, count: int, *, timeout: float = 120.0) -> list[Process]:
        """Run exactly `count` replicas of a stage: start the missing, stop the surplus."""
        before = self.replicas.get(service, 1)
        self.replicas[service] = count
        for name in replica_names(service, before)[count:]:
            self.process(name).stop()
            self._processes.pop(name, None)
        for proc in self.replicas_of(service):
            # Every replica must know how many there are (SQLite refuses to be shared).
            proc.env["SERVICE_REPLICAS"] = str(count)
        fresh = [p for p in self.replicas_of(service) if not p.running()]
        for proc in fresh:
            proc.start()
        for proc in fresh:
            proc.wait_ready(timeout)
        return self.replicas_of(service)

    def stop(self) -> None:
        for proc in reversed(self.processes()):
            proc.stop()

    def save(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "stack.json").write_text(
            json.dumps(
                {
                    "kafka_bootstrap": self.kafka_bootstrap,
                    "database_urls": self.database_urls,
                    "ports": self.ports,
                    "extra_env": self.extra_env,
                    "simulator_env": self.simulator_env,
                    "replicas": self.replicas,
                },
                indent=2,
            )
        )

    @classmethod
    def load(cls, home: Path) -> Stack | None:
        path = home / "stack.json"
        if not path.exists():
            return None
        return cls(home=home, **json.loads(path.read_text()))


@dataclass
class Infrastructure:
    """Kafka and PostgreSQL for a stack: the environment's, else local runners."""

    kafka_bootstrap: str
    postgres: PostgresCluster | None = None
    broker: KafkaBroker | None = None
    external_database_url: str | None = None

    def database_url(self, name: str) -> str:
        """Each service gets its own database on the server."""
        if self.postgres:
            self.postgres.create_database(f"claimflow_{name}")
            return self.postgres.url(f"claimflow_{name}")
        if self.external_database_url:
            return external_database(self.external_database_url, name)
        return ""

    def stop(self) -> None:
        if self.broker:
            self.broker.stop()
        if self.postgres:
            self.postgres.stop()


def start_infrastructure(home: Path, *, with_postgres: bool = True) -> Infrastructure:
    """Use KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set; otherwise run our own."""
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o755)  # the postgres user must reach its data directory
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = None
    if not bootstrap:
        broker = new_broker(home / "kafka")
        broker.start()
        bootstrap = broker.bootstrap_servers
    external = os.environ.get("DATABASE_URL") or None
    cluster = None
    if with_postgres and not external:
        try:
            cluster = new_cluster(home / "postgres").start()
        except BaseException:
            if broker:
                broker.stop()  # leave nothing running behind a failed start
            raise
    return Infrastructure(
        bootstrap, postgres=cluster, broker=broker, external_database_url=external
    )


def external_database(url: str, name: str) -> str:
    """`postgresql+asyncpg://u:p@h/claimflow` → `.../claimflow_<name>`, created if missing."""
    import asyncio

    import asyncpg

    base, _, dbname = url.rpartition("/")
    dbname = dbname.split("?")[0] or "claimflow"
    target = f"{dbname}_{name}"
    plain = base.replace("postgresql+asyncpg://", "postgresql://")

    async def create() -> None:
        conn = await asyncpg.connect(f"{plain}/{dbname}")
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", target)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{target}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return f"{base}/{target}"


__all__ = [
    "Infrastructure",
    "Process",
    "Stack",
    "free_port",
    "parse_replicas",
    "replica_names",
    "service_of",
    "start_infrastructure",
]
