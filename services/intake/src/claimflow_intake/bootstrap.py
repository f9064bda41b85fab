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
    # Each is read as a small view: intake needs the outcome, not the whole claim or payment.
    follow = [
        (ENCOUNTER_CODED, handlers.on_encounter_coded, handlers.StageEvent),
        (CODING_QUERY_RAISED, handlers.on_coding_query_raised, handlers.StageEvent),
        (CLAIM_SUBMITTED, handlers.on_claim_submitted, handlers.ClaimEvent),
        (CLAIM_REJECTED, handlers.on_claim_rejected, handlers.RejectionEvent),
        (REMITTANCE_RECEIVED, handlers.on_remittance_received, handlers.PaymentEvent),
    ]
    return Service(
        runtime,
        uows,
        subscriptions=[
            Subscription(topic, handle, handlers.load_encounters, view=view)
            for topic, handle, view in follow
        ],
        publishes=[ENCOUNTER_DOCUMENTED],
        routers=[http.router(uows, settings=settings, bulk=bulk), admin.router(uows)],
        background=background,
        # Files and bundles are larger than a request; each route also checks its own limit.
        body_limits={
            "/v1/bulk": settings.bulk_max_bytes,
            "/v1/fhir": settings.fhir_max_bytes,
            "/v1/encounters": settings.json_max_bytes,
        },
        description=(
            "Accepts documented encounters (JSON, FHIR R4, HL7 v2 over MLLP and HTTP, bulk "
            "NDJSON/CSV) against each tenant's master data and publishes encounter.documented; "
            "follows each encounter through the other stages' events."
        ),
    )
