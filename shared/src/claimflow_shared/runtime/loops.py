"""Retry with backoff, and the one shape every background loop of a service takes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from claimflow_shared.runtime.db import describe_error

log = logging.getLogger("claimflow.loops")


class Backoff:
    """Exponential delays between attempts, reset after a success."""

    def __init__(self, initial_s: float = 0.2, max_s: float = 10.0) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.current_s = initial_s

    async def wait(self) -> None:
        await asyncio.sleep(self.current_s)
        self.current_s = min(self.current_s * 2, self.max_s)

    def reset(self) -> None:
        self.current_s = self.initial_s


async def repeat(
    step: Callable[[], Awaitable[bool]],
    *,
    what: str,
    idle: Callable[[], Awaitable[None]],
    backoff: Backoff,
    on_error: Callable[[Exception], None] = lambda exc: None,
) -> None:
    """Run `step` until cancelled: again at once while it reports more work, `idle()` when
    it has none, and after a backoff when it fails (a loop never dies of one failure)."""
    while True:
        try:
            busy = await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            on_error(exc)
            log.warning(
                f"{what} failed; retrying",
                extra={"error": describe_error(exc), "backoff_s": backoff.current_s},
            )
            await backoff.wait()
            continue
        backoff.reset()
        if not busy:
            await idle()
