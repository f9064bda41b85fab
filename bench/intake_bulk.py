"""Intake benchmark: bulk NDJSON/CSV records per second and peak memory for a 100,000-record
file, beside a same-run baseline of parsing the same file alone (`json.loads` per line,
`csv.reader`); FHIR bundles per second beside plain `fhir.resources` Bundle validation of the
same Synthea bundles. Each phase runs in its own process so its peak RSS is its own.

Two levels: the readers alone (`ndjson_intake`, `csv_intake`: read, complete from the
registry, validate), and the whole service path (`service_ndjson`: the file streamed to
`POST /v1/bulk`, spooled, ingested in batches with de-duplication, outbox events and a
result row per record, in the intake app in process) on SQLite by default or on PostgreSQL
with `--database-url postgresql+asyncpg://...` (Kafka is not involved: events stay in the
outbox, which is what the service commits per batch).

    uv run python bench/intake_bulk.py              # 100,000 records
    uv run python bench/intake_bulk.py --records 20000 --fhir-rounds 5

The machine is shared and noisy: read the ratios to the baselines, not the absolute rates.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import json
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SYNTHEA = ROOT / "tests" / "fixtures" / "synthea"
TODAY = date(2026, 11, 23)
CODES = [
    ("99213", "E11.9"),
    ("99214", "I10"),
    ("99203", "J06.9"),
    ("36415", "E78.5"),
    ("G0439", "Z00.00"),
]
FIRST = ["Ava", "Liam", "Mia", "Noah", "Zoe", "Ethan", "Ivy", "Lucas"]
LAST = ["Rivera", "Chen", "Okafor", "Nguyen", "Schmidt", "Haddad"]


def _npi(n: int) -> str:
    from claimflow_shared.codes import npi_check_digit

    first_nine = f"1{n:08d}"
    return first_nine + str(npi_check_digit(first_nine))


def registry():
    from claimflow_intake.domain.registry import (
        Payer,
        PostalAddress,
        Provider,
        TenantDefaults,
        TenantRegistry,
    )

    return TenantRegistry(
        "bench",
        payers=(
            Payer(
                "MEDICARE", "Medicare", claim_filing_indicator="MB", member_id_source="patient-id"
            ),
            Payer(
                "MEDICAID", "Medicaid", aliases=("Dual Eligible",), member_id_source="patient-id"
            ),
            Payer("HUMANA", "Humana", member_id_source="patient-id"),
            Payer(
                "BCBS", "Blue Cross Blue Shield", aliases=("BCBS",), member_id_source="patient-id"
            ),
        ),
        providers=(
            Provider(
                "organization",
                npi=_npi(1),
                name="BENCH MEDICAL GROUP",
                tax_id="123456789",
                address=PostalAddress("1 Main St", "Boston", "MA", "02110"),
            ),
            Provider("individual", npi=_npi(2), first_name="Ada", last_name="Quill"),
        ),
        defaults=TenantDefaults(billing_npi=_npi(1)),
    )


# --- input files --------------------------------------------------------------------------------


def _records(count: int) -> Any:
    rng = random.Random(7)
    for n in range(count):
        day = (TODAY - timedelta(days=rng.randrange(1, 300))).isoformat()
        lines = rng.sample(CODES, rng.randrange(1, 3))
        yield {
            "source": {"system": "bench-ehr", "document_id": f"DOC-{n}"},
            "patient": {
                "mrn": f"MRN{n:08d}",
                "first_name": rng.choice(FIRST),
                "last_name": rng.choice(LAST),
                "birth_date": (date(1940, 1, 1) + timedelta(days=rng.randrange(27000))).isoformat(),
                "sex": rng.choice("FM"),
                "address": {
                    "line1": f"{n % 999} Elm St",
                    "city": "Raleigh",
                    "state": "NC",
                    "postal_code": "27601",
                },
            },
            "coverages": [
                {
                    "payer": {"name": rng.choice(["Medicare", "Humana", "BCBS"])},
                    "member_id": f"W{n:09d}",
                }
            ],
            "providers": {"rendering": {"npi": _npi(2)}},
            "period_start": day,
            "period_end": day,
            # One record in a hundred is wrong on purpose, so rejections are on the hot path.
            "place_of_service": "11" if n % 100 else "00",
            "diagnoses": [{"sequence": i + 1, "code": dx} for i, (_, dx) in enumerate(lines)],
            "procedures": [
                {
                    "sequence": i + 1,
                    "code_system": "HCPCS" if code.startswith("G") else "CPT",
                    "code": code,
                    "service_date": day,
                    "diagnosis_sequences": [i + 1],
                }
                for i, (code, _) in enumerate(lines)
            ],
        }


def write_ndjson(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in _records(count):
            out.write(json.dumps(record, separators=(",", ":")) + "\n")


def write_csv(path: Path, count: int) -> None:
    from claimflow_intake.domain.bulk import CSV_COLUMNS

    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for r in _records(count):
            p = r["patient"]
            base = {
                "document_id": r["source"]["document_id"],
                "patient_mrn": p["mrn"],
                "patient_first_name": p["first_name"],
                "patient_last_name": p["last_name"],
                "patient_birth_date": p["birth_date"],
                "patient_sex": p["sex"],
                "patient_address_line1": p["address"]["line1"],
                "patient_city": p["address"]["city"],
                "patient_state": p["address"]["state"],
                "patient_postal_code": p["address"]["postal_code"],
                "payer_name": r["coverages"][0]["payer"]["name"],
                "member_id": r["coverages"][0]["member_id"],
                "rendering_npi": r["providers"]["rendering"]["npi"],
                "period_start": r["period_start"],
                "place_of_service": r["place_of_service"],
                "diagnoses": ";".join(d["code"] for d in r["diagnoses"]),
            }
            for line in r["procedures"]:
                writer.writerow(
                    base
                    | {
                        "line_code_system": line["code_system"],
                        "line_code": line["code"],
                        "line_diagnosis_pointers": str(line["diagnosis_sequences"][0]),
                    }
                )


# --- phases (each in its own process) -------------------------------------------------------------


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM belongs to the address space, so unlike ru_maxrss
    (which a spawned child inherits from its parent across exec) it is the phase's own."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> float:
    """Start the peak over from the current RSS (Linux: clear_refs 5), after imports and
    warm-up, so the figure is what the phase itself needs; returns the RSS it starts at."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS") or _peak_rss_mb()


