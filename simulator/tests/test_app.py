import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from claimflow_shared.x12 import read_segments
from payer_simulator.app import create_app
from payer_simulator.settings import SimulatorSettings

X12 = {"Content-Type": "application/edi-x12"}


def settings_for(data_dir: Path, **overrides) -> SimulatorSettings:
    # A long interval keeps the background batcher out of the way; tests flush explicitly.
    values = {"data_dir": data_dir, "batch_interval_s": 3600.0, "seed": 42, **overrides}
    return SimulatorSettings(**values)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://simulator"
        ) as client,
    ):
        yield client


async def submit(client: httpx.AsyncClient, text: str) -> dict:
    response = await client.post("/v1/submissions", content=text, headers=X12)
    assert response.status_code == 200, response.text
    return response.json()


async def all_remittances(client: httpx.AsyncClient) -> list[dict]:
    response = await client.get("/v1/remittances", params={"after": 0, "limit": 1000})
    assert response.status_code == 200
    return response.json()["files"]


def remitted_claim_ids(files: list[dict]) -> Counter:
    return Counter(
        seg.el(1) for f in files for seg in read_segments(f["content"]) if seg.id == "CLP"
    )


async def test_accepted_submission_answers_with_999_and_277ca(tmp_path, make, pyx12_check):
    text = make.x837([make.spec("A-1"), make.spec("A-2")], interchange_control_number=77)

    async with running(create_app(settings_for(tmp_path))) as client:
        body = await submit(client, text)

    assert body["accepted"] is True
    assert body["claims"] == [
        {"claim_id": "A-1", "status": "accepted", "reason": None},
        {"claim_id": "A-2", "status": "accepted", "reason": None},
    ]
    assert "AK1*HC*77*005010X222A1~" in body["ack_999"]
    assert "AK9*A*1*1*1~" in body["ack_999"]
    for ack in (body["ack_999"], body["ack_277ca"]):
        verdict = pyx12_check(ack)
        assert verdict.ok, verdict.explain()
    assert body["ack_277ca"].count("STC*A2:20*") == 2


async def test_flushed_claims_come_back_as_balanced_835s_in_sequence(
    tmp_path, make, pyx12_check, balance_errors
):
    specs = [make.spec(f"F-{i}") for i in range(4)]
    specs += [make.spec("F-OTHER-NPI", billing_npi=make.other_clinic_npi)]
    specs += [make.spec("F-OTHER-PAYER", payer_id="SIMPAYER2")]

    async with running(create_app(settings_for(tmp_path))) as client:
        await submit(client, make.x837(specs))
        flushed = (await client.post("/v1/remittances/flush")).json()
        files = await all_remittances(client)
        page = (await client.get("/v1/remittances", params={"after": 1, "limit": 1})).json()
        empty = (await client.get("/v1/remittances", params={"after": 3})).json()

    assert flushed == {"created": [1, 2, 3]}
    assert [f["seq"] for f in files] == [1, 2, 3]
    assert remitted_claim_ids(files) == Counter(s.claim_id for s in specs)
    assert [f["seq"] for f in page["files"]] == [2] and page["last_seq"] == 2
    assert empty == {"files": [], "last_seq": 3}
    for f in files:
        assert f["file_name"].endswith(".835")
        assert balance_errors(f["content"]) == []
        verdict = pyx12_check(f["content"])
        assert verdict.ok, verdict.explain()


async def test_background_batcher_writes_835s_on_its_own(tmp_path, make):
    app = create_app(settings_for(tmp_path, batch_interval_s=0.05))

    async with running(app) as client:
        await submit(client, make.x837([make.spec("BG-1"), make.spec("BG-2")]))
        for _ in range(100):
            files = await all_remittances(client)
            if files:
                break
            await asyncio.sleep(0.05)

    assert remitted_claim_ids(files) == Counter({"BG-1": 1, "BG-2": 1})


async def test_max_claims_per_835_splits_a_payees_claims_over_several_files(tmp_path, make):
    app = create_app(settings_for(tmp_path, max_claims_per_835=2))

    async with running(app) as client:
        await submit(client, make.x837([make.spec(f"M-{i}") for i in range(5)]))
        await client.post("/v1/remittances/flush")
        files = await all_remittances(client)

    assert [sum(remitted_claim_ids([f]).values()) for f in files] == [2, 2, 1]


