"""A background loop survives failures, backs off, and idles only when it has no work."""

import asyncio

import pytest

from claimflow_shared.runtime.loops import Backoff, repeat


async def test_backoff_doubles_up_to_its_limit_and_resets():
    backoff = Backoff(0.001, 0.004)
    for _ in range(4):
        await backoff.wait()
    assert backoff.current_s == 0.004
    backoff.reset()
    assert backoff.current_s == 0.001


async def test_a_failing_step_is_retried_and_the_loop_goes_on():
    calls, idles, errors = [], [], []
    outcomes = iter([RuntimeError("db away"), True, False, False])

    async def step() -> bool:
        calls.append(1)
        outcome = next(outcomes, False)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def idle() -> None:
        idles.append(1)
        if len(idles) == 2:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await repeat(
            step, what="test", idle=idle, backoff=Backoff(0.001, 0.002), on_error=errors.append
        )
    assert [type(e) for e in errors] == [RuntimeError]
    assert len(calls) == 4  # failed, busy (no idle), idle, idle
    assert len(idles) == 2