def phase_json_loads(path: str) -> dict[str, Any]:
    start_rss = _reset_peak()
    started = time.perf_counter()
    count = 0
    with open(path, "rb") as stream:
        for line in stream:
            if line.strip():
                json.loads(line)
                count += 1
    return _figures(count, started, start_rss)


def phase_csv_reader(path: str) -> dict[str, Any]:
    start_rss = _reset_peak()
    started = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as stream:
        rows = sum(1 for _ in csv.reader(stream)) - 1
    return _figures(rows, started, start_rss, unit="rows")


def phase_ndjson(path: str) -> dict[str, Any]:
    from claimflow_intake.domain.bulk import read_ndjson

    tenant = registry()
    with open(path, "rb") as stream:  # warm-up: tables and validators built once
        for _, _record in zip(
            range(200), read_ndjson(stream, registry=tenant, today=TODAY), strict=False
        ):
            pass
    start_rss = _reset_peak()
    started = time.perf_counter()
    accepted = rejected = 0
    with open(path, "rb") as stream:
        for record in read_ndjson(stream, registry=tenant, today=TODAY):
            accepted += record.ok
            rejected += not record.ok
    return _figures(accepted + rejected, started, start_rss) | {
        "accepted": accepted,
        "rejected": rejected,
    }


def phase_csv(path: str) -> dict[str, Any]:
    from claimflow_intake.domain.bulk import read_csv

    tenant = registry()
    with open(path, "rb") as stream:  # warm-up: tables and validators built once
        records = read_csv(stream, registry=tenant, today=TODAY, source_system="bench")
        for _, _record in zip(range(200), records, strict=False):
            pass
    start_rss = _reset_peak()
    started = time.perf_counter()
    accepted = rejected = 0
    with open(path, "rb") as stream:
        for record in read_csv(stream, registry=tenant, today=TODAY, source_system="bench"):
            accepted += record.ok
            rejected += not record.ok
    return _figures(accepted + rejected, started, start_rss) | {
        "accepted": accepted,
        "rejected": rejected,
    }


