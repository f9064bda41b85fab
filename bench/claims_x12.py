"""Benchmark: 837 generation (claims/s) and scrubbing (claims/s) for 837P and 837I, each
beside a same-run baseline: pyx12 validating the very files we generated. Machines here
are shared and noisy, so read the ratios, not the rates. Ends with one JSON line.

    .venv/bin/python bench/claims_x12.py --claims 2000 --per-file 500
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import pyx12.params
import pyx12.x12n_document

# The claim generator lives with the claims unit tests; run from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from claimflow_claims.adapters.x12.claim837 import Receiver, Submitter
from claimflow_claims.adapters.x12.writer_837i import write_837i
from claimflow_claims.adapters.x12.writer_837p import write_837p
from claimflow_claims.domain.scrubber import default_rules, scrub_claim
from claimflow_shared.x12 import Envelope
from services.claims.tests.unit.claim_factory import generate_claims

WRITERS = {"837P": (write_837p, "005010X222A1"), "837I": (write_837i, "005010X223A2")}
SUBMITTER = Submitter("CLAIMFLOW BILLING", "CLAIMFLOW", "BILLING DESK", "6175550100")
RECEIVER = Receiver("CLEARINGHOUSE", "CLEARHOUSE")


def _envelope(number: int, guide: str) -> Envelope:
    return Envelope(
        sender_id="CLAIMFLOW",
        receiver_id="CLEARHOUSE",
        interchange_control_number=number,
        group_control_number=number,
        functional_id="HC",
        version=guide,
        created_at=datetime(2025, 5, 1, 8, 0),
    )


def _pyx12(path: Path) -> bool:
    return bool(
        pyx12.x12n_document.x12n_document(
            param=pyx12.params.params(),
            src_file=str(path),
            fd_997=io.StringIO(),
            fd_html=None,
            fd_json=io.StringIO(),
        )
    )


def measure(claim_type: str, count: int, per_file: int, folder: Path) -> dict[str, object]:
    writer, guide = WRITERS[claim_type]
    claims = generate_claims(7, count, claim_type)
    batches = [claims[i : i + per_file] for i in range(0, count, per_file)]

    started = time.perf_counter()
    files = [
        writer(batch, envelope=_envelope(n, guide), submitter=SUBMITTER, receiver=RECEIVER)
        for n, batch in enumerate(batches, start=1)
    ]
    generate_s = time.perf_counter() - started

    rules = default_rules()
    today = date(2025, 6, 1)
    started = time.perf_counter()
    findings = sum(len(scrub_claim(claim, today=today, rules=rules)) for claim in claims)
    scrub_s = time.perf_counter() - started

    paths = []
    for n, text in enumerate(files, start=1):
        path = folder / f"{claim_type}-{n}.x12"
        path.write_text(text, encoding="ascii")
        paths.append(path)
    started = time.perf_counter()
    valid = all(_pyx12(path) for path in paths)
    pyx12_s = time.perf_counter() - started

    return {
        "claim_type": claim_type,
        "claims": count,
        "files": len(files),
        "segments": sum(text.count("~") for text in files),
        "generate_claims_per_s": round(count / generate_s, 1),
        "scrub_claims_per_s": round(count / scrub_s, 1),
        "scrub_findings": findings,
        "baseline_pyx12_claims_per_s": round(count / pyx12_s, 1),
        "pyx12_valid": valid,
        "generate_vs_pyx12": round(pyx12_s / generate_s, 1),
        "scrub_vs_pyx12": round(pyx12_s / scrub_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=2000, help="claims per claim type")
    parser.add_argument("--per-file", type=int, default=500, help="claims per interchange")
    args = parser.parse_args()
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for claim_type in WRITERS:
            result = measure(claim_type, args.claims, args.per_file, Path(tmp))
            results.append(result)
            print(
                f"{claim_type}: generate {result['generate_claims_per_s']} claims/s, "
                f"scrub {result['scrub_claims_per_s']} claims/s, pyx12 baseline "
                f"{result['baseline_pyx12_claims_per_s']} claims/s "
                f"(valid: {result['pyx12_valid']})"
            )
    print(json.dumps({"benchmark": "claims_x12", "results": results}))


if __name__ == "__main__":
    main()
