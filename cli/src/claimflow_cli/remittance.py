"""`claimflow era`, `claimflow denials`, `claimflow patients` and `claimflow kpi`: the
remittance service's work from the command line, over its HTTP API."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from claimflow_cli import local
from claimflow_cli.client import StackClient

console = Console(stderr=True)
out = Console()

TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="The tenant to act for")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the answer as JSON")]
AGING = ("0-30", "31-60", "61-90", "91-120", "120+")


def _home() -> Path:
    return Path(os.environ.get("CLAIMFLOW_HOME", ".claimflow")).resolve()


class Remittance:
    """The remittance API of the local stack (or CLAIMFLOW_REMITTANCE_URL), as one tenant."""

    def __init__(self, tenant: str, timeout: float = 300.0) -> None:
        url = os.environ.get("CLAIMFLOW_REMITTANCE_URL")
        self.stack_client = None if url else StackClient(local.require(_home()), timeout=timeout)
        self.url = url or self.stack_client.url("remittance")  # type: ignore[union-attr]
        key = os.environ.get("CLAIMFLOW_API_KEY")
        headers = {"X-Tenant-ID": tenant, **({"X-API-Key": key} if key else {})}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def __enter__(self) -> Remittance:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()
        if self.stack_client is not None:
            self.stack_client.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:300]
            console.print(f"[red]{response.status_code}[/] {json.dumps(detail)}")
            raise typer.Exit(code=1)
        return response

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.call("GET", path, params=clean).json()

    def post(self, path: str, body: Any) -> Any:
        return self.call("POST", path, json=body).json()


def register(app: typer.Typer) -> None:
    """Add the remittance commands to the `claimflow` app."""
    app.add_typer(era_app, name="era")
    app.add_typer(denials_app, name="denials")
    app.add_typer(patients_app, name="patients")
    app.command("kpi")(kpi)


# -- claimflow era ------------------------------------------------------------------------

era_app = typer.Typer(help="835 remittances: import files, see what became of them.")


def _chunks(path: Path, progress: Progress, task: Any, size: int = 64 * 1024) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(size):
            progress.update(task, advance=len(chunk))
            yield chunk


@era_app.command("import")
def era_import(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    tenant: TenantOpt,
    as_json: JsonOpt = False,
) -> None:
    """Upload 835 files and post them for the tenant: shows what posted, what waits in the
    unmatched queue, what is held and why."""
    results = []
    failed = False
    with Remittance(tenant) as api:
        for path in files:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=console,
                transient=True,
            ) as progress:
                task = progress.add_task(path.name, total=path.stat().st_size)
                response = api.http.post(
                    "/v1/remittances",
                    content=_chunks(path, progress, task),
                    headers={"X-File-Name": path.name, "Content-Type": "application/edi-x12"},
                )
            if response.status_code >= 400:
                failed = True
                console.print(f"[red]{path.name}: {response.status_code}[/] {response.text[:300]}")
                continue
            result = response.json()
            results.append({"file": path.name, **result})
            if not as_json:
                _print_import(path.name, result)
    if as_json:
        print(json.dumps(results))
    if failed:
        raise typer.Exit(code=1)


def _print_import(name: str, r: dict) -> None:
    status = r["status"] + (f" ({r['duplicate_reason']})" if r["duplicate"] else "")
    out.print(
        f"[bold]{name}[/]: {status}; {r['claims']} claims: {r['posted_count']} posted, "
        f"{r['unmatched_count']} to the unmatched queue, {r['held_count']} held"
    )
    if r["posted"]:
        table = Table("claim", "status", "paid", "patient", "denial")
        for p in r["posted"]:
            table.add_row(
                p["claim_id"], p["status"], p["paid"], p["patient_responsibility"],
                p["denial_category"] or "",
            )  # fmt: skip
        out.print(table)
    for u in r["unmatched"]:
        out.print(f"  unmatched {u['claim_id']} ({u['kind']}, {u['amount']}): {u['reason']}")
    for h in r["held"]:
        out.print(f"  [yellow]held[/] {h['claim_id']}: {h['reason']}")
    for p in r["problems"]:
        out.print(f"  {p['policy']}: #{p['position']} {p['segment']} {p['kind']}: {p['message']}")
    for a in r["provider_adjustments"]:
        out.print(f"  provider account: {a['reason']} ({a['kind']}) {a['amount']}")


@era_app.command("files")
def era_files(tenant: TenantOpt, status: str | None = None, limit: int = 50) -> None:
    """The tenant's 835 files, newest first."""
    with Remittance(tenant) as api:
        rows = api.get("/v1/remittances", status=status, limit=limit)
    table = Table("file", "received", "status", "claims", "posted", "problems", "by")
    for f in rows:
        table.add_row(
            f["file_id"], f["received_at"][:19], f["status"], str(f["claims"]), str(f["posted"]),
            str(f["problems"]), f["received_by"],
        )  # fmt: skip
    out.print(table)


