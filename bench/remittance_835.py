"""Benchmark: reading 835 remittances (claims/s) with our reader, beside pyx12 reading the very
same files in the same run: the public samples and generated large, balanced files. Machines
here are shared and noisy, so read the ratio, not the rates. Ends with one JSON line.

    .venv/bin/python bench/remittance_835.py --claims 20000 --per-file 2000
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyx12.error_handler
import pyx12.params
import pyx12.x12context

from claimflow_remittance.domain.era_reader import read_835_file
from claimflow_remittance.domain.problems import file_policy
from claimflow_shared.x12 import Composite, Envelope, amount, write_interchange

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "x12-samples" / "835"
CODES = ("99213", "99214", "93000", "36415", "81002", "97110", "71046", "80053")


def generate_835(claims: int, *, seed: int, control: int) -> str:
    """One interchange with one balanced 835 of `claims` claims, 1 to 4 lines each."""
    rng = random.Random(seed)
    body: list[list] = []
    total = Decimal("0")
    for n in range(claims):
        lines = []
        for line_no in range(rng.randint(1, 4)):
            charge = Decimal(rng.randrange(4000, 40000)) / 100
            patient = (charge * Decimal("0.1")).quantize(Decimal("0.01"))
            paid = (charge * Decimal("0.6")).quantize(Decimal("0.01"))
            contractual = charge - paid - patient
            lines.append((line_no, rng.choice(CODES), charge, paid, contractual, patient))
        charge = sum(line[2] for line in lines)
        paid = sum(line[3] for line in lines)
        patient = sum(line[5] for line in lines)
        total += paid
        body.append(["LX", str(n + 1)])
        body.append(
            ["CLP", f"CLM-{seed}-{n:06d}", "1", amount(charge), amount(paid), amount(patient),
             "12", f"ICN{seed}{n:08d}", "11", "1"]
        )  # fmt: skip
        body.append(["NM1", "QC", "1", "DOE", "JANE", "", "", "", "MI", f"M{n:08d}"])
        body.append(["DTM", "232", "20240110"])
        for line_no, code, line_charge, line_paid, contractual, line_patient in lines:
            body.append(
                ["SVC", Composite("HC", code), amount(line_charge), amount(line_paid), "", "1"]
            )
            body.append(["DTM", "472", "20240110"])
            body.append(["CAS", "CO", "45", amount(contractual)])
            body.append(["CAS", "PR", "2", amount(line_patient)])
            body.append(["REF", "6R", f"{n}-{line_no + 1}"])
            body.append(["AMT", "B6", amount(line_paid + line_patient)])
    header = [
        ["ST", "835", "0001", "005010X221A1"],
        ["BPR", "I", amount(total), "C", "ACH", "CCP", "01", "011000015", "DA", "123456",
         "1512345678", "", "01", "011000028", "DA", "654321", "20240115"],
        ["TRN", "1", f"EFT{seed:08d}", "1512345678"],
        ["DTM", "405", "20240114"],
        ["N1", "PR", "BENCH HEALTH PLAN"],
        ["N3", "1 MAIN ST"],
        ["N4", "SPRINGFIELD", "IL", "62701"],
        ["PER", "BL", "EDI DESK", "TE", "8005550100"],
        ["N1", "PE", "BENCH CLINIC", "XX", "1234567893"],
        ["REF", "TJ", "123456789"],
    ]  # fmt: skip
    envelope = Envelope(
        sender_id="BENCHPAYER",
        receiver_id="BENCHCLINIC",
        interchange_control_number=control,
        group_control_number=control,
        functional_id="HP",
        version="005010X221A1",
        created_at=datetime(2024, 1, 15, 8, 0),
    )
    return write_interchange(envelope, [header + body])


def read_ours(paths: list[Path], repeat: int) -> tuple[float, int, Decimal, str]:
    """Seconds per pass, claims, Σ BPR and the strictest file policy, for our reader."""
    started = time.perf_counter()
    for _ in range(repeat):
        claims, paid, worst = 0, Decimal("0"), "post"
        for path in paths:
            remittances = read_835_file(path.read_text(encoding="utf-8"))
            claims += sum(len(r.claims) for r in remittances)
            paid += sum(r.payment.signed_amount for r in remittances)
            policy = file_policy(p for r in remittances for p in r.problems)
            worst = max(worst, policy, key=("post", "flag", "hold").index)
    return (time.perf_counter() - started) / repeat, claims, paid, worst


def read_pyx12(paths: list[Path]) -> tuple[float, int, Decimal]:
    """Seconds, claims and Σ BPR02 as pyx12's map-driven reader sees the same files."""
    started = time.perf_counter()
    claims, paid = 0, Decimal("0")
    for path in paths:
        reader = pyx12.x12context.X12ContextReader(
            pyx12.params.params(), pyx12.error_handler.errh_null(), str(path)
        )
        for node in reader.iter_segments("2100"):
            if node.id == "2100":
                claims += 1
            elif node.id == "BPR":
                sign = -1 if node.get_value("BPR03") == "D" else 1
                paid += sign * Decimal(node.get_value("BPR02") or "0")
    return time.perf_counter() - started, claims, paid


def measure(name: str, paths: list[Path], repeat: int) -> dict[str, object]:
    ours_s, ours_claims, ours_paid, policy = read_ours(paths, repeat)
    pyx12_s, pyx12_claims, pyx12_paid = read_pyx12(paths)
    return {
        "set": name,
        "files": len(paths),
        "bytes": sum(p.stat().st_size for p in paths),
        "claims": ours_claims,
        "read_claims_per_s": round(ours_claims / ours_s, 1),
        "baseline_pyx12_claims_per_s": round(pyx12_claims / pyx12_s, 1),
        "speedup_vs_pyx12": round(pyx12_s / ours_s, 1),
        "claims_agree": ours_claims == pyx12_claims,
        "payment_totals_agree": ours_paid == pyx12_paid,
        "strictest_policy": policy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=20_000, help="generated claims in total")
    parser.add_argument("--per-file", type=int, default=2_000, help="claims per generated 835")
    parser.add_argument("--repeat", type=int, default=50, help="passes of our reader (samples)")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # pyx12 logs every finding
    results = []
    if SAMPLES.is_dir():
        samples = sorted(p for p in SAMPLES.iterdir() if p.read_text().lstrip().startswith("ISA"))
        results.append(measure("public-samples", samples, args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n, start in enumerate(range(0, args.claims, args.per_file), start=1):
            path = Path(tmp) / f"generated-{n}.835"
            count = min(args.per_file, args.claims - start)
            path.write_text(generate_835(count, seed=n, control=n), encoding="ascii")
            paths.append(path)
        results.append(measure("generated", paths, max(1, args.repeat // 25)))
    for r in results:
        print(
            f"{r['set']}: {r['claims']} claims in {r['files']} files; ours "
            f"{r['read_claims_per_s']} claims/s, pyx12 {r['baseline_pyx12_claims_per_s']} "
            f"claims/s (x{r['speedup_vs_pyx12']}); claims agree {r['claims_agree']}, "
            f"payments agree {r['payment_totals_agree']}, policy {r['strictest_policy']}"
        )
    print(json.dumps({"benchmark": "remittance_835", "results": results}))


if __name__ == "__main__":
    main()
