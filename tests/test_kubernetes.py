"""The Kubernetes manifests agree with the code they run.

No cluster runs here, so these tests render the kustomizations the way `kustomize build` does
(for the few features they use) and read the result: every object is valid against the
Kubernetes API schemas, every variable a container gets is a setting its service reads, ports
and probes meet, credentials come from Secrets, and each stage scales on the consumer group and
topics it really consumes.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
from functools import cache
from pathlib import Path, PurePosixPath
from unittest import mock

import jsonschema
import kubernetes_validate
import pytest
import yaml

from claimflow_cli.local import documented_service

ROOT = Path(__file__).resolve().parents[1]
KUBERNETES = ROOT / "deploy" / "kubernetes"
README = KUBERNETES / "README.md"
COMPOSE = ROOT / "docker-compose.yml"

STAGES = {"intake": 8001, "coding": 8002, "claims": 8003, "remittance": 8004}
SIMULATOR = "payer-simulator"
SIMULATOR_PORT = 8010
APPS = [*STAGES, SIMULATOR]
# The oldest Kubernetes release the manifests are meant for, and the newest schemas shipped.
KUBERNETES_VERSIONS = ["1.29", kubernetes_validate.utils.latest_version()]
# Peak RSS of one replica, measured with `make bench` (README, "Benchmark").
MEASURED_RSS_MIB = {"intake": 130, "coding": 300, "claims": 130, "remittance": 130}
# The ConfigMap a production overlay provides instead of the simulator's.
OVERLAY_CONFIGMAPS = {"claimflow-clearinghouse"}
SECRET_LIKE = re.compile(r"PASSWORD|SECRET|TOKEN|DATABASE_URL|SASL_USERNAME|^API_KEYS$")

# -- rendering ---------------------------------------------------------------------------------

KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images"}


def _split_image(image: str) -> tuple[str, str | None]:
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return image, None
    return name, tag


def _set_images(obj: dict, images: list[dict]) -> None:
    for container in containers_of(obj, init=True):
        name, tag = _split_image(container["image"])
        for rule in images:
            if rule["name"] == name:
                tag = rule.get("newTag", tag)
                name = rule.get("newName", name)
                container["image"] = f"{name}:{tag}" if tag else name


def render(directory: Path) -> list[dict]:
    """What `kustomize build directory` prints, for resources, namespace and images only; a
    kustomization using anything else fails here rather than be rendered wrongly."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - KUSTOMIZATION_FIELDS
    assert not unsupported, f"{directory}: the test renderer does not know {sorted(unsupported)}"
    objects: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects += render(path)
        else:
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for obj in objects:
        if "namespace" in kustomization:
            obj["metadata"]["namespace"] = kustomization["namespace"]
        _set_images(obj, kustomization.get("images", []))
    ids = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, f"{directory}: objects defined twice: {sorted(duplicates)}"
    return objects


def containers_of(obj: dict, *, init: bool = False) -> list[dict]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("containers", []), *(spec.get("initContainers", []) if init else [])]


@cache
def rendered() -> tuple[dict, ...]:
    return tuple(render(KUBERNETES))


def objects(kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in rendered() if o["kind"] == kind}


def deployment(name: str) -> dict:
    found = objects("Deployment")
    assert name in found, f"no Deployment {name}"
    return found[name]


def container(name: str) -> dict:
    (only,) = containers_of(deployment(name))
    return only


def pod_labels(name: str) -> dict[str, str]:
    return deployment(name)["spec"]["template"]["metadata"]["labels"]


def pod_spec(name: str) -> dict:
    return deployment(name)["spec"]["template"]["spec"]


def http_port(name: str) -> int:
    return SIMULATOR_PORT if name == SIMULATOR else STAGES[name]


def container_port(name: str, port: int | str) -> int:
    """A probe's or Service's port, resolved through the container's named ports."""
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container(name)["ports"] if "name" in p}
    assert port in named, f"{name}: no container port named {port}"
    return named[port]


# -- environment -------------------------------------------------------------------------------