@era_app.command("unmatched")
def era_unmatched(tenant: TenantOpt, limit: int = 100) -> None:
    """Payments that need a person: why, and how much."""
    with Remittance(tenant) as api:
        rows = api.get("/v1/unmatched", limit=limit)
    table = Table("id", "claim (CLP01)", "kind", "amount", "reason")
    for u in rows:
        table.add_row(str(u["id"]), u["claim_id"], u["kind"], u["amount"], u["reason"])
    out.print(table)


# -- claimflow denials --------------------------------------------------------------------

denials_app = typer.Typer(help="The denial work queue: list, assign, note, act, appeal.")


@denials_app.command("list")
def denials_list(
    tenant: TenantOpt,
    status: str = "open",
    payer: Annotated[str | None, typer.Option(help="Payer id")] = None,
    category: str | None = None,
    min_amount: Decimal | None = None,
    max_amount: Decimal | None = None,
    min_age: Annotated[int | None, typer.Option(help="Days since the denial, at least")] = None,
    max_age: Annotated[int | None, typer.Option(help="Days since the denial, at most")] = None,
    deadline_by: Annotated[str | None, typer.Option(help="Appeal due by (YYYY-MM-DD)")] = None,
    assignee: str | None = None,
    limit: int = 100,
    as_json: JsonOpt = False,
) -> None:
    """Denials, nearest appeal deadline first, then the most money."""
    with Remittance(tenant) as api:
        rows = api.get(
            "/v1/denials",
            status=status, payer_id=payer, category=category, min_amount=min_amount,
            max_amount=max_amount, min_age_days=min_age, max_age_days=max_age,
            deadline_by=deadline_by, assignee=assignee, limit=limit,
        )  # fmt: skip
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("item", "claim", "payer", "category", "denied", "age", "appeal by", "do", "who")
    for d in rows:
        table.add_row(
            d["item_id"][:12], d["claim_id"], d["payer_id"] or "", d["category"],
            d["denied_amount"], str(d["age_days"]), d["appeal_deadline"] or "-",
            d["suggested_action"], d["assignee"] or "",
        )  # fmt: skip
    out.print(table)


def _item(api: Remittance, prefix: str) -> str:
    """Item ids are long: the first characters shown by `list` are enough."""
    if len(prefix) == 32:
        return prefix
    rows = api.get("/v1/denials", status="any", limit=500)
    found = [d["item_id"] for d in rows if d["item_id"].startswith(prefix)]
    if len(found) != 1:
        raise typer.BadParameter(f"{len(found)} items start with {prefix!r}", param_hint="ITEM")
    return found[0]


@denials_app.command("show")
def denials_show(item: str, tenant: TenantOpt) -> None:
    """One denial with its notes and its audit trail."""
    with Remittance(tenant) as api:
        d = api.get(f"/v1/denials/{_item(api, item)}")
    for name in ("claim_id", "payer_claim_number", "category", "subcategory", "carcs", "rarcs",
                 "denied_amount", "denied_on", "appeal_deadline", "recommended_action",
                 "status", "assignee"):  # fmt: skip
        out.print(f"[bold]{name}[/]: {d[name]}")
    for n in d["notes"]:
        out.print(f"note {n['at'][:16]} {n['by']}: {n['text']}")
    for a in d["audit"]:
        out.print(f"audit {a['at'][:16]} {a['by']}: {a['what']} {a['detail']}")


@denials_app.command("assign")
def denials_assign(item: str, assignee: str, tenant: TenantOpt) -> None:
    with Remittance(tenant) as api:
        d = api.post(f"/v1/denials/{_item(api, item)}/assign", {"assignee": assignee})
    out.print(f"{d['claim_id']}: assigned to {d['assignee']}")


@denials_app.command("note")
def denials_note(item: str, text: str, tenant: TenantOpt) -> None:
    with Remittance(tenant) as api:
        d = api.post(f"/v1/denials/{_item(api, item)}/notes", {"text": text})
    out.print(f"{d['claim_id']}: noted")


