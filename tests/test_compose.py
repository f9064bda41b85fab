"""The production docker-compose.yml and Dockerfiles agree with the code they run.

No Docker engine runs here, so these tests read the files: every variable a container gets is
a setting its service reads, every image builds the package whose entry point it runs, the
start-up order waits on health, not on luck, the services get their API keys from a secret
file, and the consuming stages can run several replicas.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path, PurePosixPath
from unittest import mock
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
PORTS_OVERRIDE = ROOT / "deploy" / "compose" / "ports.yml"

CLAIMFLOW_SERVICES = {"intake": 8001, "coding": 8002, "claims": 8003, "remittance": 8004}
SIMULATOR = "payer-simulator"
SIMULATOR_PORT = 8010
INFRASTRUCTURE = {"kafka", "postgres"}
HEALTHCHECK_SCRIPT = "/usr/local/bin/healthcheck.py"

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: object) -> str | None:
    """Resolve `${NAME:-default}` the way Compose does with an empty shell environment."""
    if value is None:
        return None

    def resolve(found: re.Match[str]) -> str:
        if found.group(0) == "$$":
            return "$"
        operator, argument = found.group(2), found.group(3)
        if operator in (":-", "-"):
            return argument
        if operator in (":?", "?"):
            raise AssertionError(f"${{{found.group(1)}}} is required: {argument}")
        return ""

    return _VARIABLE.sub(resolve, str(value))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, object]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def settings_class(name: str):
    if name == SIMULATOR:
        return importlib.import_module("payer_simulator.settings").SimulatorSettings
    return importlib.import_module(f"claimflow_{name}.settings").Settings


def package_of(name: str) -> str:
    return SIMULATOR if name == SIMULATOR else f"claimflow-{name}"


def port_of(name: str) -> int:
    return SIMULATOR_PORT if name == SIMULATOR else CLAIMFLOW_SERVICES[name]


def workspace_scripts() -> dict[str, dict[str, str]]:
    """Console scripts of every workspace member, by package name."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for member in sorted(ROOT.glob(pattern)):
            pyproject = member / "pyproject.toml"
            if pyproject.is_file():
                project = tomllib.loads(pyproject.read_text())["project"]
                found[project["name"]] = project.get("scripts", {})
    return found


def dockerfile_of(service: dict) -> Path:
    build = service["build"]
    context = (ROOT / build.get("context", ".")).resolve()
    return context / build.get("dockerfile", "Dockerfile")


