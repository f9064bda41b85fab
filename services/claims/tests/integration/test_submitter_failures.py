"""The submitter when things go wrong, on a real (SQLite) database: a file the clearinghouse
refuses holds its own claims only; a reply it cannot use sends the very same bytes again
(same control numbers, no claim in a second interchange) until the bound, then holds them; a
claim that cannot be written is held alone while the others go."""

from __future__ import annotations

import contextlib

import pytest

from claimflow_claims.adapters.clearinghouse import ClearinghouseAway, FileRefused
from services.claims.tests.integration.lifecycle_support import coded_visit


class Failing:
    """A clearinghouse wrapper that fails the first `times` posts with `error`."""

    def __init__(self, inner, error: Exception, times: int) -> None:
        self.inner, self.error, self.times = inner, error, times
        self.posted: list[tuple[str, str]] = []

    async def submit(self, *, file_name: str, content: str):
        self.posted.append((file_name, content))
        if len(self.posted) <= self.times:
            raise self.error
        return await self.inner.submit(file_name=file_name, content=content)


async def _sent_twice_the_same(harness, error: Exception, times: int) -> Failing:
    failing = Failing(harness.simulator, error, times)
    harness.submitter.clearinghouse = failing
    await harness.coded(coded_visit(mrn="MRN-E1001"), "E1001")
    await harness.coded(coded_visit(mrn="MRN-E1002"), "E1002")
    for _ in range(times + 1):
        # The background loop backs off after a failure and calls again.
        with contextlib.suppress(Exception):
            await harness.submitter.submit_once()
    return failing


@pytest.mark.parametrize(
    "error", [ClearinghouseAway("HTTP 503"), KeyError("ack_999")], ids=["away", "bad-reply"]
)
async def test_a_failed_post_sends_the_very_same_bytes_again(harness, error):
    failing = await _sent_twice_the_same(harness, error, times=2)
    names = {name for name, _ in failing.posted}
    contents = {content for _, content in failing.posted}
    assert len(failing.posted) == 3 and len(names) == 1 and len(contents) == 1
    claims = [*(await harness.claims("E1001")), *(await harness.claims("E1002"))]
    assert {c.submission_file for c in claims} == names
    assert {c.state for c in claims} <= {"accepted", "acknowledged", "submitted"}
    # The payer saw each claim in exactly one interchange.
    assert len(harness.simulator.received) == 1


async def test_a_file_refused_for_good_holds_its_claims_and_the_next_ones_still_go(harness):
    failing = Failing(harness.simulator, FileRefused("HTTP 400"), times=1)
    harness.submitter.clearinghouse = failing
    await harness.coded(coded_visit(mrn="MRN-E2001"), "E2001")
    await harness.submitter.submit_once()
    (held,) = await harness.claims("E2001")
    assert held.state == "held" and held.submission_file is not None
    await harness.coded(coded_visit(mrn="MRN-E2002"), "E2002")
    await harness.submit_all()
    (sent,) = await harness.claims("E2002")
    assert sent.state in {"accepted", "acknowledged", "submitted"}
    assert sent.submission_file != held.submission_file


async def test_a_reply_that_never_becomes_usable_holds_the_claims_after_the_bound(harness):
    bound = harness.submitter.settings.submit_max_attempts
    failing = await _sent_twice_the_same(harness, KeyError("ack_999"), times=bound + 5)
    assert len({content for _, content in failing.posted}) == 1
    assert len(failing.posted) == bound
    states = {c.state for e in ("E1001", "E1002") for c in await harness.claims(e)}
    assert states == {"held"}


async def test_a_claim_that_cannot_be_written_is_held_alone(harness, monkeypatch):
    await harness.coded(coded_visit(mrn="MRN-E3001"), "E3001")
    await harness.coded(coded_visit(mrn="MRN-E3002"), "E3002")
    (bad,) = await harness.claims("E3001")
    write = harness.submitter._write

    def refuse_one(icn, first_st, claims):
        if any(c.claim_id == bad.claim_id for c in claims):
            raise ValueError("element longer than the implementation guide allows")
        return write(icn, first_st, claims)

    monkeypatch.setattr(harness.submitter, "_write", refuse_one)
    await harness.submit_all()
    (held,) = await harness.claims("E3001")
    (sent,) = await harness.claims("E3002")
    assert held.state == "held" and held.submission_file is None
    assert sent.state in {"accepted", "acknowledged", "submitted"}
    held_events = [e for e in await harness.published("claim.held") if e["encounter_id"] == "E3001"]
    assert held_events and "cannot be written" in held_events[0]["payload"]["reasons"][0]
