"""The clearinghouse port and its HTTP adapter: an 837 goes out, a 999 (and a 277CA) come
back. The port tells a file refused for good from a clearinghouse that is away."""

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


class FileRefused(Exception):
    """The clearinghouse will never take this file as it is: sending it again is pointless."""


class ClearinghouseAway(Exception):
    """The clearinghouse did not answer: send the same file again later."""


class Clearinghouse(Protocol):
    async def submit(self, *, file_name: str, content: str) -> SubmissionReceipt: ...

    async def close(self) -> None: ...


class HttpClearinghouse:
    """Posts 837 files to a clearinghouse's HTTP endpoint (the payer simulator locally)."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)

    async def submit(self, *, file_name: str, content: str) -> SubmissionReceipt:
        try:
            response = await self.client.post(
                "/v1/submissions",
                content=content.encode(),
                headers={"Content-Type": "application/edi-x12", "X-File-Name": file_name},
            )
        except httpx.TransportError as exc:
            raise ClearinghouseAway(type(exc).__name__) from exc
        if response.status_code >= 500 or response.status_code in (408, 425, 429):
            raise ClearinghouseAway(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise FileRefused(f"HTTP {response.status_code}")
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


def clearinghouse_from(settings) -> Clearinghouse:  # type: ignore[no-untyped-def]
    """The clearinghouse port the settings choose: `http` or `file-drop`."""
    if settings.clearinghouse == "file-drop":
        from claimflow_claims.adapters.filedrop import FileDropClearinghouse

        return FileDropClearinghouse(settings.clearinghouse_outbox, settings.clearinghouse_inbox)
    return HttpClearinghouse(settings.clearinghouse_url)
