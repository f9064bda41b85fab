"""End-to-end benchmark of the revenue cycle: what it costs and how fast it goes.

Measured in one run, on one machine, against a baseline of the same run (these machines are
shared and noisy, so read the ratios, not the rates):
- a burst of N encounters (default 10,000) from intake to posted remittance: encounters/s,
  p50/p99 latency, and CPU milliseconds per encounter of every process (the four stages, the
  payer simulator, Kafka and PostgreSQL, read from /proc), and their sum;
- an open-loop run paced at half the burst rate: p50/p99 latency when the system keeps up;
- the baseline: as many same-sized messages through four plain aiokafka consume->produce
  hops doing no work (rate, latency and CPU per message);
- replicas 1 -> 2 -> 4 of the busiest stage. On 2 cores this shows that replicas share the
  work correctly and what a replica costs, not linear speed-up;
- peak RSS of every process.
It ends with one JSON line for scripts.

    make bench ARGS='--encounters 10000'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
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
from claimflow_local.stack import (
    SERVICES,
    Infrastructure,
    Stack,
    free_port,
    service_of,
    start_infrastructure,
)

HOPS = 4
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- CPU and memory from /proc --------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from 3 (state) on


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def cpu_seconds(pid: int, *, with_children: bool = False) -> float:
    """User + system CPU of a process; with its live descendants and reaped children too."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if with_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: children that exited
        return ticks / CLOCK_TICKS + sum(
            cpu_seconds(child, with_children=True) for child in _children(pid)
        )
    return ticks / CLOCK_TICKS


def peak_rss_mb(pid: int | None) -> float | None:
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


class CpuMeter:
    """CPU seconds per group of processes: each stage (all its replicas), the simulator,
    Kafka and PostgreSQL (the postmaster with every backend)."""

    def __init__(self, stack: Stack, infra: Infrastructure) -> None:
        self.stack = stack
        self.infra = infra

    def read(self) -> dict[str, float]:
        groups: dict[str, float] = {}
        for process in self.stack.processes():
            if process.pid:
                name = service_of(process.name)
                groups[name] = groups.get(name, 0.0) + cpu_seconds(process.pid)
        if self.infra.broker and self.infra.broker.pid:
            groups["kafka"] = cpu_seconds(self.infra.broker.pid, with_children=True)
        if self.infra.postgres and (pid := _postmaster(self.infra)) is not None:
            groups["postgres"] = cpu_seconds(pid, with_children=True)
        return groups

    @staticmethod
    def per_item(before: dict[str, float], after: dict[str, float], items: int) -> dict:
        ms = {
            name: round((after.get(name, 0.0) - before.get(name, 0.0)) * 1000 / items, 3)
            for name in after
        }
        return ms | {"total": round(sum(ms.values()), 3)}


def _postmaster(infra: Infrastructure) -> int | None:
    pid_file = infra.postgres.data / "postmaster.pid" if infra.postgres else None
    if pid_file is None or not pid_file.exists():
        return None
    return int(pid_file.read_text().splitlines()[0])


def _percentiles(seconds: list[float]) -> dict:
    if len(seconds) < 2:
        return {"p50_ms": None, "p99_ms": None}
    ms = sorted(s * 1000 for s in seconds)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50_ms": round(q[49], 1), "p99_ms": round(q[98], 1)}


# -- the baseline: plain aiokafka hops -------------------------------------------------------


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


async def baseline(
    bootstrap: str, count: int, payload: bytes, partitions: int, meter: CpuMeter
) -> dict:
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

    def cpu() -> float:
        return sum(cpu_seconds(p.pid) for p in hops if p.pid) + meter.read().get("kafka", 0.0)

    cpu_before = cpu()
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
    cpu_ms = (cpu() - cpu_before) * 1000 / count
    await producer.stop()
    await sink.stop()
    for p in hops:
        p.terminate()
        p.join(5)
    return {
        "eps": count / elapsed,
        "elapsed_s": elapsed,
        "cpu_ms_per_message": round(cpu_ms, 3),
        **_percentiles(latencies),
    }


# -- the pipeline ----------------------------------------------------------------------------


def _tenants(count: int) -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"bench{run}-t{i + 1:02d}" for i in range(count)]


async def _post(client: httpx.AsyncClient, intake: str, tenant: str, bodies: list[dict]) -> None:
    response = await client.post(
        f"{intake}/v1/encounters/batch",
        headers={"X-Tenant-ID": tenant},
        json={"encounters": bodies},
    )
    response.raise_for_status()


async def _wait_posted(
    client: httpx.AsyncClient, stack: Stack, tenants: list[str], count: int, *, idle_s: float
) -> int:
    """Wait until `count` claims of these tenants are posted, or nothing moves for `idle_s`."""
    remittance = stack.process("remittance").url
    last, last_change = -1, time.monotonic()
    while True:
        posted = 0
        for t in tenants:
            summary = await client.get(f"{remittance}/v1/summary", headers={"X-Tenant-ID": t})
            posted += summary.json()["posted"]
        if posted >= count:
            return posted
        if posted != last:
            last, last_change = posted, time.monotonic()
        elif time.monotonic() - last_change > idle_s:
            return posted
        await asyncio.sleep(0.25)


