"""The claims service's composition root."""

from __future__ import annotations

from claimflow_claims import handlers
from claimflow_claims.adapters.clearinghouse import HttpClearinghouse
from claimflow_claims.entrypoints import http
from claimflow_claims.settings import Settings
from claimflow_claims.submission import ClaimSubmitter
from claimflow_claims.unit_of_work import SqlClaimsUnitOfWork
from claimflow_shared.runtime.consumer import Subscription
from claimflow_shared.runtime.service import Runtime, Service
from claimflow_shared.topics import (
    CLAIM_REJECTED,
    CLAIM_SUBMITTED,
    ENCOUNTER_CODED,
    REMITTANCE_RECEIVED,
)

VERSION = "0.1.0"


def build(settings: Settings | None = None) -> Service:
    settings = settings or Settings()
    runtime = Runtime(settings, version=VERSION)
    uows = runtime.units_of_work(SqlClaimsUnitOfWork)
    clearinghouse = HttpClearinghouse(settings.clearinghouse_url)
    return Service(
        runtime,
        uows,
        subscriptions=[
            Subscription(
                ENCOUNTER_CODED, handlers.on_encounter_coded, handlers.load_claims_for_encounters
            ),
            Subscription(
                REMITTANCE_RECEIVED, handlers.on_remittance_received, handlers.load_claims
            ),
        ],
        publishes=[CLAIM_SUBMITTED, CLAIM_REJECTED],
        routers=[http.router(uows)],
        background=[ClaimSubmitter(uows=uows, clearinghouse=clearinghouse, settings=settings)],
        closers=[clearinghouse.close],
        description="Prices, scrubs and submits 837P claims; follows each claim's state.",
    )