def _admin_setup(client: Any, tenant: str) -> Any:
    """The bench registry, put through the admin API as an operator would."""

    async def setup() -> None:
        headers = {"X-Tenant-ID": tenant}
        for payer_id, name in (("MEDICARE", "Medicare"), ("HUMANA", "Humana"), ("BCBS", "BCBS")):
            body = {"name": name, "member_id_source": "patient-id"}
            (
                await client.put(f"/v1/payers/{payer_id}", json=body, headers=headers)
            ).raise_for_status()
        billing = {
            "kind": "organization",
            "npi": _npi(1),
            "name": "BENCH MEDICAL GROUP",
            "tax_id": "123456789",
            "address": {
                "line1": "1 Main St",
                "city": "Boston",
                "state": "MA",
                "postal_code": "02110",
            },
        }
        rendering = {
            "kind": "individual",
            "npi": _npi(2),
            "first_name": "Ada",
            "last_name": "Quill",
        }
        for body in (billing, rendering):
            (await client.post("/v1/providers", json=body, headers=headers)).raise_for_status()
        defaults = {"billing_npi": _npi(1)}
        (await client.put("/v1/tenant", json=defaults, headers=headers)).raise_for_status()

    return setup()


def phase_service(path: str, database_url: str | None) -> dict[str, Any]:
    import asyncio

    import httpx
    from fastapi import FastAPI

    from claimflow_intake.bulk_jobs import BulkIngest
    from claimflow_intake.entrypoints import admin, http
    from claimflow_intake.settings import Settings
    from claimflow_intake.unit_of_work import SqlIntakeUnitOfWork
    from claimflow_shared.runtime.service import Runtime
    from claimflow_shared.runtime.tenancy import Access

    async def run(folder: Path) -> dict[str, Any]:
        settings = Settings(
            data_dir=folder,
            database_url=database_url or f"sqlite+aiosqlite:///{folder / 'intake.db'}",
            allow_insecure_dev=True,
            mllp_port=0,
        )
        runtime = Runtime(settings, version="bench")
        await runtime.db.create_tables()
        uows = runtime.units_of_work(SqlIntakeUnitOfWork)
        bulk = BulkIngest(uows=uows, settings=settings)
        app = FastAPI()
        app.state.access = Access(dev=True)
        app.include_router(http.router(uows, settings=settings, bulk=bulk))
        app.include_router(admin.router(uows))
        transport = httpx.ASGITransport(app=app)
        run_id = f"{time.time_ns() % 10**9}"
        tenant, warmup = f"bench-{run_id}", f"warmup-{run_id}"

        async def chunks(limit: int | None = None) -> Any:
            sent = 0
            stream = await asyncio.to_thread(open, path, "rb")
            try:
                while chunk := await asyncio.to_thread(stream.read, 256 * 1024):
                    if limit is not None and sent >= limit:
                        return
                    sent += len(chunk)
                    yield chunk
            finally:
                stream.close()

        async def ingest(client: Any, who: str, limit: int | None = None) -> dict[str, Any]:
            response = await client.post(
                "/v1/bulk", content=chunks(limit), headers={"X-Tenant-ID": who}
            )
            response.raise_for_status()
            while await bulk.ingest_pending():
                pass
            job = await client.get(
                f"/v1/bulk/{response.json()['job_id']}", headers={"X-Tenant-ID": who}
            )
            return job.json()

        async with httpx.AsyncClient(
            transport=transport, base_url="http://intake", timeout=None
        ) as client:
            await _admin_setup(client, tenant)
            await _admin_setup(client, warmup)
            await ingest(client, warmup, limit=512 * 1024)  # statements compiled, threads up
            start_rss = _reset_peak()
            started = time.perf_counter()
            job = await ingest(client, tenant)
        await runtime.db.dispose()
        figures = _figures(job["records"], started, start_rss)
        return figures | {k: job[k] for k in ("accepted", "duplicate", "amended", "rejected")}

    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(run(Path(folder)))


def _synthea_bundles() -> list[bytes]:
    paths = sorted(SYNTHEA.glob("*_*.json*"))
    return [gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes() for p in paths]


def phase_fhir_validate(rounds: int) -> dict[str, Any]:
    from fhir.resources.R4B.bundle import Bundle

    bundles = _synthea_bundles()
    for raw in bundles:  # warm-up: pydantic builds each resource model on first use
        Bundle.model_validate_json(raw)
    start_rss = _reset_peak()
    started = time.perf_counter()
    for _ in range(rounds):
        for raw in bundles:
            Bundle.model_validate_json(raw)
    return _figures(rounds * len(bundles), started, start_rss, unit="bundles")