async def _latencies(client: httpx.AsyncClient, stack: Stack, tenants: list[str]) -> list[float]:
    intake, remittance = stack.process("intake").url, stack.process("remittance").url
    accepted, posted = {}, []
    for t in tenants:
        headers = {"X-Tenant-ID": t}
        for row in (await client.get(f"{intake}/v1/encounters", headers=headers)).json():
            accepted[row["encounter_id"]] = datetime.fromisoformat(row["accepted_at"])
        posted += (await client.get(f"{remittance}/v1/postings", headers=headers)).json()
    return [
        (
            _aware(datetime.fromisoformat(p["posted_at"])) - _aware(accepted[p["encounter_id"]])
        ).total_seconds()
        for p in posted
        if p["encounter_id"] in accepted
    ]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.astimezone()


async def burst(stack: Stack, meter: CpuMeter, count: int, tenants: int) -> dict:
    """Everything at once, as at month-end: throughput and cost."""
    names = _tenants(tenants)
    bodies = {t: [encounter(t, n) for n in range(i, count, tenants)] for i, t in enumerate(names)}
    intake = stack.process("intake").url
    async with httpx.AsyncClient(timeout=300) as client:
        before = meter.read()
        started = time.perf_counter()

        async def send(tenant: str) -> None:
            for start in range(0, len(bodies[tenant]), 100):
                await _post(client, intake, tenant, bodies[tenant][start : start + 100])

        await asyncio.gather(*(send(t) for t in names))
        posted = await _wait_posted(client, stack, names, count, idle_s=120)
        elapsed = time.perf_counter() - started
        cpu = CpuMeter.per_item(before, meter.read(), max(posted, 1))
        latencies = await _latencies(client, stack, names)
    return {
        "eps": posted / elapsed,
        "elapsed_s": elapsed,
        "posted": posted,
        "sent": count,
        "cpu_ms_per_encounter": cpu,
        **_percentiles(latencies),
    }


async def paced(stack: Stack, rate: float, seconds: float, tenants: int) -> dict:
    """Open loop: encounters arrive at `rate` per second whatever the system does."""
    names = _tenants(tenants)
    count = max(int(rate * seconds), 10)
    intake = stack.process("intake").url
    tick = 0.1
    async with httpx.AsyncClient(timeout=300) as client:
        started = time.perf_counter()
        sent = 0
        pending: list[asyncio.Task] = []
        while sent < count:
            due = min(count, int((time.perf_counter() - started + tick) * rate))
            for tenant in names:
                bodies = [
                    encounter(tenant, n) for n in range(sent, due) if names[n % tenants] == tenant
                ]
                if bodies:
                    pending.append(asyncio.create_task(_post(client, intake, tenant, bodies)))
            sent = due
            await asyncio.sleep(tick)
        await asyncio.gather(*pending)
        posted = await _wait_posted(client, stack, names, count, idle_s=60)
        latencies = await _latencies(client, stack, names)
    return {"rate": rate, "sent": count, "posted": posted, **_percentiles(latencies)}


