"""Shared fixtures: the public 835 samples and a builder for small hand-written 835s."""

import os
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
# The samples live beside the repository (DESIGN.md: ../shared/x12-samples); a copy inside the
# repository's own shared/ folder is accepted too.
SAMPLE_DIRS = [
    root / "shared" / "x12-samples" / "835" for root in (HERE.parents[5], HERE.parents[4])
]


@pytest.fixture(scope="session")
def samples() -> Path:
    for folder in SAMPLE_DIRS:
        if folder.is_dir():
            return folder
    where = ", ".join(map(str, SAMPLE_DIRS))
    if os.environ.get("CI") == "true":
        pytest.fail(f"835 samples not found in {where}; CI must run the sample tests")
    pytest.skip(f"835 samples not found in {where}")


@pytest.fixture(scope="session")
def sample_text(samples: Path) -> Callable[[str], str]:
    def read(name: str) -> str:
        return (samples / name).read_text(encoding="utf-8")

    return read


ISA = (
    "ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLINIC         *240115*1200*^*00501"
    "*000000001*0*P*:"
)
GS = "GS*HP*PAYER*CLINIC*20240115*1200*1*X*005010X221A1"


@pytest.fixture(scope="session")
def era() -> Callable[..., str]:
    """Wrap claim/PLB segments in ST, BPR, TRN, N1 loops and a correctly counted SE, inside
    a 5010 ISA/GS envelope unless `envelope` is False."""

    def build(
        *body: str,
        total: str = "100.00",
        control: str = "0001",
        envelope: bool = True,
        payer: tuple[str, ...] = ("N1*PR*ACME HEALTH PLAN", "REF*2U*ACME1"),
        payee: tuple[str, ...] = ("N1*PE*GOOD CLINIC*XX*1234567893",),
    ) -> str:
        segments = [
            f"ST*835*{control}",
            f"BPR*I*{total}*C*ACH************20240115",
            "TRN*1*EFT0001*1234567890",
            "DTM*405*20240114",
            *payer,
            *payee,
            "LX*1",
            *body,
        ]
        segments.append(f"SE*{len(segments) + 1}*{control}")
        if envelope:
            segments = [ISA, GS, *segments, "GE*1*1", "IEA*1*000000001"]
        return "~\n".join(segments) + "~\n"

    return build
