"""The claims service's composition root."""

from __future__ import annotations

from claimflow_claims.adapters.clearinghouse import HttpClearinghouse
from claimflow_claims.entrypoints.http import router
from claimflow_claims.handlers import on_encounter_coded, on_remittance_received
from claimflow_claims.settings import Settings
from claimflow_claims.submission import submitter_loop
from claimflow_shared.runtime.service import Service
from claimflow_shared.topics import (
    CLAIM_REJECTED,
    CLAIM_SUBMITTED,
    ENCOUNTER_CODED,
    REMITTANCE_RECEIVED,
)

VERSION = "0.1.0"


def build(settings: Settings | None = None) -> Service:
    settings = settings or Settings()
    return Service(
        settings=settings,
        version=VERSION,
        consumes={
            ENCOUNTER_CODED: on_encounter_coded,
            REMITTANCE_RECEIVED: on_remittance_received,
        },
        publishes=[CLAIM_SUBMITTED, CLAIM_REJECTED],
        routers=[router],
        background=[submitter_loop],
        state={"clearinghouse": HttpClearinghouse(settings.clearinghouse_url)},
        description="Prices, scrubs and submits 837P claims; follows each claim's state.",
    )
