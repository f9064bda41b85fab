"""Intake follows each encounter through the cycle from events on several topics; batches of
different partitions run at once. On the real PostgreSQL: a later stage's event committed
while an earlier stage's batch is still open must not be overwritten by it (the lost update
left a held claim's encounter showing "coded" forever, and `stopped` never came)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from claimflow_intake.adapters.tables import AcceptedEncounter
from claimflow_intake.handlers import (
    RejectionEvent,
    StageEvent,
    load_encounters,
    on_claim_rejected,
    on_encounter_coded,
)
from claimflow_intake.settings import Settings
from claimflow_intake.unit_of_work import SqlIntakeUnitOfWork
from claimflow_shared.events import EventEnvelope
from claimflow_shared.runtime.service import Runtime

pytestmark = pytest.mark.infra

TENANT, ENCOUNTER = "race-tenant", "ERACE0000000000000001"


def _event(event_type: str, at: datetime, payload) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version="1.0",
        tenant_id=TENANT,
        encounter_id=ENCOUNTER,
        occurred_at=at,
        producer="test",
        payload=payload,
    )


async def test_a_later_stage_event_is_not_overwritten_by_an_earlier_one_still_in_flight(
    infra, tmp_path
):
    settings = Settings(
        database_url=infra.database_url("intake_race"),
        data_dir=tmp_path,
        allow_insecure_dev=True,
        mllp_port=0,
    )
    runtime = Runtime(settings, version="test")
    await runtime.db.create_tables()
    uows = runtime.units_of_work(SqlIntakeUnitOfWork)
    documented = datetime.now(UTC) - timedelta(seconds=10)
    try:
        async with uows() as uow:
            uow.encounters.add(
                {
                    "tenant_id": TENANT,
                    "encounter_id": ENCOUNTER,
                    "source_system": "race",
                    "document_id": "doc-1",
                    "fingerprint": "f",
                    "field_prints": {},
                    "status": "accepted",
                    "status_at": documented,
                    "accepted_at": documented,
                    "updated_at": documented,
                }
            )
        coded = _event("encounter.coded", documented + timedelta(seconds=1), StageEvent())
        held = _event(
            "claim.rejected",
            documented + timedelta(seconds=2),
            RejectionEvent(claim_id="C-RACE-1", stage="scrubber"),
        )

        read = asyncio.Event()

        async def coding_batch() -> None:
            async with uows() as uow:
                await load_encounters(uow=uow, events=[coded])
                read.set()
                await asyncio.sleep(1.0)  # the claims stage's batch runs meanwhile
                await on_encounter_coded(uow=uow, event=coded)

        async def claims_batch() -> None:
            await read.wait()
            async with uows() as uow:
                await load_encounters(uow=uow, events=[held])
                await on_claim_rejected(uow=uow, event=held)

        await asyncio.gather(coding_batch(), claims_batch())
        async with uows() as uow:
            row = (
                await uow.session.execute(
                    select(AcceptedEncounter).where(AcceptedEncounter.encounter_id == ENCOUNTER)
                )
            ).scalar_one()
        assert (row.status, row.claim_id) == ("claim-held", "C-RACE-1")
    finally:
        await runtime.db.dispose()
