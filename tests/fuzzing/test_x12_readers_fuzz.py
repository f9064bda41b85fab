"""Every X12 reader over 10,000 seeded mutations of public samples and of our own files:
each answers with a result (problems named inside) or its own documented error, never
anything else, and none takes a second."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from claimflow_claims.adapters.x12.reader_277ca import read_277ca
from claimflow_claims.adapters.x12.reader_999 import read_999
from claimflow_shared.x12 import X12Error
from payer_simulator.edi import X12Error as SimulatorX12Error
from payer_simulator.reader837 import read_837
from tests.fuzzing.x12_mutations import mutations

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "x12-samples"
COUNT = int(os.environ.get("X12_FUZZ_INPUTS", "10000"))


def _samples(*folders_and_globs: tuple[str, str]) -> list[str]:
    if not SAMPLES.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SAMPLES} is missing; CI must have the public samples")
        pytest.skip("the public X12 samples (../shared/x12-samples) are not here")
    texts = [
        path.read_text(errors="replace")
        for folder, pattern in folders_and_globs
        for path in sorted((SAMPLES / folder).glob(pattern))
    ]
    assert texts, folders_and_globs
    return texts


def _survives(read: Callable[[str], object], errors: tuple[type[Exception], ...], texts):
    slowest = 0.0
    for text in mutations(texts, COUNT, seed=20261123):
        started = time.perf_counter()
        with contextlib.suppress(errors):
            read(text)
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 1.0, f"slowest input took {slowest:.2f}s"


def test_the_999_reader_survives_mutated_input():
    _survives(read_999, (X12Error,), _samples(("acks", "*999*")))


def test_the_277ca_reader_survives_mutated_input():
    _survives(read_277ca, (X12Error,), _samples(("acks", "*277CA*")))


def test_the_simulators_837_reader_survives_mutated_input():
    texts = _samples(("837P", "*.837"), ("837I", "*.837i"))
    _survives(read_837, (SimulatorX12Error,), texts)
