"""The intake service's composition root."""

from __future__ import annotations

from claimflow_intake import handlers
from claimflow_intake.bulk_jobs import BulkIngest
from claimflow_intake.entrypoints import admin, http
from claimflow_intake.entrypoints.mllp import MllpListener
from claimflow_intake.settings import Settings
from claimflow_intake.unit_of_work import SqlIntakeUnitOfWork
from claimflow_shared.runtime.consumer import Subscription
from claimflow_shared.runtime.service import Runtime, Service
from claimflow_shared.topics import (
    CLAIM_REJECTED,
    CLAIM_SUBMITTED,
    CODING_QUERY_RAISED,
    ENCOUNTER_CODED,
    ENCOUNTER_DOCUMENTED,
    REMITTANCE_RECEIVED,
)

VERSION = "0.2.0"


def build(settings: Settings | None = None) -> Service:
    settings = settings or Settings()
    runtime = Runtime(settings, version=VERSION)
    uows = runtime.units_of_work(SqlIntakeUnitOfWork)
    bulk = BulkIngest(uows=uows, settings=settings)
    background = [bulk]
    if settings.mllp_port:
        background.append(MllpListener(uows=uows, settings=settings))
    # Where each encounter stands across the cycle, from the stages' own events.
    follow = [
        (ENCOUNTER_CODED, handlers.on_encounter_coded),
        (CODING_QUERY_RAISED, handlers.on_coding_query_raised),
        (CLAIM_SUBMITTED, handlers.on_claim_submitted),
        (CLAIM_REJECTED, handlers.on_claim_rejected),
        (REMITTANCE_RECEIVED, handlers.on_remittance_received),
    ]
    return Service(
        runtime,
        uows,
        subscriptions=[Subscription(t, h, handlers.load_encounters) for t, h in follow],
        publishes=[ENCOUNTER_DOCUMENTED],
        routers=[http.router(uows, settings=settings, bulk=bulk), admin.router(uows)],
        background=background,
        description=(
            "Accepts documented encounters (JSON, FHIR R4, HL7 v2 over MLLP and HTTP, bulk "
            "NDJSON/CSV) against each tenant's master data and publishes encounter.documented; "
            "follows each encounter through the other stages' events."
        ),
    )