def configmap_data(name: str) -> dict[str, str]:
    found = objects("ConfigMap")
    assert name in found, f"ConfigMap {name} is not in the rendered manifests"
    return found[name].get("data", {})


def environment(name: str) -> dict[str, dict]:
    """Every variable the container gets → where from: {"value": ...} or {"valueFrom": ...};
    `env` wins over `envFrom`, as in Kubernetes."""
    c = container(name)
    env: dict[str, dict] = {}
    for source in c.get("envFrom", []):
        assert "secretRef" not in source, f"{name}: envFrom a Secret hides which keys it sets"
        ref = source["configMapRef"]["name"]
        if ref in OVERLAY_CONFIGMAPS and ref not in objects("ConfigMap"):
            continue
        for key, value in configmap_data(ref).items():
            env[source.get("prefix", "") + key] = {"value": value, "configMap": ref}
    for var in c.get("env", []):
        env[var["name"]] = {k: v for k, v in var.items() if k != "name"}
    return env


def literal_values(name: str) -> dict[str, str]:
    return {k: v["value"] for k, v in environment(name).items() if "value" in v}


def settings_class(name: str):
    if name == SIMULATOR:
        return importlib.import_module("payer_simulator.settings").SimulatorSettings
    return importlib.import_module(f"claimflow_{name}.settings").Settings


def env_prefix(cls) -> str:
    return cls.model_config.get("env_prefix", "").upper()


def settings_of(name: str, **secrets: str):
    """The settings the container starts with: literal values, plus stand-ins for secrets."""
    cls = settings_class(name)
    prefix = env_prefix(cls)
    values = {**literal_values(name), **secrets}
    # The container's environment is the manifests', not this shell's.
    with mock.patch.dict(os.environ, {}, clear=True):
        return cls(**{key[len(prefix) :].lower(): value for key, value in values.items()})


def secret_ref(name: str, variable: str) -> tuple[str, str]:
    source = environment(name).get(variable)
    assert source is not None, f"{name}: {variable} is not set"
    ref = source.get("valueFrom", {}).get("secretKeyRef")
    assert ref, f"{name}: {variable} must come from a secretKeyRef, not a literal or ConfigMap"
    assert not ref.get("optional"), f"{name}: the secret behind {variable} must not be optional"
    return ref["name"], ref["key"]


def mounted_secret(name: str, path: str) -> tuple[str, str]:
    """(Secret, key) whose file the container sees at `path`."""
    target = PurePosixPath(path)
    volumes = {v["name"]: v for v in pod_spec(name).get("volumes", [])}
    for mount in container(name).get("volumeMounts", []):
        directory = PurePosixPath(mount["mountPath"])
        if target.parent != directory:
            continue
        assert "subPath" not in mount, f"{name}: {path} via subPath is never refreshed"
        secret = volumes[mount["name"]].get("secret")
        assert secret, f"{name}: {path} is not on a Secret volume"
        items = {i["path"]: i["key"] for i in secret.get("items", [])}
        key = items.get(target.name) if items else target.name
        assert key, f"{name}: the Secret volume at {directory} has no item {target.name}"
        return secret["secretName"], key
    raise AssertionError(f"{name}: nothing is mounted at {target.parent} (for {path})")


def consumed_topics(name: str) -> set[str]:
    return {topic.name for topic in service_of(name).consumes}


@cache
def service_of(name: str):
    return documented_service(name)


# -- what the README tells operators to create ------------------------------------------------


def documented_secrets() -> dict[str, set[str]]:
    """Secret → keys, from the `kubectl create secret generic` commands in the README."""
    text = re.sub(r"\\\n\s*", " ", README.read_text())
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        if "create secret generic" not in line:
            continue
        words = shlex.split(line.split("|")[0])
        name = words[words.index("generic") + 1]
        keys = {
            word.split("=", 2)[1]
            for word in words
            if word.startswith(("--from-literal=", "--from-file="))
        }
        found.setdefault(name, set()).update(keys)
    return found