def _correction(spec: str) -> dict:
    """`2:modifiers=59,25` or `1:code=99214` or `3:units=2` -> a line correction."""
    line, _, changes = spec.partition(":")
    if not line.isdigit() or not changes:
        raise typer.BadParameter(f"{spec!r} is not LINE:field=value", param_hint="--correct")
    correction: dict[str, Any] = {"line_number": int(line)}
    for change in changes.split(";"):
        field, _, value = change.partition("=")
        if field in ("modifiers", "diagnosis_pointers"):
            items = [v.strip() for v in value.split(",") if v.strip()]
            correction[field] = [int(i) for i in items] if field == "diagnosis_pointers" else items
        elif field == "units":
            correction[field] = int(value)
        elif field == "code":
            correction[field] = value.strip()
        else:
            raise typer.BadParameter(f"cannot correct {field!r}", param_hint="--correct")
    return correction


@denials_app.command("act")
def denials_act(
    item: str,
    action: Annotated[
        str, typer.Argument(help="correct-and-resubmit, appeal, write-off, bill-patient")
    ],
    tenant: TenantOpt,
    reason: Annotated[str, typer.Option(help="What was corrected, the argument, or why")] = "",
    amount: Annotated[Decimal | None, typer.Option(help="Write off / bill only part")] = None,
    correct: Annotated[
        list[str] | None, typer.Option(help="Line correction LINE:field=value (repeatable)")
    ] = None,
) -> None:
    """Act on a denial; the claims stage carries it out (a corrected claim, an appeal, ...)."""
    body: dict[str, Any] = {"action": action, "reason": reason}
    if amount is not None:
        body["amount"] = str(amount)
    if correct:
        body["corrections"] = [_correction(c) for c in correct]
    with Remittance(tenant) as api:
        d = api.post(f"/v1/denials/{_item(api, item)}/actions", body)
    out.print(f"{d['claim_id']}: {d['status']}")


@denials_app.command("appeal-packet")
def denials_appeal_packet(
    item: str,
    tenant: TenantOpt,
    output: Annotated[Path, typer.Option("--out", "-o", help="Where to write the PDF")],
    argument: Annotated[
        list[str] | None, typer.Option(help="'Heading=text' for one argument slot (repeatable)")
    ] = None,
    attach: Annotated[list[str] | None, typer.Option(help="An attachment's name")] = None,
) -> None:
    """Write the appeal packet PDF; without arguments, show the slots to fill."""
    with Remittance(tenant) as api:
        item_id = _item(api, item)
        if not argument:
            for slot in api.get(f"/v1/denials/{item_id}/appeal-slots"):
                out.print(f"[bold]{slot['heading']}[/]: {slot['prompt']}")
            raise typer.Exit(code=2)
        arguments = dict(a.split("=", 1) for a in argument if "=" in a)
        response = api.call(
            "POST",
            f"/v1/denials/{item_id}/appeal-packet",
            json={"arguments": arguments, "attachments": attach or []},
        )
    output.write_bytes(response.content)
    out.print(f"wrote {output} ({len(response.content)} bytes)")


# -- claimflow patients -------------------------------------------------------------------

patients_app = typer.Typer(help="Patient balances, payments, payment plans and statements.")


@patients_app.command("list")
def patients_list(tenant: TenantOpt, limit: int = 100) -> None:
    """Patients who owe something, the largest balance first."""
    with Remittance(tenant) as api:
        rows = api.get("/v1/patients", limit=limit)
    table = Table("account", "owed", "paid", "balance", "since")
    for b in rows:
        table.add_row(b["patient_key"], b["owed"], b["paid"], b["balance"], b["oldest_since"] or "")
    out.print(table)


@patients_app.command("show")
def patients_show(patient: str, tenant: TenantOpt) -> None:
    with Remittance(tenant) as api:
        a = api.get(f"/v1/patients/{patient}")
    out.print(f"[bold]{a['first_name']} {a['last_name']}[/] owes {a['total_due']}")
    table = Table("visit", "claim", "charges", "insurance", "you paid", "balance", "days")
    for v in a["visits"]:
        table.add_row(
            v["service_date"], v["claim_id"], v["charge"], v["insurance_paid"], v["patient_paid"],
            v["balance"], str(v["age_days"]),
        )  # fmt: skip
    out.print(table)
    for plan in a["plans"]:
        out.print(f"plan {plan['status']}: {plan['paid']} of {plan['total']} paid")


@patients_app.command("pay")
def patients_pay(
    patient: str,
    amount: Decimal,
    tenant: TenantOpt,
    method: str = "card",
    claim: Annotated[str | None, typer.Option(help="The visit the payment is for")] = None,
) -> None:
    """Post a patient payment against the balance."""
    body = {"amount": str(amount), "method": method, "claim_id": claim}
    with Remittance(tenant) as api:
        r = api.post(f"/v1/patients/{patient}/payments", body)
    out.print(f"paid {r['amount']}; balance {r['balance']}, credit {r['credit']}")


