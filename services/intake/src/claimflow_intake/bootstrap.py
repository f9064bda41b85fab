"""The intake service's composition root."""

from __future__ import annotations

from claimflow_intake.entrypoints import http
from claimflow_intake.settings import Settings
from claimflow_intake.unit_of_work import SqlIntakeUnitOfWork
from claimflow_shared.runtime.service import Runtime, Service
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED

VERSION = "0.1.0"


def build(settings: Settings | None = None) -> Service:
    runtime = Runtime(settings or Settings(), version=VERSION)
    uows = runtime.units_of_work(SqlIntakeUnitOfWork)
    return Service(
        runtime,
        uows,
        publishes=[ENCOUNTER_DOCUMENTED],
        routers=[http.router(uows)],
        description="Accepts documented encounters and publishes encounter.documented.",
    )