async def replica_run(
    stack: Stack, meter: CpuMeter, stage: str, replicas: int, count: int, tenants: int
) -> dict:
    await asyncio.to_thread(stack.scale, stage, replicas)
    await asyncio.sleep(8)  # let the group rebalance before the clock starts
    result = await burst(stack, meter, count, tenants)
    async with httpx.AsyncClient(timeout=30) as client:
        owned = {}
        for process in stack.replicas_of(stage):
            lag = (await client.get(f"{process.url}/v1/ops/lag")).json()["consumer_lag"]
            owned[process.name] = len(lag)
    return {
        "replicas": replicas,
        "eps": round(result["eps"], 1),
        "posted": result["posted"],
        "sent": count,
        "cpu_ms_per_encounter": result["cpu_ms_per_encounter"]["total"],
        "stage_cpu_ms_per_encounter": result["cpu_ms_per_encounter"].get(stage),
        "partitions_per_replica": owned,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encounters", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--paced-seconds", type=float, default=60.0)
    parser.add_argument("--replica-encounters", type=int, default=3000)
    parser.add_argument("--replica-counts", default="1,2,4")
    parser.add_argument("--skip-replicas", action="store_true")
    parser.add_argument("--skip-paced", action="store_true")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="claimflow-bench-"))
    infra = start_infrastructure(home / "infra")
    stack = Stack(
        home=home,
        kafka_bootstrap=infra.kafka_bootstrap,
        database_urls={name: infra.database_url(name) for name in SERVICES},
        ports={name: free_port() for name in (*SERVICES, "simulator")},
        extra_env={"KAFKA_PARTITIONS": str(args.partitions), "LOG_LEVEL": "WARNING"},
    )
    meter = CpuMeter(stack, infra)
    replicas: list[dict] = []
    pace: dict = {}
    try:
        say(f"starting the stack in {home} ...")
        stack.start()
        say("warming up with 200 encounters ...")
        asyncio.run(burst(stack, meter, 200, args.tenants))
        size = len(json.dumps({"payload": encounter("bench", 0)}).encode()) + 400
        say(f"baseline: {args.encounters} messages of {size} bytes through {HOPS} plain hops ...")
        base = asyncio.run(
            baseline(infra.kafka_bootstrap, args.encounters, b"x" * size, args.partitions, meter)
        )
        say(f"burst: {args.encounters} encounters across {args.tenants} tenants ...")
        pipe = asyncio.run(burst(stack, meter, args.encounters, args.tenants))
        if not args.skip_paced:
            rate = pipe["eps"] / 2
            say(f"paced: {rate:.0f} encounters/s for {args.paced_seconds:.0f} s (open loop) ...")
            pace = asyncio.run(paced(stack, rate, args.paced_seconds, args.tenants))
        stage_cpu = {s: pipe["cpu_ms_per_encounter"].get(s, 0.0) for s in SERVICES}
        busiest = max(stage_cpu, key=stage_cpu.get)
        if not args.skip_replicas:
            for count in (int(c) for c in args.replica_counts.split(",")):
                say(f"replicas: {count} x {busiest}, {args.replica_encounters} encounters ...")
                replicas.append(
                    asyncio.run(
                        replica_run(
                            stack, meter, busiest, count, args.replica_encounters, args.tenants
                        )
                    )
                )
        rss = {p.name: peak_rss_mb(p.pid) for p in stack.processes()}
    finally:
        stack.stop()
        infra.stop()
        shutil.rmtree(home, ignore_errors=True)
    report(args, base, pipe, pace, busiest, replicas, rss)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def report(args, base, pipe, pace, busiest, replicas, rss) -> None:
    ratio = pipe["eps"] / base["eps"]
    cpu = pipe["cpu_ms_per_encounter"]
    print(f"\n{'':<10}{'per s':>10}{'p50 ms':>10}{'p99 ms':>10}{'elapsed s':>12}{'cpu ms':>10}")
    print(
        f"{'baseline':<10}{base['eps']:>10.1f}{base['p50_ms']:>10.0f}{base['p99_ms']:>10.0f}"
        f"{base['elapsed_s']:>12.1f}{base['cpu_ms_per_message']:>10.2f}"
    )
    print(
        f"{'pipeline':<10}{pipe['eps']:>10.1f}{pipe['p50_ms']:>10.0f}{pipe['p99_ms']:>10.0f}"
        f"{pipe['elapsed_s']:>12.1f}{cpu['total']:>10.2f}"
    )
    if pace:
        print(f"{'paced':<10}{pace['rate']:>10.1f}{pace['p50_ms']:>10.0f}{pace['p99_ms']:>10.0f}")
    print(f"ratio pipeline/baseline: {ratio:.3f}   posted {pipe['posted']} of {pipe['sent']}")
    print("CPU ms per encounter: " + ", ".join(f"{k} {v}" for k, v in cpu.items()))
    for r in replicas:
        print(
            f"{busiest} x{r['replicas']}: {r['eps']} enc/s, {r['cpu_ms_per_encounter']} CPU ms/enc "
            f"({busiest} {r['stage_cpu_ms_per_encounter']}), posted {r['posted']}/{r['sent']}, "
            f"partitions {r['partitions_per_replica']}"
        )
    if replicas:
        print("(2 cores: replicas show correct sharing and their cost, not linear speed-up)")
    print("peak RSS MiB: " + ", ".join(f"{k} {v}" for k, v in rss.items()))
    print(
        json.dumps(
            {
                "encounters": args.encounters,
                "tenants": args.tenants,
                "pipeline_eps": round(pipe["eps"], 2),
                "baseline_eps": round(base["eps"], 2),
                "ratio": round(ratio, 4),
                "cpu_ms_per_encounter": cpu["total"],
                "cpu_ms_per_encounter_by_process": cpu,
                "baseline_cpu_ms_per_message": base["cpu_ms_per_message"],
                "p50_ms": pipe["p50_ms"],
                "p99_ms": pipe["p99_ms"],
                "paced_rate": round(pace["rate"], 1) if pace else None,
                "paced_p50_ms": pace.get("p50_ms"),
                "paced_p99_ms": pace.get("p99_ms"),
                "baseline_p50_ms": base["p50_ms"],
                "baseline_p99_ms": base["p99_ms"],
                "posted": pipe["posted"],
                "replicas": {"stage": busiest, "runs": replicas},
                "peak_rss_mb": rss,
            }
        )
    )


if __name__ == "__main__":
    main()