def referenced_secrets() -> set[tuple[str, str]]:
    """Every (Secret, key) a pod or KEDA reads."""
    refs = set()
    for obj in objects("Deployment").values():
        for c in containers_of(obj, init=True):
            for var in c.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.add((ref["name"], ref["key"]))
        for volume in obj["spec"]["template"]["spec"].get("volumes", []):
            secret = volume.get("secret")
            if secret:
                keys = [i["key"] for i in secret.get("items", [])] or [None]
                refs |= {(secret["secretName"], key) for key in keys}
    for auth in objects("TriggerAuthentication").values():
        refs |= {(r["name"], r["key"]) for r in auth["spec"].get("secretTargetRef", [])}
    return refs


# -- KEDA: no schema ships for its custom resources, so their fields are checked here ----------

_REF = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "kind": {"type": "string"}},
    "additionalProperties": False,
}
KEDA_SCHEMAS = {
    "ScaledObject": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "spec": {
                "type": "object",
                "required": ["scaleTargetRef", "triggers"],
                "additionalProperties": False,
                "properties": {
                    "scaleTargetRef": {
                        "type": "object",
                        "required": ["name"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string"},
                            "kind": {"type": "string"},
                            "apiVersion": {"type": "string"},
                            "envSourceContainerName": {"type": "string"},
                        },
                    },
                    "pollingInterval": {"type": "integer", "minimum": 1},
                    "cooldownPeriod": {"type": "integer", "minimum": 0},
                    "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                    "idleReplicaCount": {"type": "integer", "minimum": 0},
                    "minReplicaCount": {"type": "integer", "minimum": 0},
                    "maxReplicaCount": {"type": "integer", "minimum": 1},
                    "fallback": {"type": "object"},
                    "advanced": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "restoreToOriginalReplicaCount": {"type": "boolean"},
                            "horizontalPodAutoscalerConfig": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "name": {"type": "string"},
                                    "behavior": {"type": "object"},
                                },
                            },
                            "scalingModifiers": {"type": "object"},
                        },
                    },
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["type", "metadata"],
                            "additionalProperties": False,
                            "properties": {
                                "type": {"type": "string"},
                                "name": {"type": "string"},
                                "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                                "useCachedMetrics": {"type": "boolean"},
                                # KEDA reads every metadata value as a string.
                                "metadata": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "authenticationRef": _REF,
                            },
                        },
                    },
                },
            },
        },
    },
    "TriggerAuthentication": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "secretTargetRef": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["parameter", "name", "key"],
                            "additionalProperties": False,
                            "properties": {
                                "parameter": {"type": "string"},
                                "name": {"type": "string"},
                                "key": {"type": "string"},
                            },
                        },
                    },
                    "env": {"type": "array"},
                    "podIdentity": {"type": "object"},
                },
            },
        },
    },
}
# The Kafka scaler's documented trigger metadata and authentication parameters.
KAFKA_TRIGGER_METADATA = {
    "bootstrapServers",
    "bootstrapServersFromEnv",
    "consumerGroup",
    "consumerGroupFromEnv",
    "topic",
    "topicFromEnv",
    "lagThreshold",
    "activationLagThreshold",
    "offsetResetPolicy",
    "allowIdleConsumers",
    "scaleToZeroOnInvalidOffset",
    "excludePersistentLag",
    "limitToPartitionsWithLag",
    "ensureEvenDistributionOfPartitions",
    "partitionLimitation",
    "version",
    "sasl",
    "tls",
    "unsafeSsl",
}
KAFKA_AUTH_PARAMETERS = {"sasl", "username", "password", "tls", "ca", "cert", "key", "keyPassword"}
# The services' KAFKA_SASL_MECHANISM → KEDA's `sasl`.
KEDA_SASL = {"SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512", "PLAIN": "plaintext"}


