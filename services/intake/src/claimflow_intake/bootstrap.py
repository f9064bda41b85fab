"""The intake service's composition root."""

from __future__ import annotations

from claimflow_intake.entrypoints.http import router
from claimflow_intake.settings import Settings
from claimflow_shared.runtime.service import Service
from claimflow_shared.topics import ENCOUNTER_DOCUMENTED

VERSION = "0.1.0"


def build(settings: Settings | None = None) -> Service:
    return Service(
        settings=settings or Settings(),
        version=VERSION,
        publishes=[ENCOUNTER_DOCUMENTED],
        routers=[router],
        description="Accepts documented encounters and publishes encounter.documented.",
    )
