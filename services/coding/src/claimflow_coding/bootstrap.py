"""The coding service's composition root."""

from __future__ import annotations

from claimflow_coding.entrypoints.http import router
from claimflow_coding.handlers import on_encounter_documented
from claimflow_coding.settings import Settings
from claimflow_shared.runtime.service import Service
from claimflow_shared.topics import CODING_QUERY_RAISED, ENCOUNTER_CODED, ENCOUNTER_DOCUMENTED

VERSION = "0.1.0"


def build(settings: Settings | None = None) -> Service:
    return Service(
        settings=settings or Settings(),
        version=VERSION,
        consumes={ENCOUNTER_DOCUMENTED: on_encounter_documented},
        publishes=[ENCOUNTER_CODED, CODING_QUERY_RAISED],
        routers=[router],
        description="Assigns ICD-10-CM and CPT/HCPCS codes; raises coder queries.",
    )
