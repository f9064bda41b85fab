"""The clearinghouse port over a file drop: an SFTP-style outbox/inbox directory pair.

We write each 837 to the outbox (via a temporary name, renamed when complete, so the
clearinghouse never picks up half a file) and read its answers from the inbox: a 999 and,
when the clearinghouse has one, a 277CA whose names start with the 837's name. A
submission whose 999 has not arrived yet raises `AcknowledgmentPending`; the submitter
retries later and gets the same bytes, since the file is already in the outbox.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from claimflow_claims.adapters.clearinghouse import ClearinghouseAway, SubmissionReceipt

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


class AcknowledgmentPending(ClearinghouseAway):
    """The 837 is in the outbox but the clearinghouse has not answered yet: ask again later
    (the submitter sends the same bytes, which finds the file already dropped)."""


class FileDropClearinghouse:
    """Same port as `HttpClearinghouse`: `await submit(file_name=..., content=...)`."""

    def __init__(self, outbox: Path, inbox: Path) -> None:
        self.outbox = Path(outbox)
        self.inbox = Path(inbox)

    async def submit(self, *, file_name: str, content: str) -> SubmissionReceipt:
        return await asyncio.to_thread(self.submit_now, file_name=file_name, content=content)

    def submit_now(self, *, file_name: str, content: str) -> SubmissionReceipt:
        """Drop the 837 (once) and read the answers the clearinghouse left for it."""
        if not _SAFE_NAME.match(file_name):
            raise ValueError("file_name must be a plain file name (letters, digits, . _ -)")
        self.outbox.mkdir(parents=True, exist_ok=True)
        target = self.outbox / file_name
        if not target.exists():
            partial = self.outbox / f".{file_name}.part"
            partial.write_text(content, encoding="ascii")
            os.replace(partial, target)
        elif target.read_text(encoding="ascii") != content:
            raise ValueError(f"{file_name} was already dropped with other content")
        ack_999 = self._answer(file_name, "999")
        if ack_999 is None:
            raise AcknowledgmentPending(f"no 999 for {file_name} in the inbox yet")
        return SubmissionReceipt(
            submission_id=file_name, ack_999=ack_999, ack_277ca=self._answer(file_name, "277")
        )

    def _answer(self, file_name: str, kind: str) -> str | None:
        """The inbox file answering `file_name`: `<name>.999` / `<name>.277` (any suffix
        after the kind), the newest when there are several."""
        stem = Path(file_name).stem
        found = sorted(
            (p for p in self.inbox.glob(f"{stem}*.{kind}*") if p.is_file()),
            key=lambda p: p.stat().st_mtime_ns,
        )
        return found[-1].read_text(encoding="utf-8-sig") if found else None

    async def close(self) -> None:
        return None