async def test_repeated_submission_gets_the_original_999_and_is_adjudicated_once(tmp_path, make):
    text = make.x837([make.spec("D-1"), make.spec("D-2")])

    async with running(create_app(settings_for(tmp_path))) as client:
        first = await submit(client, text)
        await client.post("/v1/remittances/flush")
        second = await submit(client, text)
        await client.post("/v1/remittances/flush")
        files = await all_remittances(client)
        stats = (await client.get("/v1/stats")).json()

    assert second["submission_id"] == first["submission_id"]
    assert second["ack_999"] == first["ack_999"]
    assert [c["status"] for c in second["claims"]] == ["duplicate", "duplicate"]
    assert remitted_claim_ids(files) == Counter({"D-1": 1, "D-2": 1})
    assert stats["claims_adjudicated"] == 2 and stats["duplicates"] == 2
    assert stats["submissions"] == 1


async def test_a_file_mixing_new_and_known_claims_queues_only_the_new_ones(tmp_path, make):
    async with running(create_app(settings_for(tmp_path))) as client:
        first = await submit(client, make.x837([make.spec("K-1")], interchange_control_number=1))
        mixed = await submit(
            client,
            make.x837([make.spec("K-1"), make.spec("K-2")], interchange_control_number=2),
        )
        await client.post("/v1/remittances/flush")
        files = await all_remittances(client)

    assert mixed["submission_id"] != first["submission_id"]
    assert "AK1*HC*2*" in mixed["ack_999"]
    assert [c["status"] for c in mixed["claims"]] == ["duplicate", "accepted"]
    assert remitted_claim_ids(files) == Counter({"K-1": 1, "K-2": 1})


async def test_malformed_837_is_rejected_by_a_999_and_not_adjudicated(tmp_path, make, pyx12_check):
    text = make.x837([make.spec("BAD-1", charges=("12.x0",), total="12.x0")])

    async with running(create_app(settings_for(tmp_path))) as client:
        body = await submit(client, text)
        await client.post("/v1/remittances/flush")
        files = await all_remittances(client)
        stats = (await client.get("/v1/stats")).json()

    assert body["accepted"] is False
    assert "IK5*R*5~" in body["ack_999"] and "AK9*R*1*1*0~" in body["ack_999"]
    assert body["ack_277ca"] is None
    assert body["claims"][0]["status"] == "rejected"
    verdict = pyx12_check(body["ack_999"])
    assert verdict.ok, verdict.explain()
    assert files == [] and stats["claims_adjudicated"] == 0


async def test_claim_failing_a_front_end_edit_is_rejected_on_the_277ca_and_can_be_resent(
    tmp_path, make
):
    bad_npi = make.clinic_npi[:-1] + str((int(make.clinic_npi[-1]) + 1) % 10)

    async with running(create_app(settings_for(tmp_path))) as client:
        rejected = await submit(client, make.x837([make.spec("E-1", billing_npi=bad_npi)]))
        corrected = await submit(
            client, make.x837([make.spec("E-1")], interchange_control_number=2)
        )

    assert rejected["accepted"] is True  # the 999 accepts the syntax
    assert rejected["claims"][0]["status"] == "rejected"
    assert "NPI" in rejected["claims"][0]["reason"]
    assert "STC*A7:562:85*" in rejected["ack_277ca"]
    assert corrected["claims"][0]["status"] == "accepted"


async def test_body_that_is_not_x12_gets_422_with_a_reason(tmp_path):
    async with running(create_app(settings_for(tmp_path))) as client:
        prose = await client.post("/v1/submissions", content="hello there", headers=X12)
        empty = await client.post("/v1/submissions", content="", headers=X12)
        binary = await client.post("/v1/submissions", content=b"\xff\xfe\x00", headers=X12)
        json_body = await client.post("/v1/submissions", json={"claim": 1})

    assert prose.status_code == 422 and "not an X12 837" in prose.json()["detail"]
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    assert binary.status_code == 422
    assert json_body.status_code == 415


async def test_stats_count_claims_dollars_and_files(tmp_path, make):
    specs = [make.spec(f"S-{i}", charges=("100.00",), member_id=f"M{i}") for i in range(10)]

    async with running(create_app(settings_for(tmp_path, denial_rate=0.5))) as client:
        await submit(client, make.x837(specs))
        await submit(client, make.x837(specs[:3], interchange_control_number=2))
        await client.post("/v1/remittances/flush")
        stats = (await client.get("/v1/stats")).json()

    assert stats["claims_received"] == 13
    assert stats["duplicates"] == 3
    assert stats["claims_adjudicated"] == 10
    assert stats["claims_paid"] + stats["claims_denied"] == 10
    assert 0 < stats["claims_denied"] < 10
    assert stats["billed"] == "1000.00"
    assert 0 < float(stats["paid"]) < 1000
    assert stats["remittance_files"] == 1 and stats["claims_queued"] == 0


