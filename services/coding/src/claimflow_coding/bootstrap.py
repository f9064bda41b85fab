"""The coding service's composition root."""

from __future__ import annotations

from claimflow_coding import handlers
from claimflow_coding.entrypoints import http
from claimflow_coding.settings import Settings
from claimflow_coding.unit_of_work import SqlCodingUnitOfWork
from claimflow_shared.runtime.consumer import Subscription
from claimflow_shared.runtime.service import Runtime, Service
from claimflow_shared.topics import CODING_QUERY_RAISED, ENCOUNTER_CODED, ENCOUNTER_DOCUMENTED

VERSION = "0.1.0"


def build(settings: Settings | None = None) -> Service:
    runtime = Runtime(settings or Settings(), version=VERSION)
    uows = runtime.units_of_work(SqlCodingUnitOfWork)
    return Service(
        runtime,
        uows,
        subscriptions=[
            Subscription(
                ENCOUNTER_DOCUMENTED, handlers.on_encounter_documented, handlers.load_codings
            ),
        ],
        publishes=[ENCOUNTER_CODED, CODING_QUERY_RAISED],
        routers=[http.router(uows)],
        description="Assigns ICD-10-CM and CPT/HCPCS codes; raises coder queries.",
    )
