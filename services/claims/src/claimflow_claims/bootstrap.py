"""The claims service's composition root."""

from __future__ import annotations

from claimflow_claims import handlers
from claimflow_claims.adapters.clearinghouse import clearinghouse_from
from claimflow_claims.entrypoints import http
from claimflow_claims.settings import Settings
from claimflow_claims.submission import ClaimSubmitter
from claimflow_claims.unit_of_work import SqlClaimsUnitOfWork
from claimflow_shared.runtime.consumer import Subscription
from claimflow_shared.runtime.service import Runtime, Service
from claimflow_shared.topics import (
    CLAIM_ACCEPTED,
    CLAIM_DENIED,
    CLAIM_HELD,
    CLAIM_REJECTED,
    CLAIM_STATE_CHANGED,
    CLAIM_SUBMITTED,
    DENIAL_WORKED,
    ENCOUNTER_CODED,
    REMITTANCE_RECEIVED,
)

VERSION = "0.2.0"


def build(settings: Settings | None = None) -> Service:
    settings = settings or Settings()
    runtime = Runtime(settings, version=VERSION)
    uows = runtime.units_of_work(SqlClaimsUnitOfWork)
    clearinghouse = clearinghouse_from(settings)
    return Service(
        runtime,
        uows,
        subscriptions=[
            Subscription(ENCOUNTER_CODED, handlers.on_encounter_coded, handlers.load_for_coded),
            Subscription(
                REMITTANCE_RECEIVED, handlers.on_remittance_received, handlers.lock_and_load
            ),
            Subscription(CLAIM_DENIED, handlers.on_claim_denied, handlers.lock_and_load),
            Subscription(
                DENIAL_WORKED, handlers.on_denial_worked, handlers.lock_and_load_with_fees
            ),
        ],
        publishes=[
            CLAIM_SUBMITTED,
            CLAIM_ACCEPTED,
            CLAIM_REJECTED,
            CLAIM_HELD,
            CLAIM_STATE_CHANGED,
        ],
        routers=[http.router(uows)],
        background=[ClaimSubmitter(uows=uows, clearinghouse=clearinghouse, settings=settings)],
        closers=[clearinghouse.close],
        description="Charges, scrubs and submits 837P and 837I claims; follows each claim "
        "through acknowledgments, adjudication, corrections and the next payer.",
    )