@patients_app.command("plan")
def patients_plan(
    patient: str,
    tenant: TenantOpt,
    count: Annotated[int, typer.Option(min=1, max=120)],
    first_due: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    every_months: int = 1,
) -> None:
    """Split the balance into instalments."""
    body = {"count": count, "first_due": first_due, "every_months": every_months}
    with Remittance(tenant) as api:
        plan = api.post(f"/v1/patients/{patient}/plans", body)
    for i in plan["instalments"]:
        out.print(f"{i['number']:>3}  {i['due_on']}  {i['amount']}")


@patients_app.command("statement")
def patients_statement(
    patient: str,
    tenant: TenantOpt,
    output: Annotated[Path, typer.Option("--out", "-o", help="Where to write the PDF")],
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today)")] = None,
) -> None:
    """Write the patient's statement PDF."""
    with Remittance(tenant) as api:
        response = api.call("POST", f"/v1/patients/{patient}/statement", json={"as_of": as_of})
    output.write_bytes(response.content)
    out.print(f"wrote {output} ({len(response.content)} bytes)")


# -- claimflow kpi ------------------------------------------------------------------------


def kpi(
    tenant: TenantOpt,
    period_start: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    period_end: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: --to)")] = None,
    payer: Annotated[str | None, typer.Option(help="One payer id")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Revenue-cycle KPIs of a tenant, overall and per payer: a table, and charts of the A/R
    aging and the denials by category."""
    with Remittance(tenant) as api:
        report = api.get(
            "/v1/kpis",
            period_start=period_start, period_end=period_end, as_of=as_of, payer_id=payer,
        )  # fmt: skip
    if as_json:
        print(json.dumps(report))
        return
    columns = [report["overall"], *report["by_payer"]]
    table = Table(
        title=f"{report['tenant_id']}: claims first submitted {report['period_start']} to "
        f"{report['period_end']}, as of {report['as_of']}"
    )
    table.add_column("KPI")
    for k in columns:
        table.add_column(k["payer_id"] or "all payers", justify="right")
    for label, value in (
        ("Claims submitted", lambda k: str(k["claims_submitted"])),
        ("Clean claim rate", lambda k: _percent(k["clean_claim_rate"])),
        ("Claims adjudicated", lambda k: str(k["claims_adjudicated"])),
        ("First-pass resolution", lambda k: _percent(k["first_pass_resolution_rate"])),
        ("Initial denial rate", lambda k: _percent(k["initial_denial_rate"])),
        ("Net collection rate", lambda k: _percent(k["net_collection_rate"])),
        ("A/R total", lambda k: k["ar_total"]),
        ("Days in A/R", lambda k: k["days_in_ar"] or "-"),
        ("Collected", lambda k: k["cost_to_collect"]["collected"]),
        ("Resubmissions", lambda k: str(k["cost_to_collect"]["resubmissions"])),
        ("Appeals", lambda k: str(k["cost_to_collect"]["appeals"])),
        ("Written off", lambda k: k["cost_to_collect"]["written_off"]),
        ("Statements sent", lambda k: str(k["cost_to_collect"]["statements_sent"])),
    ):
        table.add_row(label, *(value(k) for k in columns))
    out.print(table)
    overall = report["overall"]
    out.print("\n[bold]A/R aging (days)[/]")
    out.print(bar_chart({b: Decimal(overall["ar_aging"][b]) for b in AGING}))
    out.print("\n[bold]Initial denial rate by category (%)[/]")
    out.print(
        bar_chart(
            {c: Decimal(r) * 100 for c, r in overall["denial_rate_by_category"].items()}, unit="%"
        )
    )


def bar_chart(values: dict[str, Decimal], *, width: int = 40, unit: str = "") -> str:
    """One bar per label scaled to the largest; anything above zero gets at least one mark."""
    largest = max((v for v in values.values() if v > 0), default=Decimal(0))
    label_width = max((len(label) for label in values), default=0)
    lines = []
    for label, value in values.items():
        length = int(value / largest * width) if largest else 0
        length = max(length, 1) if value > 0 else 0
        lines.append(f"{label.ljust(label_width)} |{'#' * length:<{width}}| {value:.2f}{unit}")
    return "\n".join(lines)


def _percent(rate: str | None) -> str:
    return "-" if rate is None else f"{Decimal(rate) * 100:.1f}%"
