"""Read models over the KPI projection: a tenant's KPIs, overall and per payer."""

from __future__ import annotations

from datetime import date

from claimflow_remittance.domain.kpis import Kpis, compute_kpis, kpis_by_payer
from claimflow_remittance.unit_of_work import RemittanceUnitOfWork


async def tenant_kpis(
    uow: RemittanceUnitOfWork,
    *,
    tenant_id: str,
    period_start: date,
    period_end: date,
    as_of: date | None = None,
    payer_id: str | None = None,
    by_payer: bool = False,
) -> dict[str | None, Kpis]:
    """The KPIs of claims first submitted in the period, as of a day: overall (key None),
    for one payer, or overall and per payer."""
    as_of = as_of or period_end
    facts = await uow.kpis.facts(tenant_id, until=as_of)
    window = {"period_start": period_start, "period_end": period_end, "as_of": as_of}
    if by_payer:
        return kpis_by_payer(facts, tenant_id=tenant_id, **window)
    return {payer_id: compute_kpis(facts, tenant_id=tenant_id, payer_id=payer_id, **window)}
