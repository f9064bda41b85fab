"""End-to-end benchmark: encounters per second from intake to posted remittance, latency
percentiles and peak memory per service, against a baseline measured in the same run:
the same number of same-sized messages relayed through four plain aiokafka consume→produce
hops doing no work. Machines here are shared and noisy, so read the ratio, not the rates.

    uv run python bench/run.py --encounters 1000 --tenants 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from claimflow_cli.synthetic import encounter
from claimflow_local.stack import SERVICES, Stack, free_port, start_infrastructure

HOPS = 4


def _hop(bootstrap: str, source: str, target: str, group: str) -> None:
    async def relay() -> None:
        consumer = AIOKafkaConsumer(
            source, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest"
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
        )
        await consumer.start()
        await producer.start()
        try:
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for r in records:
                        await producer.send(target, value=r.value, key=r.key)
                    await producer.flush()
                    await consumer.commit()
        finally:
            await producer.stop()
            await consumer.stop()

    asyncio.run(relay())


async def baseline(bootstrap: str, count: int, payload: bytes, partitions: int) -> dict:
    run = uuid.uuid4().hex[:6]
    topics = [f"bench.{run}.hop{i}" for i in range(HOPS + 1)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    await admin.close()
    ctx = multiprocessing.get_context("spawn")
    hops = [
        ctx.Process(
            target=_hop, args=(bootstrap, topics[i], topics[i + 1], f"bench-{run}-{i}"), daemon=True
        )
        for i in range(HOPS)
    ]
    for p in hops:
        p.start()
    sink = AIOKafkaConsumer(
        topics[-1],
        bootstrap_servers=bootstrap,
        group_id=f"sink-{run}",
        auto_offset_reset="earliest",
    )
    await sink.start()
    await asyncio.sleep(5)  # let every hop join its group before the clock starts
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    started = time.perf_counter()
    sent_at = {}
    for n in range(count):
        key = f"t{n % 4}:e{n}".encode()
        sent_at[key] = time.perf_counter()
        await producer.send(topics[0], value=payload, key=key)
    await producer.flush()
    latencies = []
    while len(latencies) < count:
        for records in (await sink.getmany(timeout_ms=1000)).values():
            now = time.perf_counter()
            latencies += [now - sent_at[r.key] for r in records if r.key in sent_at]
    elapsed = time.perf_counter() - started
    await producer.stop()
    await sink.stop()
    for p in hops:
        p.terminate()
        p.join(5)
    return {"eps": count / elapsed, "elapsed_s": elapsed, **_percentiles(latencies)}


def _percentiles(seconds: list[float]) -> dict:
    ms = sorted(s * 1000 for s in seconds)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50_ms": q[49], "p99_ms": q[98]}


def _rss_mb(pid: int | None) -> float | None:
    """Peak resident set size (VmHWM) of a process, in MiB."""
    if not pid:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


async def pipeline(stack: Stack, count: int, tenants: int) -> dict:
    names = [f"bench{uuid.uuid4().hex[:6]}-t{i + 1:02d}" for i in range(tenants)]
    bodies = {t: [encounter(t, n) for n in range(i, count, tenants)] for i, t in enumerate(names)}
    intake = stack.process("intake").url
    remittance = stack.process("remittance").url
    async with httpx.AsyncClient(timeout=120) as client:
        started = time.perf_counter()

        async def send(tenant: str) -> None:
            for start in range(0, len(bodies[tenant]), 100):
                response = await client.post(
                    f"{intake}/v1/encounters/batch",
                    headers={"X-Tenant-ID": tenant},
                    json={"encounters": bodies[tenant][start : start + 100]},
                )
                response.raise_for_status()

        await asyncio.gather(*(send(t) for t in names))
        posted: list[dict] = []
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            counts = [
                (await client.get(f"{remittance}/v1/summary", headers={"X-Tenant-ID": t})).json()[
                    "posted"
                ]
                for t in names
            ]
            if sum(counts) >= count:
                break
            await asyncio.sleep(0.25)
        elapsed = time.perf_counter() - started
        accepted = {}
        for t in names:
            for row in (
                await client.get(f"{intake}/v1/encounters", headers={"X-Tenant-ID": t})
            ).json():
                accepted[row["encounter_id"]] = datetime.fromisoformat(row["accepted_at"])
            posted += (
                await client.get(f"{remittance}/v1/postings", headers={"X-Tenant-ID": t})
            ).json()
    latencies = [
        (
            datetime.fromisoformat(p["posted_at"]) - _aware(accepted[p["encounter_id"]])
        ).total_seconds()
        for p in posted
        if p["encounter_id"] in accepted
    ]
    return {
        "eps": len(posted) / elapsed,
        "elapsed_s": elapsed,
        "posted": len(posted),
        **_percentiles(latencies),
    }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.astimezone()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encounters", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="claimflow-bench-"))
    infra = start_infrastructure(home / "infra")
    stack = Stack(
        home=home,
        kafka_bootstrap=infra.kafka_bootstrap,
        database_urls={name: infra.database_url(name) for name in SERVICES},
        ports={name: free_port() for name in (*SERVICES, "simulator")},
        extra_env={"KAFKA_PARTITIONS": str(args.partitions)},
    )
    try:
        print(f"starting the stack in {home} ...", file=sys.stderr)
        stack.start()
        size = len(json.dumps({"payload": encounter("bench", 0)}).encode()) + 400
        print(
            f"baseline: {args.encounters} messages of {size} bytes through {HOPS} plain "
            "aiokafka hops ...",
            file=sys.stderr,
        )
        base = asyncio.run(
            baseline(infra.kafka_bootstrap, args.encounters, b"x" * size, args.partitions)
        )
        print(
            f"pipeline: {args.encounters} encounters across {args.tenants} tenants ...",
            file=sys.stderr,
        )
        pipe = asyncio.run(pipeline(stack, args.encounters, args.tenants))
        rss = {p.name: _rss_mb(p.pid) for p in stack.processes()}
    finally:
        stack.stop()
        infra.stop()
        shutil.rmtree(home, ignore_errors=True)
    ratio = pipe["eps"] / base["eps"]
    print(f"\n{'':<10}{'enc/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'elapsed s':>12}")
    for name, r in (("baseline", base), ("pipeline", pipe)):
        print(
            f"{name:<10}{r['eps']:>10.1f}{r['p50_ms']:>10.0f}{r['p99_ms']:>10.0f}"
            f"{r['elapsed_s']:>12.1f}"
        )
    print(f"ratio pipeline/baseline: {ratio:.3f}")
    print("peak RSS MiB: " + ", ".join(f"{k} {v}" for k, v in rss.items()))
    print(
        json.dumps(
            {
                "encounters": args.encounters,
                "tenants": args.tenants,
                "pipeline_eps": round(pipe["eps"], 2),
                "baseline_eps": round(base["eps"], 2),
                "ratio": round(ratio, 4),
                "p50_ms": round(pipe["p50_ms"], 1),
                "p99_ms": round(pipe["p99_ms"], 1),
                "baseline_p50_ms": round(base["p50_ms"], 1),
                "baseline_p99_ms": round(base["p99_ms"], 1),
                "peak_rss_mb": rss,
                "posted": pipe["posted"],
            }
        )
    )


if __name__ == "__main__":
    main()
