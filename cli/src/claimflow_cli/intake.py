"""`claimflow tenant|payer|provider ...` (a tenant's master data) and `claimflow ingest FILE`
(a bulk NDJSON or CSV file, with a progress bar), through intake's HTTP API.

Intake is the local stack's (`claimflow up`) unless CLAIMFLOW_INTAKE_URL names another; the
tenant comes from --tenant or CLAIMFLOW_TENANT; an API key from CLAIMFLOW_API_KEY."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from claimflow_cli import local

console = Console(stderr=True)
out = Console()

Tenant = Annotated[
    str,
    typer.Option(envvar="CLAIMFLOW_TENANT", help="The tenant to act for (or set CLAIMFLOW_TENANT)"),
]
AsJson = Annotated[bool, typer.Option("--json", help="JSON on stdout, for scripts")]
CHUNK = 256 * 1024


class Intake:
    """Intake's HTTP API for one tenant."""

    def __init__(self, tenant: str, timeout: float = 60.0) -> None:
        url = os.environ.get("CLAIMFLOW_INTAKE_URL")
        if not url:
            home = Path(os.environ.get("CLAIMFLOW_HOME", ".claimflow")).resolve()
            url = local.require(home).process("intake").url
        headers = {"X-Tenant-ID": tenant}
        if key := os.environ.get("CLAIMFLOW_API_KEY"):
            headers["X-API-Key"] = key
        self.http = httpx.Client(base_url=url, headers=headers, timeout=timeout)

    def __enter__(self) -> Intake:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            console.print(f"[red]intake did not answer[/] ({type(exc).__name__})")
            raise typer.Exit(code=2) from None
        if response.status_code >= 400:
            _refused(response)
        return response.json() if response.content else None


def _refused(response: httpx.Response) -> None:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text
    if isinstance(detail, list):
        for problem in detail:
            where = problem.get("location") or "/".join(str(p) for p in problem.get("loc", []))
            console.print(f"[red]{where}[/]: {problem.get('msg')}")
    elif isinstance(detail, dict):
        console.print(f"[red]refused[/] ({response.status_code}): {detail.get('msg', detail)}")
    else:
        console.print(f"[red]refused[/] ({response.status_code}): {detail}")
    raise typer.Exit(code=1)


