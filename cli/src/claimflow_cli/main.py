"""`claimflow`: run the local stack, push a demo batch through it, trace one encounter."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from claimflow_cli import claims, coding, local
from claimflow_cli import demo as demo_run
from claimflow_cli import intake as intake_commands
from claimflow_cli import remittance as remittance_cli
from claimflow_cli.client import StackClient
from claimflow_local.stack import SERVICES, parse_replicas
from claimflow_shared.runtime.tenancy import (
    InvalidKeySpec,
    hash_api_key,
    make_api_key,
    new_api_key,
)

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="ClaimFlow: an event-driven revenue-cycle engine.",
)
console = Console(stderr=True)


def _home() -> Path:
    return Path(os.environ.get("CLAIMFLOW_HOME", ".claimflow")).resolve()


@app.command()
def up(
    replicas: Annotated[
        str, typer.Option(help="Replicas per stage, e.g. claims=3,coding=2 (default 1 each)")
    ] = "",
) -> None:
    """Start Kafka, PostgreSQL, the four services and the payer simulator; wait until ready.
    Run again with other --replicas to scale a running stack."""
    try:
        wanted = parse_replicas(replicas)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--replicas") from exc
    stack = local.up(_home(), console, replicas=wanted)
    counts = ", ".join(f"{s}={len(stack.replicas_of(s))}" for s in SERVICES)
    console.print(
        f"[green]ClaimFlow is up[/] ({counts}; state in {stack.home}); `claimflow down` stops it."
    )


@app.command()
def down() -> None:
    """Stop everything `claimflow up` started."""
    local.down(_home(), console)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts")] = False,
) -> None:
    """Readiness, replicas, consumer lag and outbox backlog of every process."""
    stack = local.require(_home())
    with StackClient(stack) as client:
        report = client.status()
    if as_json:
        print(json.dumps(report))
        return
    table = Table(title="ClaimFlow")
    for column in ("process", "url", "ready", "replicas", "consumer lag", "outbox backlog"):
        table.add_column(column)
    for row in report["processes"]:
        table.add_row(
            row["name"],
            row["url"],
            "yes" if row["ready"] else "[red]no[/]",
            str(row["replicas"]),
            "-" if row["consumer_lag"] is None else str(row["consumer_lag"]),
            "-" if row["outbox_backlog"] is None else str(row["outbox_backlog"]),
        )
    Console().print(table)


@app.command()
def demo(
    encounters: Annotated[int, typer.Option(min=1, help="Encounters in the batch")] = 100,
    tenants: Annotated[int, typer.Option(min=1, max=50, help="Provider organisations")] = 2,
    timeout: Annotated[float, typer.Option(help="Give up after this many idle seconds")] = 120,
    as_json: Annotated[bool, typer.Option("--json", help="End with the summary as JSON")] = False,
) -> None:
    """Send a synthetic batch through intake and follow it to paid or denied."""
    stack = local.require(_home())
    summary, tenants_by_encounter = demo_run.run(
        stack, encounters=encounters, tenants=tenants, idle_timeout=timeout, console=console
    )
    demo_run.print_summary(summary, Console())
    (_home() / "last-demo.json").write_text(
        json.dumps({**summary, "tenants_by_encounter": tenants_by_encounter}, default=str)
    )
    if as_json:
        print(json.dumps(summary, default=str))
    if summary["lost"] or summary["duplicated"]:
        raise typer.Exit(code=1)


@app.command()
def trace(
    encounter_id: str,
    tenant: Annotated[str | None, typer.Option(help="Tenant (default: from the last demo)")] = None,
) -> None:
    """Every event of one encounter across all services, in order, with timings."""
    stack = local.require(_home())
    if tenant is None:
        last = _home() / "last-demo.json"
        owners = (
            json.loads(last.read_text()).get("tenants_by_encounter", {}) if last.exists() else {}
        )
        tenant = owners.get(encounter_id)
        if tenant is None:
            raise typer.BadParameter("pass --tenant: the encounter is not from the last demo")
    with StackClient(stack) as client:
        entries = client.timeline(tenant, encounter_id)
    if not entries:
        console.print(f"[yellow]no events for {encounter_id} in tenant {tenant}[/]")
        raise typer.Exit(code=1)
    table = Table(title=f"Encounter {encounter_id} ({tenant})")
    for column in ("+ms", "service", "direction", "event", "event id", "caused by", "detail"):
        table.add_column(column)
    start = entries[0]["at_dt"]
    for e in entries:
        table.add_row(
            f"{(e['at_dt'] - start).total_seconds() * 1000:.0f}",
            e["service"],
            e["direction"],
            e["event_type"],
            e["event_id"][:8],
            (e["causation_id"] or "")[:8],
            e["detail"] or "",
        )
    # Wide enough for the event names when piped; a terminal keeps its own width.
    Console(width=None if console.is_terminal else 160).print(table)


@app.command()
def docs(
    out: Annotated[Path, typer.Option(help="Folder for the AsyncAPI files")] = Path(
        "docs/asyncapi"
    ),
) -> None:
    """Write the AsyncAPI document of every service."""
    for path in local.write_asyncapi(out):
        console.print(f"wrote {path}")


app.command()(coding.code)
app.add_typer(coding.worklist_app, name="worklist")

keys_app = typer.Typer(help="API keys: each has a name, a role and a tenant.")
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str | None, typer.Option(help="The tenant the key acts for")] = None,
    role: Annotated[str, typer.Option(help="tenant, or operator for operator views")] = "tenant",
    name: Annotated[str | None, typer.Option(help="Who holds it, for the audit trail")] = None,
    file: Annotated[
        Path | None, typer.Option(help="Key file the services read (default: the local stack's)")
    ] = None,
) -> None:
    """Create an API key: printed once, only its hash is stored (in the services' key file)."""
    key = new_api_key()
    try:
        entry = make_api_key(
            name=name or (tenant if role == "tenant" and tenant else f"{role}-{key[4:10]}"),
            role=role,  # type: ignore[arg-type]
            tenant_id=tenant,
            digest=hash_api_key(key),
        )
    except InvalidKeySpec as exc:
        raise typer.BadParameter(str(exc)) from exc
    path = file or _home() / "api-keys"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as keys:
        keys.write(entry.entry() + "\n")
    path.chmod(0o600)
    console.print(
        f"key {entry.name!r} ({entry.role}, tenant {entry.tenant_id or '*'}) stored as a hash "
        f"in {path}; the key itself is shown once:"
    )
    print(key)


remittance_cli.register(app)  # era import, denials, patients, kpi
intake_commands.register(app)
claims.register(app)

dlq_app = typer.Typer(help="Inspect and replay dead letters.")
app.add_typer(dlq_app, name="dlq")


@dlq_app.command("list")
def dlq_list(topic: Annotated[str | None, typer.Argument()] = None, limit: int = 20) -> None:
    """Dead letters with their error and original coordinates."""
    stack = local.require(_home())
    table = Table(title="Dead letters")
    for column in ("service", "dlq", "offset", "original", "error", "replayed"):
        table.add_column(column)
    for letter in local.read_dead_letters(stack, topic=topic, limit=limit):
        table.add_row(
            letter["service"],
            letter["dlq_topic"],
            str(letter["offset"]),
            letter["original"],
            f"{letter['error_type']}: {letter['error'][:100]}",
            "yes" if letter["replayed"] else "no",
        )
    Console().print(table)


@dlq_app.command("replay")
def dlq_replay(
    topic: str,
    offset: Annotated[int | None, typer.Option()] = None,
    again: Annotated[bool, typer.Option(help="Also letters replayed before")] = False,
) -> None:
    """Publish dead letters back to their original topic (all, or one offset), once each;
    each replay is recorded with the operator who asked."""
    stack = local.require(_home())
    count = local.replay_dead_letters(stack, dlq_topic=topic, offset=offset, again=again)
    console.print(f"replayed {count} message(s) from {topic}")


if __name__ == "__main__":
    app()
