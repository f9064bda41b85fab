"""schemathesis against every service's OpenAPI document, with and without a tenant: no
answer is a 500 and every answer matches the schema the document declares."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from claimflow_local.stack import SERVICES

pytestmark = pytest.mark.infra

ST = str(Path(sys.executable).parent / "st")
CHECKS = "not_a_server_error,response_schema_conformance"
BATCH_ROUTES = {"intake": ("/v1/encounters/batch", "/v1/encounters")}


def _schemathesis(
    url: str, *, headers: list[str], examples: int, phases: str, exclude: tuple[str, ...] = ()
) -> str:
    command = [
        ST,
        "run",
        f"{url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(examples),
        "--phases",
        phases,
        "--seed",
        "20261123",
        "--no-color",
        "--workers",
        "2",
    ]
    for header in headers:
        command += ["-H", header]
    for path in exclude:
        command += ["--exclude-path", path]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    # A failed check is the API's fault; a "Runtime Error" is schemathesis' own (its
    # generator for deeply nested schemas trips over Python's AST recursion check), and the
    # operations it did test still count.
    assert "Failures:" not in run.stdout, run.stdout[-6000:]
    assert run.returncode == 0 or _only_tool_errors(run.stdout), run.stdout[-6000:]
    assert " generated, " in run.stdout, run.stdout[-2000:]
    return run.stdout


def _only_tool_errors(output: str) -> bool:
    errors = output.split("Errors:", 1)[1] if "Errors:" in output else ""
    errors = errors.split("Test cases:", 1)[0].split("Warnings:", 1)[0]
    kinds = [line.strip() for line in errors.splitlines() if line.strip()]
    return bool(kinds) and all("Runtime Error" in kind for kind in kinds)


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_without_500s_and_as_documented(stack, service):
    url = stack.process(service).url
    tenant = ["X-Tenant-ID: fuzz-tenant"]
    _schemathesis(url, headers=tenant, examples=15, phases="coverage")
    # Random generation chokes (inside hypothesis: "AST constructor recursion depth") on whole
    # encounters; those routes are covered by the coverage phase above, field by field.
    _schemathesis(
        url, headers=tenant, examples=15, phases="fuzzing", exclude=BATCH_ROUTES.get(service, ())
    )
    _schemathesis(url, headers=[], examples=5, phases="coverage")