def scaled_objects_for(name: str) -> list[dict]:
    return [
        o
        for o in objects("ScaledObject").values()
        if o["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        and o["spec"]["scaleTargetRef"]["name"] == name
    ]


def hpas_for(name: str) -> list[dict]:
    return [
        o
        for o in objects("HorizontalPodAutoscaler").values()
        if o["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        and o["spec"]["scaleTargetRef"]["name"] == name
    ]


# Intake is the front door: it consumes only the status events it reports, and scales on
# the requests it answers (CPU), not on consumer lag.
FRONT_DOOR = "intake"
CONSUMERS = [name for name in STAGES if name != FRONT_DOOR]


# -- the tests -----------------------------------------------------------------------------------


def test_every_manifest_file_is_part_of_a_kustomization():
    listed = set()
    for kustomization in KUBERNETES.rglob("kustomization.yaml"):
        for entry in yaml.safe_load(kustomization.read_text()).get("resources", []):
            listed.add((kustomization.parent / entry).resolve())
    manifests = {p.resolve() for p in KUBERNETES.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert manifests - listed == set(), "manifests no kustomization applies"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_against_the_kubernetes_api_schemas(version):
    checked = 0
    for obj in rendered():
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in KEDA_SCHEMAS:
            jsonschema.validate(obj, KEDA_SCHEMAS[obj["kind"]])
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            raise AssertionError(f"{label} at {path}: {error.message}") from None
        except kubernetes_validate.SchemaNotFoundError:
            raise AssertionError(f"{label}: {obj['apiVersion']} is not in Kubernetes") from None
        checked += 1
    assert checked >= 2 * len(APPS)


def test_the_stages_render_alone_for_a_production_overlay():
    stages = render(KUBERNETES / "stages")
    assert {o["metadata"]["name"] for o in stages if o["kind"] == "Deployment"} == set(STAGES)
    names = {o["metadata"]["name"] for o in stages if o["kind"] == "ConfigMap"}
    wanted = {
        source["configMapRef"]["name"]
        for o in stages
        for c in containers_of(o, init=True)
        for source in c.get("envFrom", [])
    }
    # Only what a production overlay brings itself is missing, and the README says so.
    assert wanted - names == OVERLAY_CONFIGMAPS
    for name in OVERLAY_CONFIGMAPS:
        assert name in README.read_text()


def test_every_referenced_configmap_is_rendered():
    names = set(objects("ConfigMap"))
    for name in APPS:
        for source in container(name).get("envFrom", []):
            assert source["configMapRef"]["name"] in names, f"{name}: {source}"


@pytest.mark.parametrize("name", APPS)
def test_every_app_has_a_deployment_and_a_service_on_its_http_port(name):
    c = container(name)
    ports = [p["containerPort"] for p in c["ports"]]
    settings = settings_of(name, **placeholder_secrets(name))
    # Besides HTTP, intake listens for HL7 v2 over MLLP on its own port.
    assert ports == [http_port(name), *([settings.mllp_port] if name == FRONT_DOOR else [])]
    assert int(settings.http_port) == http_port(name)
    services = [
        s
        for s in objects("Service").values()
        if s["spec"]["selector"].items()
        <= deployment(name)["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert [s["metadata"]["name"] for s in services] == [name]
    port, *others = services[0]["spec"]["ports"]
    assert container_port(name, port["targetPort"]) == http_port(name)
    assert [container_port(name, p["targetPort"]) for p in others] == ports[1:]


@pytest.mark.parametrize("name", APPS)
def test_the_deployment_selects_its_own_pods(name):
    spec = deployment(name)["spec"]
    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= spec["template"]["metadata"]["labels"].items()
    for other in objects("Deployment"):
        if other != name:
            assert not selector.items() <= pod_labels(other).items(), f"{name} selects {other}"


@pytest.mark.parametrize("name", APPS)
def test_probes_ask_live_and_ready_on_the_http_port(name):
    c = container(name)
    expected = {
        "livenessProbe": "/health/live",
        "readinessProbe": "/health/ready",
        "startupProbe": "/health/live",
    }
    assert "livenessProbe" in c and "readinessProbe" in c
    for probe, path in expected.items():
        if probe not in c:
            continue
        get = c[probe]["httpGet"]
        assert get["path"] == path, f"{name}.{probe}"
        assert container_port(name, get["port"]) == http_port(name), f"{name}.{probe}"


def placeholder_secrets(name: str) -> dict[str, str]:
    """Values standing in for what Secrets hold, shaped as the settings expect."""
    return {
        key: "postgresql+asyncpg://u:p@db:5432/x" if key == "DATABASE_URL" else "secret"
        for key, source in environment(name).items()
        if "valueFrom" in source
    }


@pytest.mark.parametrize("name", APPS)
def test_every_variable_is_a_setting_the_service_reads(name):
    cls = settings_class(name)
    prefix = env_prefix(cls)
    known = {f"{prefix}{field.upper()}" for field in cls.model_fields}
    unknown = set(environment(name)) - known
    assert not unknown, f"{name} is given variables its settings do not read: {sorted(unknown)}"


@pytest.mark.parametrize("name", APPS)
def test_every_required_setting_is_provided_and_every_value_is_valid(name):
    cls = settings_class(name)
    prefix = env_prefix(cls)
    required = {
        f"{prefix}{f.upper()}" for f, info in cls.model_fields.items() if info.is_required()
    }
    assert required <= set(environment(name))
    settings = settings_of(name, **placeholder_secrets(name))
    assert str(settings.http_host) == "0.0.0.0"
    if name != SIMULATOR:
        assert settings.service_name == name
        assert settings.kafka_consumer_group in (None, f"claimflow-{name}")
        assert settings.consumer_group == f"claimflow-{name}"


@pytest.mark.parametrize("name", STAGES)
def test_a_stage_never_falls_back_to_sqlite(name):
    assert secret_ref(name, "DATABASE_URL")
    settings = settings_of(name, **placeholder_secrets(name))
    assert settings.effective_database_url.startswith("postgresql+asyncpg://")


def test_every_stage_has_a_database_secret_of_its_own():
    secrets = [secret_ref(name, "DATABASE_URL") for name in STAGES]
    assert len(set(secrets)) == len(STAGES)


@pytest.mark.parametrize("name", STAGES)
def test_credentials_come_from_secrets_never_literals(name):
    for variable in ("DATABASE_URL", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
        secret_ref(name, variable)
    for variable, source in environment(name).items():
        if SECRET_LIKE.search(variable):
            assert "valueFrom" in source, f"{name}: {variable} is written into the manifests"


def test_no_configmap_holds_a_secret():
    for configmap in objects("ConfigMap").values():
        for key, value in configmap.get("data", {}).items():
            assert not SECRET_LIKE.search(key), f"{configmap['metadata']['name']}.{key}"
            assert "://" not in value or "@" not in value, f"credentials in a URL: {key}"


@pytest.mark.parametrize("name", STAGES)
def test_api_keys_are_a_mounted_secret_file(name):
    env = environment(name)
    assert "API_KEYS" not in env, f"{name}: keys belong in the mounted file"
    path = env["API_KEYS_FILE"]["value"]
    secret, key = mounted_secret(name, path)
    assert (secret, key) in {(s, k) for s, keys in documented_secrets().items() for k in keys}
    assert settings_of(name, **placeholder_secrets(name)).api_keys_file == Path(path)


def test_every_stage_reads_the_same_api_keys():
    assert len({mounted_secret(n, literal_values(n)["API_KEYS_FILE"]) for n in STAGES}) == 1


@pytest.mark.parametrize("name", STAGES)
def test_insecure_development_mode_is_never_set(name):
    assert "ALLOW_INSECURE_DEV" not in environment(name)
    assert settings_of(name, **placeholder_secrets(name)).allow_insecure_dev is False


def test_insecure_development_mode_is_nowhere_in_the_manifests():
    for path in KUBERNETES.rglob("*.yaml"):
        assert "ALLOW_INSECURE_DEV" not in path.read_text(), path


@pytest.mark.parametrize("name", STAGES)
def test_topics_are_replicated_three_times(name):
    settings = settings_of(name, **placeholder_secrets(name))
    assert settings.kafka_replication_factor == 3


@pytest.mark.parametrize("name", STAGES)
def test_kafka_is_reached_over_tls_with_the_mounted_ca(name):
    settings = settings_of(name, **placeholder_secrets(name))
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_ssl_cafile is not None
    secret, _ = mounted_secret(name, str(settings.kafka_ssl_cafile))
    assert secret == secret_ref(name, "KAFKA_SASL_PASSWORD")[0]


def test_every_secret_the_manifests_read_is_documented():
    documented = documented_secrets()
    for secret, key in referenced_secrets():
        assert secret in documented, f"the README never says how to create Secret {secret}"
        if key is not None:
            assert key in documented[secret], f"the README's {secret} has no key {key}"


@pytest.mark.parametrize("name", STAGES)
def test_each_stage_is_scaled_on_what_it_consumes(name):
    """A stage that consumes topics scales on its consumer lag (KEDA); one that consumes none,
    on CPU (an HPA)."""
    scaled, hpas = scaled_objects_for(name), hpas_for(name)
    assert len(scaled) + len(hpas) == 1, f"{name} needs exactly one autoscaler"
    assert bool(scaled) == (name in CONSUMERS and bool(consumed_topics(name)))
    assert "replicas" not in deployment(name)["spec"], "the autoscaler owns the replica count"


@pytest.mark.parametrize("name", CONSUMERS)
def test_scaled_object_watches_the_stages_group_and_topics(name):
    (scaled,) = scaled_objects_for(name)
    spec = scaled["spec"]
    settings = settings_of(name, **placeholder_secrets(name))
    partitions = settings.kafka_partitions
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
    topics = set()
    for trigger in spec["triggers"]:
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert set(meta) <= KAFKA_TRIGGER_METADATA, sorted(set(meta) - KAFKA_TRIGGER_METADATA)
        assert meta["consumerGroup"] == settings.consumer_group
        assert meta.get("allowIdleConsumers", "false") == "false"
        assert int(meta["lagThreshold"]) > 0
        # The consumer joins a new group at the earliest offset; KEDA must count lag alike.
        assert meta["offsetResetPolicy"] == "earliest"
        source = meta["bootstrapServersFromEnv"]
        assert literal_values(name)[source] == settings.kafka_bootstrap_servers
        topics.add(meta["topic"])
    assert topics == consumed_topics(name)


@pytest.mark.parametrize("name", CONSUMERS)
def test_keda_logs_in_to_kafka_as_the_service_does(name):
    (scaled,) = scaled_objects_for(name)
    settings = settings_of(name, **placeholder_secrets(name))
    auths = objects("TriggerAuthentication")
    for trigger in scaled["spec"]["triggers"]:
        meta = trigger["metadata"]
        assert meta["sasl"] == KEDA_SASL[settings.kafka_sasl_mechanism]
        assert meta["tls"] == (
            "enable" if settings.kafka_security_protocol.endswith("SSL") else "disable"
        )
        auth = auths[trigger["authenticationRef"]["name"]]
        refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
        assert set(refs) <= KAFKA_AUTH_PARAMETERS
        assert refs["username"] == secret_ref(name, "KAFKA_SASL_USERNAME")
        assert refs["password"] == secret_ref(name, "KAFKA_SASL_PASSWORD")
        assert refs["ca"] == mounted_secret(name, str(settings.kafka_ssl_cafile))


def test_intake_scales_on_cpu_with_a_cpu_request():
    (hpa,) = hpas_for("intake")
    metrics = hpa["spec"]["metrics"]
    assert [m["resource"]["name"] for m in metrics if m["type"] == "Resource"] == ["cpu"]
    assert 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]
    assert container("intake")["resources"]["requests"]["cpu"]


@pytest.mark.parametrize("name", STAGES)
def test_a_disruption_budget_keeps_the_stage_up_without_blocking_drains(name):
    budgets = [
        b
        for b in objects("PodDisruptionBudget").values()
        if b["spec"]["selector"]["matchLabels"].items() <= pod_labels(name).items()
    ]
    assert len(budgets) == 1, f"{name}: {len(budgets)} disruption budgets"
    spec = budgets[0]["spec"]
    # With one replica, minAvailable ≥ 1 would forbid every eviction (a node never drains).
    assert "maxUnavailable" in spec and spec["maxUnavailable"] >= 1


@pytest.mark.parametrize("name", APPS)
def test_pods_run_unprivileged_on_a_read_only_root(name):
    pod, c = pod_spec(name), container(name)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    context = c["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"]["drop"] == ["ALL"]
    assert not context.get("privileged", False)


@pytest.mark.parametrize("name", APPS)
def test_every_path_the_app_writes_is_a_volume(name):
    settings = settings_of(name, **placeholder_secrets(name))
    mounts = {PurePosixPath(m["mountPath"]) for m in container(name)["volumeMounts"]}
    assert PurePosixPath("/tmp") in mounts
    assert PurePosixPath(str(settings.data_dir)) in mounts


@pytest.mark.parametrize("name", APPS)
def test_resources_are_requested_and_limited(name):
    resources = container(name)["resources"]
    for kind in ("cpu", "memory"):
        request, limit = resources["requests"][kind], resources["limits"][kind]
        assert quantity(request) <= quantity(limit), f"{name}: {kind} request over its limit"
    if name in MEASURED_RSS_MIB:
        assert quantity(resources["requests"]["memory"]) >= MEASURED_RSS_MIB[name] * 2**20


def quantity(value: str | int) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    found = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    assert found, f"not a quantity: {value}"
    return float(found.group(1)) * units.get(found.group(2), 1)


@pytest.mark.parametrize("name", APPS)
def test_images_are_the_compose_images_at_a_pinned_tag(name):
    compose = yaml.safe_load(COMPOSE.read_text())["services"][name]
    image, tag = _split_image(container(name)["image"])
    # Compose tags its images `${CLAIMFLOW_VERSION:-latest}`; the repository must be the same.
    assert image == _split_image(re.sub(r"\$\{[^}]*\}", "any", compose["image"]))[0]
    assert tag and tag != "latest", f"{name}: pin the image tag"
    assert container(name)["command"] == compose["command"]


@pytest.mark.parametrize("name", APPS)
def test_shutdown_leaves_time_to_finish_the_batch_in_flight(name):
    grace = pod_spec(name).get("terminationGracePeriodSeconds", 30)
    if name == SIMULATOR:
        assert grace >= 10
        return
    settings = settings_of(name, **placeholder_secrets(name))
    pre_stop = container(name).get("lifecycle", {}).get("preStop", {}).get("exec", {})
    waited = int(pre_stop["command"][-1]) if pre_stop else 0
    # uvicorn drains HTTP for 20 s (Service.serve); a revoked partition's batch may take
    # consumer_revoke_wait_s.
    assert grace >= waited + 20 + settings.consumer_revoke_wait_s


def test_the_simulator_is_one_replica_on_its_own_volume():
    spec = deployment(SIMULATOR)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate"
    assert not scaled_objects_for(SIMULATOR) and not hpas_for(SIMULATOR)
    settings = settings_of(SIMULATOR)
    claims = {v["name"]: v for v in pod_spec(SIMULATOR)["volumes"]}
    (mount,) = [
        m
        for m in container(SIMULATOR)["volumeMounts"]
        if PurePosixPath(m["mountPath"]) == PurePosixPath(str(settings.data_dir))
    ]
    claim = claims[mount["name"]]["persistentVolumeClaim"]["claimName"]
    assert claim in objects("PersistentVolumeClaim")


@pytest.mark.parametrize("name", ["claims", "remittance"])
def test_the_clearinghouse_is_the_simulator_service(name):
    url = settings_of(name, **placeholder_secrets(name)).clearinghouse_url
    service = objects("Service")[SIMULATOR]
    assert url == f"http://{SIMULATOR}:{service['spec']['ports'][0]['port']}"