def _print(rows: list[dict], columns: list[str], title: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    # Wide enough for the columns when piped; a terminal keeps its own width.
    Console(width=None if out.is_terminal else 200).print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(str(v) for v in value.values() if v)
    return str(value)


# --- tenant ----------------------------------------------------------------------------------

tenant_app = typer.Typer(help="A tenant's defaults, HL7 sending facilities and audit trail.")


@tenant_app.command("show")
def tenant_show(tenant: Tenant, as_json: AsJson = False) -> None:
    """The tenant's defaults, HL7 routes and how much master data it has."""
    with Intake(tenant) as intake:
        body = intake.call("GET", "/v1/tenant")
    if as_json:
        print(json.dumps(body))
        return
    for key, value in body.items():
        out.print(f"{key:24} {_cell(value)}")


@tenant_app.command("set")
def tenant_set(
    tenant: Tenant,
    billing_npi: Annotated[
        str | None, typer.Option(help="Default billing provider (a registered organisation)")
    ] = None,
    place_of_service: Annotated[str | None, typer.Option(help="Default CMS POS code")] = None,
    hl7_facility: Annotated[
        list[str] | None,
        typer.Option(help="An HL7 sending facility (MSH-4) routed to this tenant; repeat"),
    ] = None,
) -> None:
    """Change what is given; the rest stays as it is."""
    with Intake(tenant) as intake:
        current = intake.call("GET", "/v1/tenant")
        body: dict[str, Any] = {
            "billing_npi": billing_npi or current["billing_npi"],
            "place_of_service": place_of_service or current["place_of_service"],
        }
        if hl7_facility:
            body["hl7_sending_facilities"] = hl7_facility
        saved = intake.call("PUT", "/v1/tenant", json=body)
    console.print(f"[green]tenant {tenant} saved[/] (version {saved['version']})")


@tenant_app.command("audit")
def tenant_audit(
    tenant: Tenant,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: AsJson = False,
) -> None:
    """Who changed the tenant's master data, when, and what."""
    with Intake(tenant) as intake:
        rows = intake.call("GET", "/v1/tenant/audit", params={"limit": limit})
    _print(rows, ["at", "principal", "action", "entity", "key"], f"Audit of {tenant}", as_json)


# --- payers ----------------------------------------------------------------------------------

payer_app = typer.Typer(help="The payers a tenant bills, with the names EHRs spell them with.")
PAYER_COLUMNS = [
    "payer_id",
    "name",
    "aliases",
    "claim_filing_indicator",
    "timely_filing_days",
    "member_id_source",
]


@payer_app.command("list")
def payer_list(tenant: Tenant, as_json: AsJson = False) -> None:
    with Intake(tenant) as intake:
        rows = intake.call("GET", "/v1/payers")
    _print(rows, PAYER_COLUMNS, f"Payers of {tenant}", as_json)


@payer_app.command("show")
def payer_show(payer_id: str, tenant: Tenant) -> None:
    with Intake(tenant) as intake:
        print(json.dumps(intake.call("GET", f"/v1/payers/{payer_id}")))


@payer_app.command("add")
def payer_add(
    payer_id: Annotated[str, typer.Argument(help="The payer id claims carry (letters, digits)")],
    tenant: Tenant,
    name: Annotated[str, typer.Option(help="The payer's name")],
    alias: Annotated[
        list[str] | None, typer.Option(help="Another name an EHR sends; repeat")
    ] = None,
    filing_indicator: Annotated[
        str, typer.Option(help="X12 claim filing indicator (SBR09): CI, MB, MC, BL, ...")
    ] = "CI",
    timely_filing_days: Annotated[int, typer.Option(min=1, max=3650)] = 365,
    member_id_source: Annotated[
        str, typer.Option(help="document, or patient-id when sources send no member id")
    ] = "document",
) -> None:
    """Register a payer (or replace the one with this payer id)."""
    body = {
        "name": name,
        "aliases": alias or [],
        "claim_filing_indicator": filing_indicator,
        "timely_filing_days": timely_filing_days,
        "member_id_source": member_id_source,
    }
    with Intake(tenant) as intake:
        saved = intake.call("PUT", f"/v1/payers/{payer_id}", json=body)
    console.print(f"[green]payer {saved['payer_id']} saved[/] for {tenant}")


@payer_app.command("remove")
def payer_remove(payer_id: str, tenant: Tenant) -> None:
    with Intake(tenant) as intake:
        intake.call("DELETE", f"/v1/payers/{payer_id}")
    console.print(f"payer {payer_id} removed from {tenant}")


# --- providers -------------------------------------------------------------------------------

provider_app = typer.Typer(help="Billing and rendering providers (NPI, tax id, taxonomy).")
PROVIDER_COLUMNS = [
    "id",
    "kind",
    "npi",
    "name",
    "first_name",
    "last_name",
    "tax_id",
    "taxonomy",
    "can_bill",
    "can_render",
]


@provider_app.command("list")
def provider_list(tenant: Tenant, as_json: AsJson = False) -> None:
    with Intake(tenant) as intake:
        rows = intake.call("GET", "/v1/providers")
    _print(rows, PROVIDER_COLUMNS, f"Providers of {tenant}", as_json)


def _address(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        message = "give the address as 'line 1, city, ST, ZIP'"
        raise typer.BadParameter(message, param_hint="--address")
    line1, city, state, postal = parts
    return {"line1": line1, "city": city, "state": state.upper(), "postal_code": postal}


@provider_app.command("add")
def provider_add(
    tenant: Tenant,
    kind: Annotated[str, typer.Option(help="organization (bills) or individual (renders)")],
    npi: Annotated[str | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option(help="An organisation's name")] = None,
    first_name: Annotated[str | None, typer.Option()] = None,
    last_name: Annotated[str | None, typer.Option()] = None,
    tax_id: Annotated[str | None, typer.Option(help="EIN, 9 digits")] = None,
    taxonomy: Annotated[str | None, typer.Option(help="NUCC taxonomy code")] = None,
    address: Annotated[str | None, typer.Option(help="'line 1, city, ST, ZIP'")] = None,
    local_id: Annotated[
        list[str] | None, typer.Option(help="A local identifier system|value; repeat")
    ] = None,
) -> None:
    """Register a provider; its id is printed (use it to remove it)."""
    body = {
        "kind": kind,
        "npi": npi,
        "name": name,
        "first_name": first_name,
        "last_name": last_name,
        "tax_id": tax_id,
        "taxonomy": taxonomy,
        "address": _address(address),
        "local_ids": local_id or [],
    }
    with Intake(tenant) as intake:
        saved = intake.call("POST", "/v1/providers", json=body)
    console.print(f"[green]provider {saved['id']} registered[/] for {tenant}")
    print(saved["id"])


@provider_app.command("remove")
def provider_remove(provider_id: int, tenant: Tenant) -> None:
    with Intake(tenant) as intake:
        intake.call("DELETE", f"/v1/providers/{provider_id}")
    console.print(f"provider {provider_id} removed from {tenant}")


@provider_app.command("load")
def provider_load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    tenant: Tenant,
    as_json: AsJson = False,
) -> None:
    """Load a FHIR bundle of Practitioners, Organizations and Locations (e.g. Synthea's
    practitionerInformation / hospitalInformation) into the provider registry."""
    with Intake(tenant, timeout=300) as intake:
        answer = intake.call(
            "POST",
            "/v1/fhir",
            content=file.read_bytes(),
            headers={"Content-Type": "application/fhir+json"},
        )
    directory = answer["directory"]
    if as_json:
        print(json.dumps(directory))
        return
    console.print(
        f"[green]loaded[/] {directory['providers']} providers and "
        f"{directory['facilities']} facilities into {tenant}"
    )
    for problem in directory["problems"][:20]:
        console.print(f"  [yellow]{problem['location']}[/]: {problem['reason']}")


# --- ingest ----------------------------------------------------------------------------------


def _format_of(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower()
    if suffix in (".csv",):
        return "csv"
    if suffix in (".ndjson", ".jsonl", ".json"):
        return "ndjson"
    raise typer.BadParameter("name the file's format with --format ndjson|csv")


def _read(path: Path, progress: Progress, task) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            progress.update(task, advance=len(chunk))
            yield chunk


def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    tenant: Tenant,
    format: Annotated[str | None, typer.Option(help="ndjson or csv (default: by suffix)")] = None,
    source_system: Annotated[
        str, typer.Option(help="The source system the documents belong to")
    ] = "bulk",
    results: Annotated[
        Path | None, typer.Option(help="Write every record's result here (NDJSON)")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Upload a bulk NDJSON or CSV file of encounters and follow its ingest with a progress
    bar; prints the report (accepted, duplicate, amended, rejected with reasons)."""
    fmt = _format_of(file, format)
    size = file.stat().st_size
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Intake(tenant, timeout=600) as intake, Progress(*columns, console=console) as progress:
        upload = progress.add_task("uploading", total=size)
        job = intake.call(
            "POST",
            "/v1/bulk",
            params={"format": fmt, "source_system": source_system, "file_name": file.name},
            content=_read(file, progress, upload),
            headers={"Content-Type": "text/csv" if fmt == "csv" else "application/x-ndjson"},
        )
        ingesting = progress.add_task("ingesting", total=max(job["bytes_total"], 1))
        while job["status"] in ("receiving", "queued", "running"):
            time.sleep(0.5)
            job = intake.call("GET", f"/v1/bulk/{job['job_id']}")
            progress.update(
                ingesting,
                completed=job["bytes_done"],
                description=(
                    f"ingesting: {job['records']:,} records, {job['accepted']:,} accepted, "
                    f"{job['rejected']:,} rejected"
                ),
            )
        if job["status"] == "done":
            progress.update(ingesting, completed=max(job["bytes_total"], 1))
        rejected = intake.call(
            "GET", f"/v1/bulk/{job['job_id']}/results", params={"status": "rejected", "limit": 10}
        )
        if results is not None:
            _write_results(intake, job["job_id"], results)
    _report(job, rejected, as_json)
    if job["status"] != "done":
        raise typer.Exit(code=1)


def _write_results(intake: Intake, job_id: str, path: Path) -> None:
    after = 0
    with path.open("w", encoding="utf-8") as target:
        while page := intake.call(
            "GET", f"/v1/bulk/{job_id}/results", params={"after": after, "limit": 10_000}
        ):
            for row in page:
                target.write(json.dumps(row) + "\n")
            after = page[-1]["ordinal"]


def _report(job: dict, rejected: list[dict], as_json: bool) -> None:
    if job["status"] == "failed":
        console.print(f"[red]the file was not ingested[/]: {job['error']}")
    table = Table(title=f"{job['file_name'] or 'bulk file'} ({job['job_id']})")
    counts = ("records", "accepted", "duplicate", "amended", "rejected")
    for column in counts:
        table.add_column(column, justify="right")
    table.add_row(*(f"{job[c]:,}" for c in counts))
    console.print(table)
    for row in rejected:
        reasons = "; ".join(f"{p['location']}: {p['reason']}" for p in row["problems"])
        console.print(f"  [yellow]{row['position']}[/] {reasons}")
    if job["rejected"] > len(rejected):
        console.print(f"  ... and {job['rejected'] - len(rejected):,} more (--results FILE)")
    if as_json:
        print(json.dumps(job))


def register(app: typer.Typer) -> None:
    """Add intake's commands to the `claimflow` app."""
    app.add_typer(tenant_app, name="tenant")
    app.add_typer(payer_app, name="payer")
    app.add_typer(provider_app, name="provider")
    app.command("ingest")(ingest)