def phase_fhir_intake(rounds: int) -> dict[str, Any]:
    from claimflow_intake.domain.fhir import Outcome, read_bundle

    tenant = registry()
    for name in ("practitionerInformation", "hospitalInformation"):
        raw = next(SYNTHEA.glob(f"{name}*")).read_bytes()
        tenant = tenant.merged(
            read_bundle(raw, registry=tenant, source_system="synthea", today=TODAY).directory
        )
    bundles = _synthea_bundles()
    for raw in bundles:  # warm-up, as for the baseline
        read_bundle(raw, registry=tenant, source_system="synthea", today=TODAY)
    start_rss = _reset_peak()
    started = time.perf_counter()
    encounters = mapped = 0
    for _ in range(rounds):
        for raw in bundles:
            result = read_bundle(raw, registry=tenant, source_system="synthea", today=TODAY)
            encounters += len(result.encounters)
            mapped += sum(r.outcome is Outcome.MAPPED for r in result.encounters)
    figures = _figures(rounds * len(bundles), started, start_rss, unit="bundles")
    seconds = figures["seconds"]
    return figures | {
        "encounters": encounters,
        "mapped": mapped,
        "encounters_per_s": round(encounters / seconds, 1),
    }


def _figures(count: int, started: float, start_rss: float, unit: str = "records") -> dict[str, Any]:
    seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    return {
        unit: count,
        "seconds": round(seconds, 3),
        f"{unit}_per_s": round(count / seconds, 1),
        "peak_rss_mb": round(peak, 1),
        "rss_growth_mb": round(peak - start_rss, 1),
    }


def _run(phase: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(phase, args)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--fhir-rounds", type=int, default=10)
    parser.add_argument(
        "--database-url", help="run the service phase on this database (default: SQLite)"
    )
    parser.add_argument("--skip-service", action="store_true", help="readers only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        ndjson = Path(folder) / "encounters.ndjson"
        table = Path(folder) / "encounters.csv"
        write_ndjson(ndjson, args.records)
        write_csv(table, args.records)
        sizes = {
            "ndjson_mb": round(ndjson.stat().st_size / 2**20, 1),
            "csv_mb": round(table.stat().st_size / 2**20, 1),
        }
        report: dict[str, Any] = {"records": args.records, "files": sizes}
        report["baseline_json_loads"] = _run(phase_json_loads, str(ndjson))
        print("json.loads alone     ", report["baseline_json_loads"], flush=True)
        report["ndjson_intake"] = _run(phase_ndjson, str(ndjson))
        print("NDJSON intake        ", report["ndjson_intake"], flush=True)
        if not args.skip_service:
            report["service_ndjson"] = _run(phase_service, str(ndjson), args.database_url)
            print("NDJSON service       ", report["service_ndjson"], flush=True)
        report["baseline_csv_reader"] = _run(phase_csv_reader, str(table))
        print("csv.reader alone     ", report["baseline_csv_reader"], flush=True)
        report["csv_intake"] = _run(phase_csv, str(table))
        print("CSV intake           ", report["csv_intake"], flush=True)
    report["baseline_fhir_resources"] = _run(phase_fhir_validate, args.fhir_rounds)
    print("fhir.resources alone ", report["baseline_fhir_resources"], flush=True)
    report["fhir_intake"] = _run(phase_fhir_intake, args.fhir_rounds)
    print("FHIR intake          ", report["fhir_intake"], flush=True)
    report["ratios"] = {
        **(
            {
                "service_vs_json_loads": round(
                    report["service_ndjson"]["records_per_s"]
                    / report["baseline_json_loads"]["records_per_s"],
                    3,
                )
            }
            if "service_ndjson" in report
            else {}
        ),
        "ndjson_vs_json_loads": round(
            report["ndjson_intake"]["records_per_s"]
            / report["baseline_json_loads"]["records_per_s"],
            3,
        ),
        "csv_vs_csv_reader_rows": round(
            report["csv_intake"]["records_per_s"] / report["baseline_csv_reader"]["rows_per_s"], 3
        ),
        "fhir_vs_fhir_resources": round(
            report["fhir_intake"]["bundles_per_s"]
            / report["baseline_fhir_resources"]["bundles_per_s"],
            3,
        ),
    }
    print(json.dumps(report, separators=(",", ":")))
    return report


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
