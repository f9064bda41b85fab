"""The demo: a synthetic batch through intake, followed stage by stage to paid or denied,
then reconciled against what every service recorded."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from claimflow_cli.client import StackClient
from claimflow_cli.synthetic import encounter
from claimflow_local.stack import Stack

STAGES = ("accepted by intake", "coded", "claim submitted", "remittance posted")
NEEDS_WORK = {"held", "rejected"}


def demo_tenants(count: int, run_id: str) -> list[str]:
    return [f"demo{run_id}-t{i + 1:02d}" for i in range(count)]


def _submit(client: StackClient, tenant: str, bodies: list[dict]) -> list[str]:
    ids = []
    for start in range(0, len(bodies), 200):
        ids += [r["encounter_id"] for r in client.post_batch(tenant, bodies[start : start + 200])]
    return ids


def stage_counts(client: StackClient, tenants: list[str]) -> dict[str, Any]:
    counts = {stage: 0 for stage in STAGES} | {"waiting on work": 0}
    for tenant in tenants:
        coding = client.get("coding", "/v1/summary", tenant)
        claims = client.get("claims", "/v1/summary", tenant)
        counts["coded"] += coding["coded"]
        counts["claim submitted"] += claims["submitted"]
        counts["waiting on work"] += coding["query"] + sum(
            n for state, n in claims["by_state"].items() if state in NEEDS_WORK
        )
        counts["remittance posted"] += client.get("remittance", "/v1/summary", tenant)["posted"]
    return counts


def reconcile(client: StackClient, tenants: list[str]) -> dict[str, Any]:
    """Compare what intake accepted with the terminal states the services recorded."""
    accepted: dict[str, str] = {}
    claims_per_encounter: dict[str, int] = {}
    claim_types: dict[str, int] = {}  # 837P, 837I
    postings: dict[str, list[dict]] = {}
    queries: set[str] = set()
    needs_work: set[str] = set()
    billed = Decimal("0")
    for tenant in tenants:
        for row in client.get("intake", "/v1/encounters", tenant):
            accepted[row["encounter_id"]] = tenant
        for row in client.get("claims", "/v1/claims", tenant):
            claims_per_encounter[row["encounter_id"]] = (
                claims_per_encounter.get(row["encounter_id"], 0) + 1
            )
            billed += Decimal(row["total_charge"])
            claim_types[row["claim_type"]] = claim_types.get(row["claim_type"], 0) + 1
            if row["state"] in NEEDS_WORK:
                needs_work.add(row["encounter_id"])
        for row in client.get("remittance", "/v1/postings", tenant):
            postings.setdefault(row["encounter_id"], []).append(row)
        queries |= {q["encounter_id"] for q in client.get("coding", "/v1/worklist", tenant)}
    terminal: dict[str, int] = {}
    paid = denied = patient = Decimal("0")
    for rows in postings.values():
        for row in rows:
            terminal[row["status"]] = terminal.get(row["status"], 0) + 1
            paid += Decimal(row["paid"])
            patient += Decimal(row["patient_responsibility"])
            denied += Decimal(row["denied_amount"])
    lost = [e for e in accepted if e not in postings and e not in queries | needs_work]
    duplicated = [
        e for e in accepted if len(postings.get(e, [])) > 1 or claims_per_encounter.get(e, 0) > 1
    ]
    strays = [e for e in postings if e not in accepted]
    return {
        "accepted": len(accepted),
        "terminal": terminal,
        "coder_queries": len(queries),
        "claims_needing_work": len(needs_work),
        "claim_types": claim_types,
        "lost": len(lost),
        "duplicated": len(duplicated) + len(strays),
        "lost_encounters": lost[:20],
        "duplicated_encounters": (duplicated + strays)[:20],
        "dollars": {
            "billed": f"{billed:.2f}",
            "paid": f"{paid:.2f}",
            "denied": f"{denied:.2f}",
            "patient_responsibility": f"{patient:.2f}",
        },
        "tenants_by_encounter": accepted,
    }


def run(
    stack: Stack, *, encounters: int, tenants: int, idle_timeout: float, console: Console
) -> tuple[dict[str, Any], dict[str, str]]:
    run_id = uuid.uuid4().hex[:6]
    names = demo_tenants(tenants, run_id)
    plan = {
        t: [encounter(t, n, seed=int(run_id, 16)) for n in range(i, encounters, tenants)]
        for i, t in enumerate(names)
    }
    started = time.monotonic()
    with (
        StackClient(stack) as client,
        Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress,
    ):
        bars = {stage: progress.add_task(stage, total=encounters) for stage in STAGES}
        with ThreadPoolExecutor(max_workers=min(8, tenants)) as pool:
            ids = list(pool.map(lambda t: _submit(client, t, plan[t]), names))
        accepted = sum(len(x) for x in ids)
        progress.update(bars["accepted by intake"], completed=accepted)
        last_change, last = time.monotonic(), None
        while True:
            counts = stage_counts(client, names)
            for stage in STAGES[1:]:
                progress.update(bars[stage], completed=counts[stage])
            done = counts["remittance posted"] + counts["waiting on work"]
            if done >= accepted:
                break
            if counts != last:
                last, last_change = counts, time.monotonic()
            elif time.monotonic() - last_change > idle_timeout:
                console.print(f"[red]no progress for {idle_timeout:.0f}s; reconciling now[/]")
                break
            time.sleep(0.5)
        # Throughput counts until the last encounter moved, not the idle wait after it.
        elapsed = (time.monotonic() if done >= accepted else last_change) - started
        result = reconcile(client, names)
    terminal_total = sum(result["terminal"].values())
    return {
        "run_id": run_id,
        "encounters": encounters,
        "tenants": names,
        "accepted": result["accepted"],
        "terminal": terminal_total,
        "terminal_states": result["terminal"],
        "paid": result["terminal"].get("paid", 0) + result["terminal"].get("partially-paid", 0),
        "denied": result["terminal"].get("denied", 0),
        "coder_queries": result["coder_queries"],
        "claims_needing_work": result["claims_needing_work"],
        "claim_types": result["claim_types"],
        "lost": result["lost"],
        "duplicated": result["duplicated"],
        "lost_encounters": result["lost_encounters"],
        "duplicated_encounters": result["duplicated_encounters"],
        "dollars": result["dollars"],
        "elapsed_s": round(elapsed, 2),
        "throughput_eps": round(terminal_total / elapsed, 2) if elapsed else 0.0,
        "sample_encounter": next(iter(result["tenants_by_encounter"]), None),
    }, result["tenants_by_encounter"]


def print_summary(summary: dict[str, Any], console: Console) -> None:
    table = Table(title=f"ClaimFlow demo {summary['run_id']}", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("encounters sent", summary["encounters"]),
        ("accepted by intake", summary["accepted"]),
        *[(f"claims sent as {kind}", n) for kind, n in sorted(summary["claim_types"].items())],
        *[(f"terminal: {state}", n) for state, n in sorted(summary["terminal_states"].items())],
        ("waiting on a coder query", summary["coder_queries"]),
        ("claims held or rejected (work queue)", summary["claims_needing_work"]),
        ("lost (accepted, never terminal)", summary["lost"]),
        ("duplicated", summary["duplicated"]),
        ("billed", f"${summary['dollars']['billed']}"),
        ("paid", f"${summary['dollars']['paid']}"),
        ("denied", f"${summary['dollars']['denied']}"),
        ("patient responsibility", f"${summary['dollars']['patient_responsibility']}"),
        ("elapsed", f"{summary['elapsed_s']} s"),
        ("throughput", f"{summary['throughput_eps']} encounters/s"),
    ]
    for measure, value in rows:
        table.add_row(measure, str(value))
    console.print(table)
    if summary.get("sample_encounter"):
        console.print(f"trace one: claimflow trace {summary['sample_encounter']}")
