"""The curated SNOMED CT -> ICD-10-CM map (`data/snomed_icd10cm.csv`): the conditions Synthea
emits and common EHR problem-list entries, one reviewed target per concept with the reason.

The official NLM map is UMLS-licensed and is not used; a concept not in this table is coded from
its display text by the diagnosis coder.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

SNOMED_FILE = "snomed_icd10cm.csv"
SNOMED_SYSTEMS = frozenset(
    {"http://snomed.info/sct", "snomed", "snomed ct", "snomedct", "sct", "2.16.840.1.113883.6.96"}
)


@dataclass(frozen=True)
class SnomedMapping:
    snomed: str
    display: str
    icd10cm: str  # no dot
    rationale: str


@cache
def snomed_table() -> Mapping[str, SnomedMapping]:
    text = (
        resources.files("claimflow_coding.domain").joinpath("data", SNOMED_FILE).read_text("utf-8")
    )
    table = {}
    for row in csv.DictReader(text.splitlines()):
        code = row["snomed"].strip()
        table[code] = SnomedMapping(
            snomed=code,
            display=row["display"].strip(),
            icd10cm=row["icd10cm"].replace(".", "").strip().upper(),
            rationale=row["rationale"].strip(),
        )
    return MappingProxyType(table)


def snomed_mapping(code: str) -> SnomedMapping | None:
    return snomed_table().get(str(code).strip())
