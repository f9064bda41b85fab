"""`claimflow claims ...` (search, show, the 837 a claim was sent in, correct, void,
release) and `claimflow fees ...` (import and list fee schedules), over the claims
service's HTTP API of the running stack."""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from claimflow_cli import local
from claimflow_cli.client import StackClient

claims_app = typer.Typer(help="Claims: search, one claim's story, its 837, corrections.")
fees_app = typer.Typer(help="Fee schedules per tenant and payer.")
console = Console(stderr=True)

TenantOption = Annotated[str, typer.Option(help="The tenant the claims belong to")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON, for scripts")]


def register(app: typer.Typer) -> None:
    """Add `claims` and `fees` to the `claimflow` command."""
    app.add_typer(claims_app, name="claims")
    app.add_typer(fees_app, name="fees")


def _client() -> StackClient:
    home = Path(os.environ.get("CLAIMFLOW_HOME", ".claimflow")).resolve()
    return StackClient(local.require(home))


def _call(method: str, path: str, tenant: str, **kwargs: Any) -> httpx.Response:
    with _client() as client:
        response = client.http.request(
            method,
            f"{client.url('claims')}{path}",
            headers={"X-Tenant-ID": tenant, **kwargs.pop("headers", {})},
            **kwargs,
        )
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        console.print(f"[red]{response.status_code}[/] {json.dumps(detail, indent=1)}")
        raise typer.Exit(code=1)
    return response


def _print_claims(rows: list[dict], title: str) -> None:
    table = Table(title=title)
    for column in ("claim", "encounter", "type", "freq", "payer", "state", "charge", "paid"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["claim_id"],
            r["encounter_id"],
            r["claim_type"],
            r["frequency_code"],
            f"{r['payer_id']} ({r['payer_responsibility']})",
            r["state"],
            r["total_charge"],
            r["paid"] or "",
        )
    Console().print(table)


@claims_app.command("search")
def search(
    tenant: TenantOption,
    state: Annotated[str | None, typer.Option(help="e.g. held, rejected, denied, paid")] = None,
    payer: Annotated[str | None, typer.Option(help="Payer id")] = None,
    claim_type: Annotated[str | None, typer.Option("--type", help="837P or 837I")] = None,
    service_from: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    service_to: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    as_json: JsonOption = False,
) -> None:
    """The tenant's claims by state, payer, claim type and dates of service."""
    for value, name in ((service_from, "--from"), (service_to, "--to")):
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise typer.BadParameter("a date is YYYY-MM-DD", param_hint=name) from None
    params = {
        "state": state,
        "payer_id": payer,
        "claim_type": claim_type,
        "service_from": service_from,
        "service_to": service_to,
        "limit": limit,
    }
    rows = _call(
        "GET", "/v1/claims", tenant, params={k: v for k, v in params.items() if v is not None}
    ).json()
    if as_json:
        print(json.dumps(rows))
        return
    _print_claims(rows, f"{len(rows)} claim(s) of {tenant}")


@claims_app.command("show")
def show(claim_id: str, tenant: TenantOption, as_json: JsonOption = False) -> None:
    """One claim: lines, edits, files, acknowledgments, payments and timeline."""
    claim = _call("GET", f"/v1/claims/{claim_id}", tenant).json()
    if as_json:
        print(json.dumps(claim))
        return
    out = Console()
    _print_claims([claim], f"claim {claim_id}")
    lines = Table(title="lines")
    for column in ("#", "revenue", "code", "modifiers", "units", "date", "pointers", "charge"):
        lines.add_column(column)
    for line in claim["lines"]:
        lines.add_row(
            str(line["line_number"]),
            line.get("revenue_code") or "",
            line["code"],
            " ".join(line["modifiers"]),
            str(line["units"]),
            line["service_date"],
            ",".join(map(str, line["diagnosis_pointers"])),
            line["charge"],
        )
    out.print(lines)
    for finding in claim["findings"]:
        out.print(
            f"[{'red' if finding['severity'] == 'error' else 'yellow'}]{finding['edit']}[/] "
            f"{finding['field']}: {finding['message']} (fix: {finding['hint']})"
        )
    for sent in claim["submissions"]:
        out.print(
            f"sent in {sent['file_name']} (ST02 {sent['transaction_control_number']}): 999 "
            f"{sent['ack_999']}, 277CA {sent['ack_277ca'] or '-'} {' '.join(sent['codes'])}"
        )
    for payment in claim["payments"]:
        out.print(
            f"{payment['kind']}: {payment['status']} paid {payment['paid']}, patient "
            f"{payment['patient_responsibility'] or '-'} (payer claim "
            f"{payment['payer_claim_number'] or '-'})"
        )
    timeline = Table(title="timeline")
    for column in ("at", "from", "to", "event", "actor", "reason"):
        timeline.add_column(column)
    for step in claim["timeline"]:
        timeline.add_row(
            step["at"][:19],
            step["from_state"] or "",
            step["to_state"],
            step["event"],
            step["actor"],
            (step["reason"] or "")[:80],
        )
    out.print(timeline)


@claims_app.command("x12")
def x12(
    claim_id: str,
    tenant: TenantOption,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Write to this file")] = None,
) -> None:
    """The 837 interchange the claim was sent in."""
    content = _call("GET", f"/v1/claims/{claim_id}/x12", tenant).text
    if out is None:
        sys.stdout.write(content)
    else:
        out.write_text(content, encoding="ascii")
        console.print(f"wrote {out}")


def _corrections(lines: list[str]) -> list[dict[str, Any]]:
    """`--line 2:units=3,modifiers=25|59,code=99214,pointers=1|2` per corrected line."""
    corrections = []
    for spec in lines:
        number, _, changes = spec.partition(":")
        if not number.isdigit() or not changes:
            raise typer.BadParameter("write N:field=value,... e.g. 2:units=3", param_hint="--line")
        correction: dict[str, Any] = {"line_number": int(number)}
        for change in changes.split(","):
            field, _, value = change.partition("=")
            if field == "units" and value.isdigit():
                correction["units"] = int(value)
            elif field == "code" and value:
                correction["code"] = value
            elif field == "modifiers":
                correction["modifiers"] = [m for m in value.split("|") if m]
            elif field == "pointers" and all(p.isdigit() for p in value.split("|")):
                correction["diagnosis_pointers"] = [int(p) for p in value.split("|")]
            else:
                raise typer.BadParameter(
                    f"{field!r} is not units, code, modifiers or pointers", param_hint="--line"
                )
        corrections.append(correction)
    return corrections


@claims_app.command("correct")
def correct(
    claim_id: str,
    tenant: TenantOption,
    reason: Annotated[str, typer.Option(help="Why, for the audit trail")],
    line: Annotated[
        list[str] | None,
        typer.Option(help="N:units=3,code=99214,modifiers=25|59,pointers=1|2 (repeatable)"),
    ] = None,
) -> None:
    """Correct a claim: edited and scrubbed again if the payer never took it, else a
    replacement claim (frequency 7) is sent."""
    body = {"reason": reason, "corrections": _corrections(line or [])}
    claim = _call("POST", f"/v1/claims/{claim_id}/correct", tenant, json=body).json()
    console.print(f"{claim['claim_id']}: {claim['state']} (frequency {claim['frequency_code']})")


@claims_app.command("void")
def void(
    claim_id: str,
    tenant: TenantOption,
    reason: Annotated[str, typer.Option(help="Why, for the audit trail")],
) -> None:
    """Void a claim: cancelled if the payer never took it, else a void (frequency 8)."""
    claim = _call("POST", f"/v1/claims/{claim_id}/void", tenant, json={"reason": reason}).json()
    console.print(f"{claim['claim_id']}: {claim['state']} (frequency {claim['frequency_code']})")


@claims_app.command("release")
def release(
    claim_id: str,
    tenant: TenantOption,
    reason: Annotated[str, typer.Option(help="Why the edits do not apply, for the audit")],
) -> None:
    """Release a held or rejected claim as it is, overriding the edits it failed."""
    claim = _call("POST", f"/v1/claims/{claim_id}/release", tenant, json={"reason": reason})
    console.print(f"{claim.json()['claim_id']}: {claim.json()['state']}")


@fees_app.command("import")
def fees_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Fee schedule CSV")],
    tenant: TenantOption,
    payer: Annotated[
        str | None, typer.Option(help="Payer id (default: every payer without its own)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name for the schedule")] = None,
) -> None:
    """Replace a fee schedule with a CSV: code_system,code,modifier,unit_price and optionally
    effective_date,end_date,category. A file with problems changes nothing."""
    params = {"name": name or file.stem} | ({"payer_id": payer} if payer else {})
    schedule = _call(
        "PUT",
        "/v1/fee-schedules",
        tenant,
        params=params,
        content=file.read_bytes(),
        headers={"Content-Type": "text/csv"},
    ).json()
    console.print(
        f"fee schedule {schedule['name']!r} for {schedule['payer_id'] or 'every payer'}: "
        f"version {schedule['version']}, {schedule['row_count']} price(s)"
    )


@fees_app.command("list")
def fees_list(tenant: TenantOption, as_json: JsonOption = False) -> None:
    """The tenant's fee schedules (the default schedule prices everything else)."""
    rows = _call("GET", "/v1/fee-schedules", tenant).json()
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title=f"fee schedules of {tenant}")
    for column in ("payer", "name", "version", "prices", "imported by", "at"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["payer_id"] or "(every payer)",
            r["name"],
            str(r["version"]),
            str(r["row_count"]),
            r["imported_by"],
            r["imported_at"][:19],
        )
    Console().print(table)
