"""HTTP access to a running stack's services, for the CLI, tests and the benchmark."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from claimflow_local.stack import SERVICES, Stack


class StackClient:
    def __init__(self, stack: Stack, timeout: float = 30.0) -> None:
        self.stack = stack
        self.http = httpx.Client(timeout=timeout)

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

    def post_batch(self, tenant: str, encounters: list[dict]) -> list[dict]:
        response = self.http.post(
            f"{self.url('intake')}/v1/encounters/batch",
            json={"encounters": encounters},
            headers={"X-Tenant-ID": tenant},
        )
        response.raise_for_status()
        return response.json()["results"]

    def status(self) -> dict[str, dict]:
        rows: dict[str, dict] = {}
        for name in ("simulator", *SERVICES):
            row: dict[str, Any] = {"url": self.url(name), "ready": False}
            try:
                row["ready"] = self.http.get(f"{row['url']}/health/ready").status_code == 200
                if name != "simulator":
                    ops = self.get(name, "/v1/ops/lag")
                    row["lag"] = sum(ops["consumer_lag"].values())
                    row["backlog"] = ops["outbox_backlog"]
            except httpx.HTTPError:
                pass
            rows[name] = row
        return rows

    def timeline(self, tenant: str, encounter_id: str) -> list[dict]:
        entries = []
        for name in SERVICES:
            for e in self.get(name, f"/v1/timeline/{encounter_id}", tenant)["entries"]:
                entries.append({**e, "service": name, "at_dt": datetime.fromisoformat(e["at"])})
        return sorted(entries, key=lambda e: e["at_dt"])
