"""`claimflow tenant|payer|provider` and `claimflow ingest FILE` against the running stack."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from services.intake.tests.unit.builders import (
    RENDERING_NPI,
    SYNTHEA,
    json_encounter,
    make_npi,
)
from tests.support import new_tenant

pytestmark = pytest.mark.infra

CLAIMFLOW = str(Path(sys.executable).parent / "claimflow")
PRACTITIONERS = next(SYNTHEA.glob("practitionerInformation*"))


def _claimflow(stack, tenant: str, command: str) -> subprocess.CompletedProcess:
    stack.save()
    return subprocess.run(
        [CLAIMFLOW, *shlex.split(command)],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "CLAIMFLOW_HOME": str(stack.home),
            "CLAIMFLOW_TENANT": tenant,
            "PATH": "/usr/bin:/bin",
        },
    )


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def _set_up(stack, tenant: str, billing: str) -> subprocess.CompletedProcess:
    _ok(
        _claimflow(
            stack,
            tenant,
            "payer add BCBS --name 'Blue Cross Blue Shield' --alias BCBS "
            "--alias 'Blue Cross & Blue Shield' --filing-indicator BL",
        )
    )
    added = _ok(
        _claimflow(
            stack,
            tenant,
            f"provider add --kind organization --npi {billing} --name 'CLI MEDICAL GROUP' "
            "--tax-id 123456789 --address '1 Main St, Boston, MA, 021101234'",
        )
    )
    _ok(
        _claimflow(
            stack,
            tenant,
            f"provider add --kind individual --npi {RENDERING_NPI} --first-name Ada "
            "--last-name Quill --local-id 'urn:acme:staff|AQ1'",
        )
    )
    _ok(_claimflow(stack, tenant, f"tenant set --billing-npi {billing}"))
    return added


def test_a_tenant_is_set_up_from_the_command_line_and_every_change_is_audited(stack):
    tenant = new_tenant("cli")
    billing = make_npi(4242)
    added = _set_up(stack, tenant, billing)
    provider_id = int(added.stdout.strip().splitlines()[-1])
    refused = _claimflow(stack, tenant, "payer add BAD --name Bad --filing-indicator Q9")
    assert refused.returncode == 1
    assert "/payers/1/claim_filing_indicator" in refused.stderr
    loaded = _ok(_claimflow(stack, tenant, f"provider load {PRACTITIONERS} --json"))
    assert json.loads(loaded.stdout)["providers"] == 22

    payers = json.loads(_ok(_claimflow(stack, tenant, "payer list --json")).stdout)
    assert [(p["payer_id"], p["claim_filing_indicator"]) for p in payers] == [("BCBS", "BL")]
    providers = json.loads(_ok(_claimflow(stack, tenant, "provider list --json")).stdout)
    assert len(providers) == 2 + 22
    assert next(p for p in providers if p["id"] == provider_id)["can_bill"]
    shown = json.loads(_ok(_claimflow(stack, tenant, "tenant show --json")).stdout)
    assert shown["billing_npi"] == billing and shown["payers"] == 1
    audit = _ok(_claimflow(stack, tenant, "tenant audit --limit 100")).stdout
    assert "payer" in audit and "provider" in audit and "operator:dev-" in audit

    _ok(_claimflow(stack, tenant, "tenant set --place-of-service 22"))
    changed = json.loads(_ok(_claimflow(stack, tenant, "tenant show --json")).stdout)
    assert changed == {**shown, "place_of_service": "22", "version": shown["version"] + 1}
    new_provider = f"provider add --kind individual --npi {make_npi(4243)} --first-name Bo"
    removable = _ok(_claimflow(stack, tenant, f"{new_provider} --last-name Lee"))
    removable_id = int(removable.stdout.strip().splitlines()[-1])
    _ok(_claimflow(stack, tenant, f"provider remove {removable_id}"))
    gone = _claimflow(stack, tenant, f"provider remove {removable_id}")
    assert gone.returncode == 1 and "404" in gone.stderr
    other = json.loads(_ok(_claimflow(stack, new_tenant("cli-other"), "payer list --json")).stdout)
    assert other == []


def test_ingest_shows_progress_and_reports_every_record(stack, tmp_path):
    tenant = new_tenant("cli-ingest")
    _set_up(stack, tenant, make_npi(77))
    path = tmp_path / "visits.ndjson"
    lines = [json_encounter(n) for n in range(1, 301)]
    lines[41]["patient"]["birth_date"] = "2199-01-01"
    lines.append(json_encounter(7))  # the same document again
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    results = tmp_path / "results.ndjson"
    run = _ok(
        _claimflow(stack, tenant, f"ingest {path} --source-system ehr-1 --results {results} --json")
    )
    assert "uploading" in run.stderr and "ingesting" in run.stderr
    assert "line 42" in run.stderr and "/patient/birth_date" in run.stderr
    assert "2199" not in run.stderr
    job = json.loads(run.stdout.strip().splitlines()[-1])
    assert job["status"] == "done"
    assert (job["records"], job["accepted"], job["rejected"], job["duplicate"]) == (301, 299, 1, 1)
    written = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["ordinal"] for r in written] == list(range(1, 302))
    assert written[41]["status"] == "rejected" and written[300]["status"] == "duplicate"
    bad = tmp_path / "bad.csv"
    bad.write_text("document_id,no_such_column\nD1,x\n")
    failed = _claimflow(stack, tenant, f"ingest {bad}")
    assert failed.returncode == 1 and "no_such_column" in failed.stderr
