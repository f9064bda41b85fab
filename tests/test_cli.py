"""The `claimflow` command a user runs, against the running stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.infra

CLAIMFLOW = str(Path(sys.executable).parent / "claimflow")


def _claimflow(stack, *args: str) -> subprocess.CompletedProcess:
    stack.save()
    return subprocess.run(
        [CLAIMFLOW, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={"CLAIMFLOW_HOME": str(stack.home), "PATH": "/usr/bin:/bin"},
    )


def test_demo_reconciles_every_encounter_and_trace_shows_its_whole_cycle(stack):
    demo = _claimflow(stack, "demo", "--encounters", "24", "--tenants", "2", "--json")
    assert demo.returncode == 0, demo.stderr[-2000:]
    summary = json.loads(demo.stdout.strip().splitlines()[-1])
    assert summary["encounters"] == summary["accepted"] == 24
    assert summary["terminal"] == summary["paid"] + summary["denied"] == 24
    assert summary["lost"] == 0 and summary["duplicated"] == 0
    # One visit in four, at random, is a facility visit billed on an 837I.
    assert set(summary["claim_types"]) <= {"837P", "837I"}
    assert sum(summary["claim_types"].values()) == 24
    assert float(summary["dollars"]["billed"]) > float(summary["dollars"]["paid"]) > 0

    trace = _claimflow(stack, "trace", summary["sample_encounter"])
    assert trace.returncode == 0, trace.stderr[-2000:]
    for event in (
        "encounter.documented",
        "encounter.coded",
        "claim.submitted",
        "remittance.received",
    ):
        assert event in trace.stdout


def test_status_reports_every_process_ready(stack):
    status = _claimflow(stack, "status")
    assert status.returncode == 0, status.stderr[-2000:]
    for name in ("simulator", "intake", "coding", "claims", "remittance"):
        assert name in status.stdout
    assert " no " not in status.stdout
