"""The clearinghouse port and its HTTP adapter: an 837 goes out, a 999 comes back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx


@dataclass(frozen=True)
class SubmissionReceipt:
    submission_id: str
    ack_999: str
    ack_277ca: str | None = None
    already_held: frozenset[str] = frozenset()


class Clearinghouse(Protocol):
    async def submit(self, *, file_name: str, content: str) -> SubmissionReceipt: ...


class HttpClearinghouse:
    """Posts 837 files to a clearinghouse's HTTP endpoint (the payer simulator locally)."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)

    async def submit(self, *, file_name: str, content: str) -> SubmissionReceipt:
        response = await self.client.post(
            "/v1/submissions",
            content=content.encode(),
            headers={"Content-Type": "application/edi-x12", "X-File-Name": file_name},
        )
        response.raise_for_status()
        body = response.json()
        return SubmissionReceipt(
            submission_id=str(body["submission_id"]),
            ack_999=body["ack_999"],
            ack_277ca=body.get("ack_277ca"),
            already_held=frozenset(
                c["claim_id"] for c in body.get("claims", []) if c.get("status") == "duplicate"
            ),
        )

    async def close(self) -> None:
        await self.client.aclose()
