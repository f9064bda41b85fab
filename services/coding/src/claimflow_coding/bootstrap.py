"""The coding service's composition root."""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial

from claimflow_coding import handlers
from claimflow_coding.domain.coding import load_tables
from claimflow_coding.entrypoints import http
from claimflow_coding.settings import Settings
from claimflow_coding.unit_of_work import SqlCodingUnitOfWork
from claimflow_shared.runtime.consumer import Subscription
from claimflow_shared.runtime.service import Runtime, Service
from claimflow_shared.topics import CODING_QUERY_RAISED, ENCOUNTER_CODED, ENCOUNTER_DOCUMENTED

VERSION = "0.2.0"
log = logging.getLogger("claimflow.coding")


class WarmUp:
    """Loads the coder's tables in a thread at start (about a second of CPU), so neither
    readiness nor the event loop waits for them."""

    name = "warm-up"

    async def run(self) -> None:
        started = time.perf_counter()
        await asyncio.to_thread(load_tables)
        log.info("coding tables loaded", extra={"seconds": round(time.perf_counter() - started, 2)})


def build(settings: Settings | None = None) -> Service:
    settings = settings or Settings()
    runtime = Runtime(settings, version=VERSION)
    uows = runtime.units_of_work(SqlCodingUnitOfWork)
    threshold = settings.auto_code_threshold
    return Service(
        runtime,
        uows,
        subscriptions=[
            Subscription(
                ENCOUNTER_DOCUMENTED,
                partial(handlers.on_encounter_documented, default_threshold=threshold),
                handlers.load_codings,
            ),
        ],
        publishes=[ENCOUNTER_CODED, CODING_QUERY_RAISED],
        routers=[http.router(uows, default_threshold=threshold)],
        background=[WarmUp()] if settings.warm_up else [],
        description="Assigns ICD-10-CM and CPT/HCPCS codes; raises coder queries; the coder "
        "worklist.",
    )