async def test_health_reports_live_and_ready_only_once_started(tmp_path):
    app = create_app(settings_for(tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulator") as cold:
        assert (await cold.get("/health/live")).status_code == 200
        assert (await cold.get("/health/ready")).status_code == 503

    async with running(app) as client:
        ready = await client.get("/health/ready")

    assert ready.status_code == 200
    assert ready.json()["checks"] == {"store": True, "batcher": True}


async def test_a_restarted_simulator_keeps_its_835s_and_its_memory_of_claims(tmp_path, make):
    text = make.x837([make.spec("R-1"), make.spec("R-2")])

    async with running(create_app(settings_for(tmp_path))) as client:
        first = await submit(client, text)
        await client.post("/v1/remittances/flush")
        before = await all_remittances(client)

    async with running(create_app(settings_for(tmp_path))) as client:
        after = await all_remittances(client)
        again = await submit(client, text)
        stats = (await client.get("/v1/stats")).json()

    assert after == before and len(after) == 1
    assert again["submission_id"] == first["submission_id"]
    assert again["ack_999"] == first["ack_999"]
    assert stats["claims_adjudicated"] == 2


async def test_claims_queued_at_shutdown_are_remitted_after_a_restart(tmp_path, make):
    async with running(create_app(settings_for(tmp_path))) as client:
        await submit(client, make.x837([make.spec("Q-1")]))
        assert (await client.get("/v1/stats")).json()["claims_queued"] == 1

    async with running(create_app(settings_for(tmp_path, batch_interval_s=0.05))) as client:
        for _ in range(100):
            files = await all_remittances(client)
            if files:
                break
            await asyncio.sleep(0.05)

    assert remitted_claim_ids(files) == Counter({"Q-1": 1})


async def test_new_control_numbers_never_repeat_across_a_restart(tmp_path, make):
    control_numbers = []
    for icn in (1, 2):
        async with running(create_app(settings_for(tmp_path))) as client:
            body = await submit(
                client, make.x837([make.spec(f"N-{icn}")], interchange_control_number=icn)
            )
        isa = next(read_segments(body["ack_999"]))
        control_numbers.append(isa.el(13))

    assert len(set(control_numbers)) == 2


async def test_a_claim_id_repeated_inside_one_file_is_adjudicated_once(tmp_path, make):
    async with running(create_app(settings_for(tmp_path))) as client:
        body = await submit(client, make.x837([make.spec("W-1"), make.spec("W-1")]))
        await client.post("/v1/remittances/flush")
        files = await all_remittances(client)

    assert [c["status"] for c in body["claims"]] == ["accepted", "duplicate"]
    assert remitted_claim_ids(files) == Counter({"W-1": 1})


async def test_reprocessed_claims_come_back_reversed_in_a_later_remittance_file(
    tmp_path, make, pyx12_check, balance_errors
):
    settings = settings_for(tmp_path, reversal_rate=1.0, denial_rate=0.0, line_denial_rate=0.0)
    specs = [make.spec(f"RV-{i}", member_id=f"M{i}") for i in range(3)]

    async with running(create_app(settings)) as client:
        await submit(client, make.x837(specs))
        first = (await client.post("/v1/remittances/flush")).json()
        second = (await client.post("/v1/remittances/flush")).json()
        files = await all_remittances(client)
        stats = (await client.get("/v1/stats")).json()

    assert first == {"created": [1]} and second == {"created": [2]}
    statuses = [
        [seg.el(2) for seg in read_segments(f["content"]) if seg.id == "CLP"] for f in files
    ]
    paid_claims = sum(s == "1" for s in statuses[0])
    reversals = sum(s == "22" for s in statuses[1])
    assert paid_claims == 3 and reversals == stats["claims_reprocessed"] > 0
    for f in files:
        assert balance_errors(f["content"]) == []
        verdict = pyx12_check(f["content"])
        assert verdict.ok, verdict.explain()
    assert stats["claims_queued"] == 0
