"""HTTP access to a running stack's services, for the CLI, tests and the benchmark."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import httpx

from claimflow_local.stack import SERVICES, Stack, service_of


class StackClient:
    def __init__(self, stack: Stack, timeout: float = 30.0) -> None:
        self.stack = stack
        # With keys on, an operator key (CLAIMFLOW_API_KEY) lets the CLI act for any tenant.
        key = os.environ.get("CLAIMFLOW_API_KEY")
        self.http = httpx.Client(timeout=timeout, headers={"X-API-Key": key} if key else {})

    def __enter__(self) -> StackClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def url(self, name: str) -> str:
        return self.stack.process(name).url

    def get(self, name: str, path: str, tenant: str | None = None, **params: Any) -> Any:
        headers = {"X-Tenant-ID": tenant} if tenant else {}
        response = self.http.get(f"{self.url(name)}{path}", headers=headers, params=params)
        response.raise_for_status()
        return response.json()

    def post(self, name: str, path: str, body: dict, tenant: str | None = None) -> Any:
        headers = {"X-Tenant-ID": tenant} if tenant else {}
        response = self.http.post(f"{self.url(name)}{path}", json=body, headers=headers)
        response.raise_for_status()
        return response.json()

    def post_batch(self, tenant: str, encounters: list[dict]) -> list[dict]:
        response = self.http.post(
            f"{self.url('intake')}/v1/encounters/batch",
            json={"encounters": encounters},
            headers={"X-Tenant-ID": tenant},
        )
        response.raise_for_status()
        return response.json()["results"]

    def status(self) -> dict[str, Any]:
        """Every process (each replica of each stage), and per stage the sums: one object."""
        processes = []
        for process in self.stack.processes():
            service = service_of(process.name)
            row: dict[str, Any] = {
                "name": process.name,
                "service": service,
                "url": process.url,
                "pid": process.pid or None,
                "ready": False,
                "replicas": self.stack.replicas.get(service, 1),
                "consumer_lag": None,
                "outbox_backlog": None,
            }
            try:
                row["ready"] = self.http.get(f"{process.url}/health/ready").status_code == 200
                if process.name != "simulator":
                    ops = self.get(process.name, "/v1/ops/lag")
                    row["consumer_lag"] = sum(ops["consumer_lag"].values())
                    row["partitions"] = sorted(ops["consumer_lag"])
                    row["outbox_backlog"] = ops["outbox_backlog"]
            except httpx.HTTPError:
                pass
            processes.append(row)
        stages = {}
        for service in ("simulator", *SERVICES):
            rows = [r for r in processes if r["service"] == service]
            stages[service] = {
                "replicas": len(rows),
                "ready": sum(r["ready"] for r in rows),
                "consumer_lag": sum(r["consumer_lag"] or 0 for r in rows),
                # One outbox per stage database: every replica reports the same rows.
                "outbox_backlog": max((r["outbox_backlog"] or 0 for r in rows), default=0),
            }
        return {"processes": processes, "stages": stages}

    def timeline(self, tenant: str, encounter_id: str) -> list[dict]:
        entries = []
        for name in SERVICES:
            for e in self.get(name, f"/v1/timeline/{encounter_id}", tenant)["entries"]:
                entries.append({**e, "service": name, "at_dt": datetime.fromisoformat(e["at"])})
        return sorted(entries, key=lambda e: e["at_dt"])
