"""Cross-service fixtures. Kafka and PostgreSQL start once per test run (see tests/stacks.py
for where they come from); a module whose load would flood the shared stack starts its own."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from claimflow_local.stack import Infrastructure, Stack
from tests.stacks import own_infrastructure, running_stack


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    with own_infrastructure() as infrastructure:
        yield infrastructure


@pytest.fixture(scope="session")
def stack(infra: Infrastructure, tmp_path_factory) -> Iterator[Stack]:
    """All four services and the payer simulator as real processes, started once."""
    only = os.environ.get("CLAIMFLOW_TEST_SERVICES")
    with running_stack(
        infra, tmp_path_factory.mktemp("stack"), only.split(",") if only else None
    ) as stack:
        yield stack
