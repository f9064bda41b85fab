"""The ERA download port and its HTTP adapter: 835 files after a sequence number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx


@dataclass(frozen=True)
class EraFile:
    seq: int
    file_name: str
    content: str


class EraSource(Protocol):
    name: str

    async def files_after(self, seq: int, *, limit: int) -> list[EraFile]: ...


class HttpEraSource:
    """Downloads 835s from a clearinghouse's HTTP API (the payer simulator locally)."""

    name = "clearinghouse"

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)

    async def files_after(self, seq: int, *, limit: int) -> list[EraFile]:
        response = await self.client.get("/v1/remittances", params={"after": seq, "limit": limit})
        response.raise_for_status()
        return [
            EraFile(seq=int(f["seq"]), file_name=f["file_name"], content=f["content"])
            for f in response.json()["files"]
        ]

    async def close(self) -> None:
        await self.client.aclose()
