"""The remittance service's composition root."""

from __future__ import annotations

from claimflow_remittance.adapters.clearinghouse import HttpEraSource
from claimflow_remittance.entrypoints.http import router
from claimflow_remittance.era_download import era_download_loop
from claimflow_remittance.handlers import on_claim_submitted
from claimflow_remittance.settings import Settings
from claimflow_shared.runtime.service import Service
from claimflow_shared.topics import (
    CLAIM_DENIED,
    CLAIM_SUBMITTED,
    PATIENT_BALANCE_DUE,
    REMITTANCE_RECEIVED,
)

VERSION = "0.1.0"


def build(settings: Settings | None = None) -> Service:
    settings = settings or Settings()
    return Service(
        settings=settings,
        version=VERSION,
        consumes={CLAIM_SUBMITTED: on_claim_submitted},
        publishes=[REMITTANCE_RECEIVED, CLAIM_DENIED, PATIENT_BALANCE_DUE],
        routers=[router],
        background=[era_download_loop],
        state={"era_source": HttpEraSource(settings.clearinghouse_url)},
        description="Downloads and posts 835 remittances; categorises denials.",
    )
