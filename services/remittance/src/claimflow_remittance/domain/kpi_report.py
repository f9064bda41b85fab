"""KPIs as people read them: a table of figures and text bar charts for the shapes (aging,
denials by category) that are quicker to look at than to read."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from claimflow_remittance.domain.kpis import Kpis


def kpi_rows(kpis: Kpis) -> list[tuple[str, str]]:
    """(name, value) pairs in the order an RCM lead scans them."""
    return [
        ("Claims submitted", str(kpis.claims_submitted)),
        ("Clean claim rate", _percent(kpis.clean_claim_rate)),
        ("Claims adjudicated", str(kpis.claims_adjudicated)),
        ("First-pass resolution", _percent(kpis.first_pass_resolution_rate)),
        ("Initial denial rate", _percent(kpis.initial_denial_rate)),
        ("Net collection rate", _percent(kpis.net_collection_rate)),
        ("A/R total", f"{kpis.ar_total:,.2f}"),
        ("Days in A/R", "-" if kpis.days_in_ar is None else str(kpis.days_in_ar)),
        ("Collected", f"{kpis.cost_to_collect.collected:,.2f}"),
    ]


def render_table(rows: list[tuple[str, str]]) -> str:
    width = max((len(name) for name, _ in rows), default=0)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def bar_chart(values: Mapping[str, Decimal], *, width: int = 40, unit: str = "") -> str:
    """One bar per label, scaled to the largest value; zero values get an empty bar."""
    largest = max((v for v in values.values() if v > 0), default=Decimal(0))
    label_width = max((len(label) for label in values), default=0)
    lines = []
    for label, value in values.items():
        length = int(value / largest * width) if largest else 0
        if value > 0 and length == 0:
            length = 1  # something, however small, is never drawn as nothing
        lines.append(f"{label.ljust(label_width)} |{'#' * length:<{width}}| {value}{unit}")
    return "\n".join(lines)


def _percent(rate: Decimal | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"
