"""The simulator's file-drop clearinghouse answers the claims service's file-drop adapter."""

from datetime import UTC, datetime

import pytest

from claimflow_claims.adapters.filedrop import AcknowledgmentPending, FileDropClearinghouse
from payer_simulator.clearinghouse import answer_file_drop
from payer_simulator.settings import SimulatorSettings
from payer_simulator.store import Store
from simulator.tests.conftest import ClaimSpec, build_837


async def test_an_837_dropped_by_claims_is_answered_with_999_and_277ca(tmp_path):
    settings = SimulatorSettings(data_dir=tmp_path / "sim", seed=7)
    store = Store(settings.database_path)
    drop = FileDropClearinghouse(outbox=tmp_path / "out", inbox=tmp_path / "in")
    served = "20250105"  # before the fixed clock below, so both claims are accepted
    content = build_837(
        [ClaimSpec("CLM-1", service_date=served), ClaimSpec("CLM-2", service_date=served)]
    )
    with pytest.raises(AcknowledgmentPending):
        await drop.submit(file_name="837P-000000101.x12", content=content)
    now = datetime(2025, 1, 20, tzinfo=UTC)
    answered = answer_file_drop(
        store=store, settings=settings, pickup=drop.outbox, dropoff=drop.inbox, now=now
    )
    assert answered == ["837P-000000101.x12"]
    receipt = await drop.submit(file_name="837P-000000101.x12", content=content)
    assert "ST*999" in receipt.ack_999 and "AK9*A*1*1*1" in receipt.ack_999
    assert receipt.ack_277ca and "TRN*2*CLM-1" in receipt.ack_277ca
    assert receipt.ack_277ca.count("STC*A2:20*") == 2
    assert (
        answer_file_drop(
            store=store, settings=settings, pickup=drop.outbox, dropoff=drop.inbox, now=now
        )
        == []
    )
    store.close()
