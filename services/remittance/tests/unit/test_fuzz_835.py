"""Ten thousand damaged 835s, derived from the public samples with a fixed seed: the reader
returns remittances with problems or raises X12Error, never anything else, and never slowly."""

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow_remittance.domain.era_model import Remittance
from claimflow_remittance.domain.era_reader import read_835_file
from claimflow_shared.x12 import X12Error

from .test_read_835 import SAMPLE_NAMES

EXAMPLES = 10_000
SLOWEST_ALLOWED = 1.0  # seconds for one file
NOISE = "*~:>^|\n\r 0123456789.-+ABCDEFGHIJKLMNOPQRSTUVWXYZ\ufeff\x00é"

# Segment-level edits a payer system or a hand edit really produces.
SEGMENT_EDITS = st.sampled_from(["drop", "repeat", "swap", "truncate-elements", "pad-elements"])


@st.composite
def damaged(draw, texts: list[str]) -> str:
    text = draw(st.sampled_from(texts))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["chars", "segments", "cut", "splice"]))
        if how == "chars" and text:
            chars = list(text)
            for _ in range(draw(st.integers(1, 12))):
                at = draw(st.integers(0, len(chars) - 1))
                chars[at] = draw(st.sampled_from(NOISE))
            text = "".join(chars)
        elif how == "segments":
            text = _edit_segments(draw, text)
        elif how == "cut":
            text = text[: draw(st.integers(0, len(text)))]
        else:
            other = draw(st.sampled_from(texts))
            text = (
                text[: draw(st.integers(0, len(text)))] + other[draw(st.integers(0, len(other))) :]
            )
    return text


def _edit_segments(draw, text: str) -> str:
    segments = text.split("~")
    if len(segments) < 3:
        return text
    at = draw(st.integers(1, len(segments) - 2))
    edit = draw(SEGMENT_EDITS)
    if edit == "drop":
        del segments[at]
    elif edit == "repeat":
        segments.insert(at, segments[at])
    elif edit == "swap":
        other = draw(st.integers(1, len(segments) - 2))
        segments[at], segments[other] = segments[other], segments[at]
    elif edit == "truncate-elements":
        elements = segments[at].split("*")
        segments[at] = "*".join(elements[: draw(st.integers(1, max(1, len(elements))))])
    else:
        segments[at] += "*" * draw(st.integers(1, 30)) + draw(
            st.sampled_from(["X", "1e9", "-", "."])
        )
    return "~".join(segments)


def test_ten_thousand_damaged_samples_read_or_raise_x12_error_within_a_second(sample_text):
    texts = [sample_text(name) for name in SAMPLE_NAMES]
    seen = {"inputs": 0, "read": 0, "rejected": 0, "slowest": 0.0}

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(damaged(texts))
    def read_damaged(text: str) -> None:
        started = time.perf_counter()
        try:
            result = read_835_file(text)
        except X12Error:
            seen["rejected"] += 1
        else:
            assert result and all(isinstance(r, Remittance) for r in result)
            seen["read"] += 1
        elapsed = time.perf_counter() - started
        seen["slowest"] = max(seen["slowest"], elapsed)
        seen["inputs"] += 1
        assert elapsed < SLOWEST_ALLOWED, f"one input took {elapsed:.2f}s"

    read_damaged()

    assert seen["inputs"] >= EXAMPLES
    # Both outcomes must really occur, or the mutations are not exercising the reader.
    assert seen["read"] > EXAMPLES // 4
    assert seen["rejected"] > 0
