"""The remittance service's composition root."""

from __future__ import annotations

from claimflow_remittance import handlers
from claimflow_remittance.adapters.clearinghouse import HttpEraSource
from claimflow_remittance.entrypoints import http
from claimflow_remittance.era_download import EraDownload
from claimflow_remittance.settings import Settings
from claimflow_remittance.unit_of_work import SqlRemittanceUnitOfWork
from claimflow_shared.runtime.consumer import Subscription
from claimflow_shared.runtime.service import Runtime, Service
from claimflow_shared.topics import (
    CLAIM_DENIED,
    CLAIM_REJECTED,
    CLAIM_SUBMITTED,
    DENIAL_WORKED,
    PATIENT_BALANCE_DUE,
    REMITTANCE_RECEIVED,
)

VERSION = "0.2.0"


def build(settings: Settings | None = None) -> Service:
    settings = settings or Settings()
    runtime = Runtime(settings, version=VERSION)
    uows = runtime.units_of_work(SqlRemittanceUnitOfWork)
    era_source = HttpEraSource(settings.clearinghouse_url)
    return Service(
        runtime,
        uows,
        subscriptions=[
            Subscription(CLAIM_SUBMITTED, handlers.on_claim_submitted, handlers.load_submitted),
            Subscription(CLAIM_REJECTED, handlers.on_claim_rejected, handlers.load_rejected),
        ],
        publishes=[REMITTANCE_RECEIVED, CLAIM_DENIED, PATIENT_BALANCE_DUE, DENIAL_WORKED],
        routers=[http.router(uows, settings)],
        # 835 uploads may be larger than the kit's default request body limit.
        body_limits={"/v1/remittances": settings.max_upload_bytes},
        background=[EraDownload(uows=uows, source=era_source, settings=settings)],
        closers=[era_source.close],
        description="Downloads and posts 835 remittances; works denials, patient balances, KPIs.",
    )
