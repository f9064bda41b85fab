"""`claimflow code` and `claimflow worklist`: the coding service for people and scripts.

Both talk to the running coding service's API (the local stack's, or `--url`), so what a
script evaluates is what production runs.

    claimflow code "DM2 uncontrolled with hyperglycemia"
    claimflow code --json statements.txt > results.jsonl
    claimflow worklist list --rule ICD-EXCLUDES1
    claimflow worklist claim 12 && claimflow worklist correct 12 --dx E11.9 --dx I10
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from claimflow_cli import local

BATCH = 200
console = Console(stderr=True)

Url = Annotated[
    str | None,
    typer.Option(
        "--url", envvar="CLAIMFLOW_CODING_URL", help="Coding service URL (default: local stack)"
    ),
]
Tenant = Annotated[str | None, typer.Option("--tenant", help="Act for this tenant (X-Tenant-ID)")]


class CodingClient:
    """The coding service's HTTP API, with the caller's key (CLAIMFLOW_API_KEY) if any."""

    def __init__(self, url: str | None, tenant: str | None = None) -> None:
        if url is None:
            home = Path(os.environ.get("CLAIMFLOW_HOME", ".claimflow")).resolve()
            url = local.require(home).process("coding").url
        headers = {}
        if key := os.environ.get("CLAIMFLOW_API_KEY"):
            headers["X-API-Key"] = key
        if tenant:
            headers["X-Tenant-ID"] = tenant
        self.http = httpx.Client(base_url=url, headers=headers, timeout=120)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            console.print(f"[red]{response.status_code}[/] {_plain(detail)}")
            raise typer.Exit(code=1)
        return response.json()


def _plain(detail: Any) -> str:
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail
        )
    return str(detail)


def _statements(path: Path) -> Iterator[list[str]]:
    """Non-empty lines of the file (`-` for standard input), a batch at a time."""
    stream = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
    batch: list[str] = []
    with stream:
        for line in stream:
            text = line.strip()
            if text:
                batch.append(text)
            if len(batch) == BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def code(
    statement: Annotated[str | None, typer.Argument(help="A diagnosis statement")] = None,
    json_file: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Read one statement per line (- for stdin); print one JSON object per line",
        ),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(min=0, max=1, help="Auto-code threshold (default: tenant's)")
    ] = None,
    tenant: Tenant = None,
    url: Url = None,
) -> None:
    """Ranked ICD-10-CM candidates for a diagnosis statement, with confidence and evidence,
    and whether it would be auto-coded or queried."""
    if (statement is None) == (json_file is None):
        raise typer.BadParameter("give a statement or --json FILE, not both or neither")
    client = CodingClient(url, tenant)
    extra = {} if threshold is None else {"threshold": threshold}
    if json_file is not None:
        for batch in _statements(json_file):
            for result in client.call(
                "POST", "/v1/code/batch", json={"statements": batch, **extra}
            ):
                print(json.dumps(result), flush=False)
        sys.stdout.flush()
        return
    result = client.call("POST", "/v1/code", json={"text": statement, **extra})
    table = Table(title=f"{result['text']}  ->  {result['decision']}")
    for column in ("#", "code", "confidence", "description", "evidence"):
        table.add_column(column)
    for rank, candidate in enumerate(result["candidates"], start=1):
        table.add_row(
            str(rank),
            candidate["code"],
            f"{candidate['confidence']:.2f}",
            candidate["description"],
            "; ".join(candidate.get("evidence", []))[:80],
        )
    Console(width=None if console.is_terminal else 160).print(table)
    for reason in result["reasons"]:
        console.print(f"[yellow]query:[/] {reason}")


worklist_app = typer.Typer(help="The coder worklist: encounters waiting on a human.")


def _show_items(items: list[dict]) -> None:
    table = Table(title="Coder worklist")
    for column in ("id", "tenant", "encounter", "status", "age", "payer", "rules", "held by"):
        table.add_column(column)
    for item in items:
        table.add_row(
            str(item["id"]),
            item["tenant_id"],
            item["encounter_id"],
            item["status"],
            f"{item['age_minutes']}m",
            item["payer_id"],
            ", ".join(item["rules"]),
            item["claimed_by"] or "",
        )
    Console(width=None if console.is_terminal else 180).print(table)


@worklist_app.command("list")
def worklist_list(
    tenant: Tenant = None,
    rule: Annotated[str | None, typer.Option(help="Only items a rule raised, e.g. ICD-SEX")] = None,
    payer: Annotated[str | None, typer.Option(help="Only this payer id")] = None,
    min_age: Annotated[int | None, typer.Option(help="Waiting at least this many minutes")] = None,
    status: Annotated[list[str] | None, typer.Option(help="open, claimed, queried, ...")] = None,
    hcc: Annotated[
        str | None, typer.Option(help="Only items mapping to a CMS-HCC category (or any)")
    ] = None,
    after_id: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="The items as JSON")] = False,
    url: Url = None,
) -> None:
    """Items waiting on a coder, oldest first."""
    params: dict[str, Any] = {"after_id": after_id, "limit": limit}
    for name, value in (
        ("rule", rule),
        ("payer", payer),
        ("min_age_minutes", min_age),
        ("hcc", hcc),
    ):
        if value is not None:
            params[name] = value
    if status:
        params["status"] = status
    items = CodingClient(url, tenant).call("GET", "/v1/worklist", params=params)
    if as_json:
        print(json.dumps(items))
        return
    _show_items(items)
    if len(items) == limit:
        console.print(f"more: --after-id {items[-1]['id']}")


ItemId = Annotated[int, typer.Argument(min=1, help="Worklist item id")]


def _print_item(item: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(item))
        return
    console.print(
        f"item {item['id']} ({item['tenant_id']} / {item['encounter_id']}, revision "
        f"{item['revision']}): {item['status']}"
        + (f", by {item['claimed_by']}" if item["claimed_by"] else "")
    )
    for reason in item["reasons"]:
        console.print(
            f"  [yellow]{reason.get('rule') or ''}[/] {reason['field']}: {reason['problem']}"
        )
    codes = ", ".join(
        f"{d['code']} ({d.get('method')}, {d.get('confidence')})"
        for d in item.get("suggested_diagnoses", [])
    )
    console.print(f"  suggested: {codes or '-'}")
    lines = ", ".join(
        f"{x['code']}{'-' + '-'.join(x['modifiers']) if x['modifiers'] else ''}"
        f" -> {x['diagnosis_pointers']}"
        for x in item.get("suggested_lines", [])
    )
    console.print(f"  lines: {lines or '-'}")


AsJson = Annotated[bool, typer.Option("--json", help="The item as JSON")]


@worklist_app.command("show")
def worklist_show(item_id: ItemId, tenant: Tenant = None, as_json: AsJson = False, url: Url = None):
    """One item: reasons, suggestion, candidates, provider query, audit trail."""
    item = CodingClient(url, tenant).call("GET", f"/v1/worklist/{item_id}")
    _print_item(item, as_json)
    if not as_json:
        for action in item["actions"]:
            console.print(f"  {action['at']} {action['principal']}: {action['action']}")


@worklist_app.command("claim")
def worklist_claim(
    item_id: ItemId,
    take_over: Annotated[bool, typer.Option(help="Take it from the coder holding it")] = False,
    tenant: Tenant = None,
    as_json: AsJson = False,
    url: Url = None,
) -> None:
    """Take an item; only its holder may decide it."""
    body = {"take_over": take_over}
    _print_item(
        CodingClient(url, tenant).call("POST", f"/v1/worklist/{item_id}/claim", json=body), as_json
    )


@worklist_app.command("release")
def worklist_release(
    item_id: ItemId, tenant: Tenant = None, as_json: AsJson = False, url: Url = None
):
    """Give an item back to the worklist."""
    _print_item(CodingClient(url, tenant).call("POST", f"/v1/worklist/{item_id}/release"), as_json)


Overrides = Annotated[
    list[str] | None, typer.Option("--override", help="Edit rule to override (needs --note)")
]
Note = Annotated[str | None, typer.Option(help="Why (kept in the audit trail)")]
Dx = Annotated[list[str] | None, typer.Option("--dx", help="A final diagnosis, in order")]
Lines = Annotated[
    list[str] | None,
    typer.Option(
        "--line",
        help="A service line SYSTEM:CODE:POINTERS[:MODIFIERS[:UNITS]], e.g. CPT:99213:1,2:25",
    ),
]


def _line(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) < 3:
        raise typer.BadParameter("SYSTEM:CODE:POINTERS[:MODIFIERS[:UNITS]]", param_hint="--line")
    try:
        line: dict[str, Any] = {
            "code_system": parts[0].upper(),
            "code": parts[1].upper(),
            "diagnosis_pointers": [int(p) for p in parts[2].split(",") if p],
        }
        if len(parts) > 3 and parts[3]:
            line["modifiers"] = [m.upper() for m in parts[3].split(",")]
        if len(parts) > 4:
            line["units"] = int(parts[4])
    except ValueError as exc:
        raise typer.BadParameter("pointers and units are numbers", param_hint="--line") from exc
    return line


@worklist_app.command("accept")
def worklist_accept(
    item_id: ItemId,
    override: Overrides = None,
    note: Note = None,
    revision: Annotated[int | None, typer.Option(help="The revision you reviewed")] = None,
    tenant: Tenant = None,
    as_json: AsJson = False,
    url: Url = None,
) -> None:
    """The suggested codes stand: the encounter goes on to claims."""
    body = {"overrides": override or [], "note": note, "revision": revision}
    _print_item(
        CodingClient(url, tenant).call("POST", f"/v1/worklist/{item_id}/accept", json=body), as_json
    )


@worklist_app.command("correct")
def worklist_correct(
    item_id: ItemId,
    dx: Dx = None,
    line: Lines = None,
    override: Overrides = None,
    note: Note = None,
    revision: Annotated[int | None, typer.Option(help="The revision you reviewed")] = None,
    tenant: Tenant = None,
    as_json: AsJson = False,
    url: Url = None,
) -> None:
    """Your codes replace the suggestion (lines: the suggested ones unless --line)."""
    if not dx:
        raise typer.BadParameter("at least one --dx", param_hint="--dx")
    body: dict[str, Any] = {
        "diagnoses": dx,
        "overrides": override or [],
        "note": note,
        "revision": revision,
    }
    if line:
        body["service_lines"] = [_line(x) for x in line]
    _print_item(
        CodingClient(url, tenant).call("POST", f"/v1/worklist/{item_id}/correct", json=body),
        as_json,
    )


@worklist_app.command("query")
def worklist_query(
    item_id: ItemId,
    question: Annotated[str, typer.Argument(help="The physician query")],
    tenant: Tenant = None,
    as_json: AsJson = False,
    url: Url = None,
) -> None:
    """Ask the provider; the item waits for the answer."""
    body = {"question": question}
    _print_item(
        CodingClient(url, tenant).call("POST", f"/v1/worklist/{item_id}/query-provider", json=body),
        as_json,
    )


@worklist_app.command("answer")
def worklist_answer(
    item_id: ItemId,
    answer: Annotated[str, typer.Argument(help="The provider's answer")],
    accept: Annotated[bool, typer.Option(help="The suggestion stands: resolve now")] = False,
    dx: Dx = None,
    line: Lines = None,
    override: Overrides = None,
    note: Note = None,
    tenant: Tenant = None,
    as_json: AsJson = False,
    url: Url = None,
) -> None:
    """Record the provider's answer; with --accept or --dx the encounter flows on at once."""
    body: dict[str, Any] = {"answer": answer, "overrides": override or [], "note": note}
    if dx:
        body |= {"resolve": "correct", "diagnoses": dx}
        if line:
            body["service_lines"] = [_line(x) for x in line]
    elif accept:
        body["resolve"] = "accept"
    _print_item(
        CodingClient(url, tenant).call("POST", f"/v1/worklist/{item_id}/answer", json=body),
        as_json,
    )


@worklist_app.command("threshold")
def worklist_threshold(
    tenant: Annotated[str, typer.Argument(help="The tenant")],
    value: Annotated[float | None, typer.Argument(min=0, max=1, help="New threshold")] = None,
    note: Note = None,
    url: Url = None,
) -> None:
    """Show a tenant's auto-coding threshold, or set it (operators)."""
    if value is None:
        settings = CodingClient(url, tenant).call("GET", "/v1/settings")
    else:
        settings = CodingClient(url).call(
            "PUT",
            f"/v1/admin/tenants/{tenant}/settings",
            json={"auto_code_threshold": value, "note": note},
        )
    print(json.dumps(settings))
