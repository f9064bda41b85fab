"""HCPCS Level II codes and modifiers from the CMS January 2026 file, as a compact table
(`data/hcpcs_2026.tsv.gz`, built by `tools/build_hcpcs.py`; public domain, see data/SOURCES.md).
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from types import MappingProxyType

HCPCS_FILE = "hcpcs_2026.tsv.gz"
HCPCS_RELEASE = "2026-01"


@dataclass(frozen=True)
class HcpcsEntry:
    kind: str  # code | modifier
    code: str
    short: str
    long: str
    coverage: str  # C carrier judgment, D special coverage, I not payable, M non-covered, S statute
    added: date | None
    effective: date | None
    terminated: date | None

    def active_on(self, day: date) -> bool:
        """In use on a date of service: added by then and not terminated before it."""
        if self.added and day < self.added:
            return False
        return not (self.terminated and day > self.terminated)


def _day(text: str) -> date | None:
    text = text.strip()
    if len(text) != 8 or not text.isdigit():
        return None
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


@cache
def _table() -> Mapping[tuple[str, str], HcpcsEntry]:
    raw = resources.files("claimflow_coding.domain").joinpath("data", HCPCS_FILE).read_bytes()
    rows: dict[tuple[str, str], HcpcsEntry] = {}
    for line in gzip.decompress(raw).decode("utf-8").splitlines()[1:]:
        kind, code, short, long, coverage, added, effective, terminated, _ = line.split("\t")
        rows[(kind, code)] = HcpcsEntry(
            kind, code, short, long, coverage, _day(added), _day(effective), _day(terminated)
        )
    return MappingProxyType(rows)


def hcpcs_code(code: str) -> HcpcsEntry | None:
    """A HCPCS Level II code (letter + 4 digits) from the CMS file."""
    return _table().get(("code", str(code).strip().upper()))


def hcpcs_modifier(modifier: str) -> HcpcsEntry | None:
    """A HCPCS Level II modifier (e.g. LT, RT, XS) from the CMS file; CPT modifiers (25, 59,
    50) are AMA's and are described in `services.MODIFIERS` in our own words."""
    return _table().get(("modifier", str(modifier).strip().upper()))


def hcpcs_codes() -> list[HcpcsEntry]:
    return [entry for (kind, _), entry in _table().items() if kind == "code"]