def instructions(dockerfile: Path) -> list[str]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    lines = [
        line for line in dockerfile.read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    return [i.strip() for i in re.sub(r"\\\s*\n", " ", "\n".join(lines)).splitlines() if i.strip()]


def init_scripts(services: dict) -> list[Path]:
    for volume in services["postgres"]["volumes"]:
        source, target = volume.split(":")[:2]
        if target == "/docker-entrypoint-initdb.d":
            return sorted((ROOT / source).resolve().glob("*"))
    raise AssertionError("postgres mounts no init scripts")


ALL_APPS = [*CLAIMFLOW_SERVICES, SIMULATOR]


def test_compose_names_the_infrastructure_the_four_services_and_the_simulator(services):
    assert {*INFRASTRUCTURE, *CLAIMFLOW_SERVICES, SIMULATOR} <= set(services)
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert services["postgres"]["image"] == "postgres:15"


@pytest.mark.parametrize("name", ALL_APPS)
def test_every_environment_variable_is_a_setting_the_service_reads(services, name):
    cls = settings_class(name)
    prefix = cls.model_config.get("env_prefix", "").upper()
    known = {f"{prefix}{field.upper()}" for field in cls.model_fields}
    unknown = set(environment(services[name])) - known
    assert not unknown, f"{name} is given variables its settings do not read: {sorted(unknown)}"


@pytest.mark.parametrize("name", ALL_APPS)
def test_environment_values_are_valid_settings(services, name):
    cls = settings_class(name)
    prefix = cls.model_config.get("env_prefix", "").upper()
    values = {
        key[len(prefix) :].lower(): interpolate(value)
        for key, value in environment(services[name]).items()
        if value is not None
    }
    # The container's environment is the compose file's, not this shell's.
    with mock.patch.dict(os.environ, {}, clear=True):
        settings = cls(**values)
    assert int(settings.http_port) == port_of(name)
    assert str(settings.http_host) == "0.0.0.0"
    if name != SIMULATOR:
        assert settings.service_name == name
        assert settings.kafka_consumer_group == f"claimflow-{name}"


@pytest.mark.parametrize("name", ALL_APPS)
def test_every_image_builds_the_package_whose_entry_point_it_runs(services, name):
    service = services[name]
    dockerfile = dockerfile_of(service)
    assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
    assert dockerfile.resolve().is_relative_to(ROOT), "the build context must be the repo root"
    steps = instructions(dockerfile)
    syncs = [step for step in steps if re.search(r"\buv sync\b", step)]
    assert syncs, f"{dockerfile} never runs uv sync"
    for step in syncs:
        assert "--frozen" in step and "--no-dev" in step
        assert re.search(r"--package\s+(\S+)", step).group(1) == package_of(name)
    command = service["command"]
    assert command[0] in workspace_scripts()[package_of(name)], f"{command[0]} is not a script"
    cmd = [step for step in steps if step.startswith("CMD ")]
    assert json.loads(cmd[-1][4:]) == command


@pytest.mark.parametrize("name", ALL_APPS)
def test_every_app_is_health_checked_on_its_ready_endpoint(services, name):
    test = services[name]["healthcheck"]["test"]
    urls = [urlsplit(part) for part in test if str(part).startswith("http")]
    assert [(u.hostname, u.port, u.path) for u in urls] == [
        ("127.0.0.1", port_of(name), "/health/ready")
    ]
    assert HEALTHCHECK_SCRIPT in test
    steps = instructions(dockerfile_of(services[name]))
    assert f"COPY deploy/docker/healthcheck.py {HEALTHCHECK_SCRIPT}" in steps


@pytest.mark.parametrize("name", sorted(INFRASTRUCTURE))
def test_infrastructure_is_health_checked(services, name):
    assert services[name]["healthcheck"]["test"]


@pytest.mark.parametrize("name", list(CLAIMFLOW_SERVICES))
def test_every_service_waits_for_healthy_kafka_and_postgres(services, name):
    depends_on = services[name]["depends_on"]
    for dependency in INFRASTRUCTURE:
        assert depends_on[dependency]["condition"] == "service_healthy"


def test_every_awaited_dependency_has_a_healthcheck(services):
    for name, service in services.items():
        for dependency, how in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if how.get("condition") == "service_healthy":
                assert services[dependency].get("healthcheck"), f"{dependency} has no healthcheck"


@pytest.mark.parametrize("name", [*INFRASTRUCTURE, *ALL_APPS])
def test_every_long_running_container_restarts(services, name):
    assert services[name]["restart"] in {"always", "unless-stopped", "on-failure"}


def test_database_urls_name_the_databases_the_init_script_creates(services):
    created = set()
    for script in init_scripts(services):
        created |= set(re.findall(r"CREATE DATABASE\s+(\w+)", script.read_text(), re.IGNORECASE))
    postgres = environment(services["postgres"])
    for name in CLAIMFLOW_SERVICES:
        url = urlsplit(interpolate(environment(services[name])["DATABASE_URL"]))
        assert url.scheme == "postgresql+asyncpg"
        assert (url.hostname, url.port) == ("postgres", 5432)
        assert url.username == postgres["POSTGRES_USER"]
        assert url.password == interpolate(postgres["POSTGRES_PASSWORD"])
        assert url.path.lstrip("/") == f"claimflow_{name}"
        assert f"claimflow_{name}" in created


def test_passwords_come_from_the_environment(services):
    for name, service in services.items():
        for key, value in environment(service).items():
            if "PASSWORD" in key and value is not None:
                assert str(value).startswith("${"), f"{name}.{key} is written into the file"
        url = environment(service).get("DATABASE_URL")
        if url:
            assert "${POSTGRES_PASSWORD" in url, f"{name}: DATABASE_URL hard-codes a password"


def test_kafka_is_a_single_kraft_node_that_services_reach_inside_the_network(services):
    kafka = environment(services["kafka"])
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert "ports" not in services["kafka"]
    for name in CLAIMFLOW_SERVICES:
        env = environment(services[name])
        assert interpolate(env["KAFKA_BOOTSTRAP_SERVERS"]) == "kafka:9092"
        assert interpolate(env["KAFKA_SECURITY_PROTOCOL"]) == "PLAINTEXT"


@pytest.mark.parametrize("name", ["claims", "remittance"])
def test_clearinghouse_is_the_simulator_by_default(services, name):
    url = urlsplit(interpolate(environment(services[name])["CLEARINGHOUSE_URL"]))
    assert (url.hostname, url.port) == (SIMULATOR, SIMULATOR_PORT)
    assert services[name]["depends_on"][SIMULATOR]["condition"] == "service_healthy"


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health/ready" else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def probe_target():
    server = HTTPServer(("127.0.0.1", 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("path", "healthy"), [("/health/ready", True), ("/health/nope", False)])
def test_health_probe_passes_only_on_a_ready_answer(probe_target, path, healthy):
    script = ROOT / "deploy" / "docker" / "healthcheck.py"
    result = subprocess.run(
        [sys.executable, str(script), probe_target + path], capture_output=True, timeout=30
    )
    assert (result.returncode == 0) is healthy


# -- API keys --------------------------------------------------------------------------------


def secret_targets(service: dict) -> dict[str, str]:
    """Secret name → the path the container sees it at."""
    targets = {}
    for entry in service.get("secrets") or []:
        long = {"source": entry} if isinstance(entry, str) else entry
        target = long.get("target", long["source"])
        targets[long["source"]] = target if target.startswith("/") else f"/run/secrets/{target}"
    return targets


@pytest.mark.parametrize("name", list(CLAIMFLOW_SERVICES))
def test_every_service_reads_its_api_keys_from_a_secret_file(compose, services, name):
    env = environment(services[name])
    assert "API_KEYS" not in env, f"{name}: keys belong in the secret file"
    path = interpolate(env["API_KEYS_FILE"])
    mounted = {target: source for source, target in secret_targets(services[name]).items()}
    assert path in mounted, f"{name}: API_KEYS_FILE {path} is not a mounted secret"
    secret = compose["secrets"][mounted[path]]
    source = (ROOT / secret["file"]).resolve()
    assert source.is_relative_to(ROOT / "deploy" / "compose")


def test_the_api_keys_file_is_never_committed(compose):
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    for secret in compose["secrets"].values():
        path = (ROOT / secret["file"]).resolve().relative_to(ROOT).as_posix()
        assert path in ignored, f"{path} must be git-ignored"


def test_insecure_development_mode_is_never_set(services):
    assert "ALLOW_INSECURE_DEV" not in COMPOSE.read_text()
    for name in CLAIMFLOW_SERVICES:
        assert "ALLOW_INSECURE_DEV" not in environment(services[name])


# -- Kafka on one broker ---------------------------------------------------------------------


def test_replication_fits_the_single_broker(services):
    kafka = environment(services["kafka"])
    min_isr = int(kafka["KAFKA_MIN_INSYNC_REPLICAS"])
    for name in CLAIMFLOW_SERVICES:
        factor = int(interpolate(environment(services[name])["KAFKA_REPLICATION_FACTOR"]))
        # One broker holds one copy; acks=all writes need min.insync.replicas ≤ that.
        assert factor == 1
        assert min_isr <= factor
    for key, value in kafka.items():
        if key.endswith("REPLICATION_FACTOR") or key.endswith("MIN_ISR"):
            assert int(value) == 1, f"kafka.{key}: one broker holds one copy"


# -- several replicas ------------------------------------------------------------------------


# Intake is the front door: its HTTP API and MLLP listener are published on the host (scale it
# behind a proxy), although it also consumes events to report each encounter's status.
FRONT_DOOR = "intake"


@functools.cache
def consuming_stages() -> list[str]:
    """The stages behind the front door whose composition root subscribes to a topic."""
    from claimflow_cli.local import documented_service

    return [
        name
        for name in CLAIMFLOW_SERVICES
        if name != FRONT_DOOR and documented_service(name).consumes
    ]


def published_ports(service: dict) -> list[int]:
    """Container ports bound to a fixed host port (a random host port never clashes)."""
    ports = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published"):
                ports.append(int(entry["target"]))
        elif ":" in interpolate(entry):
            ports.append(int(interpolate(entry).rsplit(":", 1)[1].split("/")[0]))
    return ports


def test_no_container_has_a_fixed_name(services):
    for name, service in services.items():
        assert "container_name" not in service, f"{name}: a fixed name forbids replicas"


@pytest.mark.parametrize("name", consuming_stages())
def test_a_consuming_stage_can_run_several_replicas(services, name):
    service = services[name]
    assert not published_ports(service), f"{name}: a fixed host port forbids replicas"
    partitions = int(interpolate(environment(service)["KAFKA_PARTITIONS"]))
    replicas = int(interpolate(service["deploy"]["replicas"]))
    assert 1 <= replicas <= partitions
    # Replicas share nothing on disk: their state is in PostgreSQL.
    assert not service.get("volumes"), f"{name}: replicas would share a volume"


def test_intake_publishes_its_api_and_mllp_listener_on_the_host(services):
    mllp = int(interpolate(environment(services["intake"])["MLLP_PORT"]))
    assert published_ports(services["intake"]) == [port_of("intake"), mllp]


def test_the_ports_override_publishes_each_consumers_api(services):
    override = yaml.safe_load(PORTS_OVERRIDE.read_text())["services"]
    assert set(override) == set(consuming_stages())
    for name, service in override.items():
        assert name in services
        assert published_ports(service) == [port_of(name)]
        host = urlsplit(f"//{interpolate(service['ports'][0])}").hostname
        assert host == "127.0.0.1", f"{name}: bind to loopback by default"


@pytest.mark.parametrize("name", list(CLAIMFLOW_SERVICES))
def test_services_run_on_a_read_only_root_with_scratch_in_memory(services, name):
    service = services[name]
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]
    scratch = {PurePosixPath(p) for p in service["tmpfs"]}
    data_dir = interpolate(environment(service)["DATA_DIR"])
    assert {PurePosixPath("/tmp"), PurePosixPath(data_dir)} <= scratch


@pytest.mark.parametrize("name", list(CLAIMFLOW_SERVICES))
def test_stopping_leaves_time_to_finish_the_batch_in_flight(services, name):
    grace = re.fullmatch(r"(\d+)s", services[name]["stop_grace_period"])
    with mock.patch.dict(os.environ, {}, clear=True):
        settings = settings_class(name)()
    # uvicorn drains HTTP for 20 s, then a revoked partition's batch may take its wait.
    assert int(grace.group(1)) >= 20 + settings.consumer_revoke_wait_s
