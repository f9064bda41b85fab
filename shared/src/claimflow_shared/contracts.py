"""JSON Schemas of every event, generated from the models, and the backward-compatibility
rule the checked-in schemas are held to: a minor version may only add optional fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from claimflow_shared.events.envelope import EventEnvelope
from claimflow_shared.topics import TOPICS, Topic

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
_IGNORED = {"description", "title", "examples", "default"}


def schema_path(topic: Topic, directory: Path = SCHEMA_DIR) -> Path:
    return directory / f"{topic.name}.schema.json"


def generate(topic: Topic) -> dict[str, Any]:
    schema = EventEnvelope[topic.payload].model_json_schema(mode="serialization")
    schema["title"] = topic.name
    schema["x-event-type"] = topic.event_type
    schema["x-schema-version"] = topic.version
    return schema


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict) and "$ref" in node:
        return _resolve(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    return node


def _shape(node: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    """The parts of a schema that decide what data is valid, with refs resolved."""
    node = _resolve(node, defs)
    if depth > 30:
        return "..."
    if isinstance(node, dict):
        return {
            k: _shape(v, defs, depth + 1)
            for k, v in node.items()
            if k not in _IGNORED and k != "$defs"
        }
    if isinstance(node, list):
        return [_shape(v, defs, depth + 1) for v in node]
    return node


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What in `new` would break a consumer or producer built against `old`."""
    problems: list[str] = []
    _compare(old, new, old.get("$defs", {}), new.get("$defs", {}), "", problems)
    return problems


def _compare(old, new, old_defs, new_defs, path, problems) -> None:
    old = _resolve(old, old_defs)
    new = _resolve(new, new_defs)
    if not isinstance(old, dict) or not isinstance(new, dict):
        if _shape(old, old_defs) != _shape(new, new_defs):
            problems.append(f"{path or '/'}: changed")
        return
    old_props = old.get("properties", {})
    new_props = new.get("properties", {})
    if old_props or new_props:
        for name in old_props:
            if name not in new_props:
                problems.append(f"{path}/{name}: removed")
        for name in set(new.get("required", [])) - set(old.get("required", [])):
            problems.append(f"{path}/{name}: newly required")
        for name, old_prop in old_props.items():
            if name in new_props:
                _compare(old_prop, new_props[name], old_defs, new_defs, f"{path}/{name}", problems)
        return
    if "items" in old or "items" in new:
        _compare(
            old.get("items", {}), new.get("items", {}), old_defs, new_defs, f"{path}[]", problems
        )
        return
    old_shape = {k: v for k, v in _shape(old, old_defs).items() if k != "properties"}
    new_shape = {k: v for k, v in _shape(new, new_defs).items() if k != "properties"}
    if old_shape != new_shape:
        problems.append(f"{path or '/'}: type or constraints changed")


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Regenerate the checked-in schemas, refusing a breaking change within a major version."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for topic in TOPICS.values():
        path = schema_path(topic, directory)
        new = generate(topic)
        if path.exists():
            old = json.loads(path.read_text())
            problems = breaking_changes(old, new)
            if problems:
                raise ValueError(
                    f"{topic.name}: breaking change; publish a new major topic instead: "
                    + "; ".join(problems)
                )
        path.write_text(json.dumps(new, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all():
        print(written_path)
