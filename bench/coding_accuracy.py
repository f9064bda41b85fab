"""Accuracy and throughput of the diagnosis coder (CAC) on a labelled set of statements,
beside a same-run baseline that looks up the exact tabular description.

    .venv/bin/python bench/coding_accuracy.py [--split tune|holdout|all] [--threshold 0.8]
    .venv/bin/python bench/coding_accuracy.py --url http://127.0.0.1:8002   # through the API

With `--url` the statements go through a running coding service (`POST /v1/code/batch`, what
`claimflow code --json` calls), so the figures are production's; throughput then includes
HTTP. The run also reports the coding CPU per encounter (the encounter coder on the demo's
already-coded encounters and on Synthea-shaped SNOMED CT/CVX ones, event built and
serialized), the number the pipeline benchmark's CPU-per-encounter column is made of.

The set (`bench/data/diagnosis_statements.csv`) names the source of every item. Rows with an
empty `expected` are statements that must raise a query (nothing codable). Items were split
once by a hash of their text; the holdout part was not looked at while tuning.
Prints the figures per split and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import resource
import sys
import time
import tracemalloc
import warnings
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "diagnosis_statements.csv"
DIAGNOSES_PER_ENCOUNTER = 4  # a typical professional claim carries 1-4 diagnosis pointers


@dataclass
class Outcome:
    top1: bool
    top5: bool
    auto: bool
    auto_correct: bool


def load(split: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader(DATA.open(encoding="utf-8")))
    return [r for r in rows if split == "all" or r["split"] == split]


def judge(row: dict[str, str], codes: list[str], auto: bool) -> Outcome:
    expected = row["expected"]
    top1 = bool(expected) and codes[:1] == [expected]
    top5 = bool(expected) and expected in codes[:5]
    # An auto-coded item is right only if the code is right and the item may be auto-coded.
    auto_correct = auto and top1 and row["decision"] == "auto"
    return Outcome(top1, top5, auto, auto_correct)


def summarize(outcomes: list[Outcome], rows: list[dict[str, str]]) -> dict[str, float]:
    coded = [o for o, r in zip(outcomes, rows, strict=True) if r["expected"]]
    autos = [o for o in outcomes if o.auto]
    must_query = [o for o, r in zip(outcomes, rows, strict=True) if r["decision"] == "query"]
    return {
        "items": len(rows),
        "with_code": len(coded),
        "top1": sum(o.top1 for o in coded) / max(1, len(coded)),
        "top5": sum(o.top5 for o in coded) / max(1, len(coded)),
        "auto_share": len(autos) / max(1, len(outcomes)),
        "auto_precision": sum(o.auto_correct for o in autos) / max(1, len(autos)),
        "should_query_caught": sum(not o.auto for o in must_query) / max(1, len(must_query)),
    }


def run_cac(rows, threshold: float):
    from claimflow_coding.domain.cac import suggest_diagnoses

    outcomes = []
    misses = []
    for row in rows:
        suggestion = suggest_diagnoses(
            text=row["text"], setting=row["setting"], threshold=threshold
        )
        codes = [c.code for c in suggestion.candidates]
        outcome = judge(row, codes, suggestion.decision.value == "auto")
        outcomes.append(outcome)
        if (not outcome.top1 and row["expected"]) or (outcome.auto and not outcome.auto_correct):
            misses.append((row, codes[:3], suggestion))
    return outcomes, misses


def run_api(rows, url: str, threshold: float) -> tuple[list[Outcome], float]:
    """The same judgement over the running service's answers; statements per second."""
    import httpx

    outcomes = []
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=300) as client:
        for start in range(0, len(rows), 200):
            batch = rows[start : start + 200]
            response = client.post(
                "/v1/code/batch",
                json={"statements": [r["text"] for r in batch], "threshold": threshold},
            )
            response.raise_for_status()
            for row, result in zip(batch, response.json(), strict=True):
                codes = [c["code"] for c in result["candidates"]]
                outcomes.append(judge(row, codes, result["decision"] == "auto"))
    return outcomes, len(rows) / (time.perf_counter() - started)


def encounter_cpu(rounds: int) -> dict[str, float]:
    """CPU milliseconds per encounter of the encounter coder, event included."""
    from datetime import date

    from claimflow_cli.synthetic import encounter
    from claimflow_coding.domain.coding import Coded, code_encounter
    from claimflow_shared.events import EncounterDocumented

    today = date.today()
    given = [
        EncounterDocumented.model_validate(encounter(f"t{n % 5}", n, seed=n, today=today))
        for n in range(500)
    ]
    snomed = [
        EncounterDocumented.model_validate(_synthea_check_up(body))
        for body in (encounter("s", n, seed=n, today=today) for n in range(100))
    ]

    def cpu(documents) -> float:
        started = time.process_time()
        for _ in range(rounds):
            for documented in documents:
                outcome = code_encounter(documented, coder="bench")
                event = outcome.to_event(documented)
                event.model_dump_json() if isinstance(outcome, Coded) else None
        return (time.process_time() - started) * 1000 / (len(documents) * rounds)

    cpu(given[:50])  # caches warm, as in a running service
    return {"given_codes_ms": cpu(given), "snomed_cvx_ms": cpu(snomed)}


def _synthea_check_up(body: dict) -> dict:
    """A demo encounter re-documented as Synthea does: SNOMED CT conditions and encounter
    type, a CVX vaccine, no ICD-10-CM or CPT."""
    day = body["period_start"]

    def coding(system, code, display):
        return {"system": system, "code": code, "display": display}

    body["diagnoses"] = [
        {
            "sequence": 1,
            "text": "Essential hypertension",
            "codings": [coding("SNOMED-CT", "59621000", "Essential hypertension (disorder)")],
        },
        {
            "sequence": 2,
            "text": "Prediabetes",
            "codings": [coding("SNOMED-CT", "15777000", "Prediabetes (finding)")],
        },
    ]
    body["procedures"] = [
        {
            "sequence": 1,
            "code_system": "CPT",
            "service_date": day,
            "codings": [coding("SNOMED-CT", "185349003", "Encounter for check up (procedure)")],
        },
        {
            "sequence": 2,
            "code_system": "CPT",
            "service_date": day,
            "codings": [coding("CVX", "140", "Influenza, seasonal, injectable, preservative free")],
        },
        {
            "sequence": 3,
            "code_system": "CPT",
            "service_date": day,
            "codings": [coding("LOINC", "51990-0", "Basic metabolic panel - Blood")],
        },
    ]
    return body


def throughput_cac(rows, threshold: float, rounds: int) -> tuple[float, float]:
    from claimflow_coding.domain.cac import suggest_diagnoses
    from claimflow_coding.domain.edits import check_codes

    texts = [(r["text"], r["setting"]) for r in rows]
    started = time.perf_counter()
    count = 0
    encounters = 0
    for _ in range(rounds):
        batch: list[str] = []
        for text, setting in texts:
            suggestion = suggest_diagnoses(text=text, setting=setting, threshold=threshold)
            count += 1
            if suggestion.candidates:
                batch.append(suggestion.candidates[0].code)
            if len(batch) == DIAGNOSES_PER_ENCOUNTER:
                check_codes(codes=batch, age=50, sex="F", setting="outpatient")
                encounters += 1
                batch = []
    elapsed = time.perf_counter() - started
    return count / elapsed, encounters / elapsed


def throughput_given(rows, rounds: int) -> float:
    """Encounters/s when the EHR already sends ICD-10-CM codes: verify each code and run the
    compliance edits (the common month-end path)."""
    from claimflow_coding.domain.cac import suggest_diagnoses
    from claimflow_coding.domain.edits import check_codes

    codes = [r["expected"] for r in rows if r["expected"]]
    encounters = [
        codes[i : i + DIAGNOSES_PER_ENCOUNTER]
        for i in range(0, len(codes), DIAGNOSES_PER_ENCOUNTER)
    ]
    started = time.perf_counter()
    for _ in range(rounds):
        for encounter in encounters:
            for code in encounter:
                suggest_diagnoses(system="ICD10CM", code=code)
            check_codes(codes=encounter, age=50, sex="F", setting="outpatient")
    return len(encounters) * rounds / (time.perf_counter() - started)


def _plain(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def baseline_table() -> dict[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as icd
    from claimflow_coding.domain.icd10 import dotted

    table = {}
    for code in icd.get_all_codes(False):
        if icd.is_leaf(code):
            table.setdefault(_plain(icd.get_description(code)), dotted(code))
    return table


def run_baseline(rows, table) -> list[Outcome]:
    outcomes = []
    for row in rows:
        found = table.get(_plain(row["text"]))
        outcomes.append(judge(row, [found] if found else [], found is not None))
    return outcomes


def throughput_baseline(rows, table, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for row in rows:
            table.get(_plain(row["text"]))
    return len(rows) * rounds / (time.perf_counter() - started)


def index_build() -> tuple[float, float]:
    """Seconds and MiB (peak traced allocations) to load the packaged term index."""
    from claimflow_coding.domain.cac.terms import TermIndex, load_packaged_arrays

    tracemalloc.start()
    started = time.perf_counter()
    arrays = load_packaged_arrays()
    if arrays is None:
        raise SystemExit(
            "packaged index is stale: run services/coding/tools/build_icd10cm_terms.py"
        )
    TermIndex(arrays)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    current = tracemalloc.take_snapshot()
    tracemalloc.stop()
    del current
    return seconds, peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=["tune", "holdout", "all"], default="tune")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--misses", action="store_true", help="list misses (tune split only)")
    parser.add_argument("--url", help="a running coding service: code through its API")
    args = parser.parse_args()

    from claimflow_coding.domain.cac import DEFAULT_THRESHOLD, term_index

    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    build_seconds, build_mib = index_build()
    started = time.perf_counter()
    term_index()
    warm_build = time.perf_counter() - started
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    splits = ["tune", "holdout"] if args.split == "all" else [args.split]
    table = baseline_table()
    report: dict[str, object] = {
        "threshold": threshold,
        "index_load_s": round(build_seconds, 2),
        "index_load_peak_mib": round(build_mib, 1),
        "process_max_rss_mib": round(rss_mib, 1),
        "first_use_s": round(warm_build, 2),
    }
    report["encounter_cpu"] = {k: round(v, 3) for k, v in encounter_cpu(args.rounds).items()}
    for split in splits:
        rows = load(split)
        outcomes, misses = run_cac(rows, threshold)
        if args.url:
            api_outcomes, api_s = run_api(rows, args.url, threshold)
            api = summarize(api_outcomes, rows) | {"statements_per_s": api_s}
            report.setdefault("api", {})[split] = {k: round(v, 4) for k, v in api.items()}  # type: ignore[union-attr]
            print(
                f"  api {args.url}: top1 {api['top1']:.3f}  top5 {api['top5']:.3f}  auto "
                f"{api['auto_share']:.3f}  auto-precision {api['auto_precision']:.3f}  "
                f"{api_s:.0f} statements/s over HTTP"
            )
        cac = summarize(outcomes, rows)
        base = summarize(run_baseline(rows, table), rows)
        statements_s, encounters_s = throughput_cac(rows, threshold, args.rounds)
        given_s = throughput_given(rows, args.rounds * 5)
        base_s = throughput_baseline(rows, table, args.rounds * 20)
        cac.update(
            statements_per_s=statements_s,
            encounters_per_s=encounters_s,
            given_code_encounters_per_s=given_s,
        )
        base.update(statements_per_s=base_s)
        print(f"== {split}: {len(rows)} statements (threshold {threshold})")
        for name, figures in (("cac", cac), ("exact-description baseline", base)):
            print(
                f"  {name:27} top1 {figures['top1']:.3f}  top5 {figures['top5']:.3f}  "
                f"auto {figures['auto_share']:.3f}  auto-precision {figures['auto_precision']:.3f}"
                f"  should-query caught {figures['should_query_caught']:.3f}"
                f"  {figures['statements_per_s']:.0f} statements/s"
            )
        print(
            f"  cac encounters/s ({DIAGNOSES_PER_ENCOUNTER} free-text diagnoses + edits): "
            f"{encounters_s:.0f}; already-coded encounters/s (verify + edits): {given_s:.0f}"
        )
        print(
            f"  ratio cac/baseline: top1 x{cac['top1'] / max(base['top1'], 1e-9):.1f}, "
            f"speed x{statements_s / base_s:.4f}"
        )
        if args.misses and split == "tune":
            for row, codes, suggestion in misses:
                print(
                    f"  MISS {row['text']!r} expected {row['expected'] or '-'} "
                    f"({row['decision']}) got {codes} {suggestion.decision.value} "
                    f"{list(suggestion.reasons)[:2]} "
                    f"conf {suggestion.candidates[0].confidence if suggestion.candidates else 0}"
                )
        report[split] = {
            "cac": {k: round(v, 4) for k, v in cac.items()},
            "baseline": {k: round(v, 4) for k, v in base.items()},
        }
    cpu = report["encounter_cpu"]
    print(
        f"  coding CPU per encounter: {cpu['given_codes_ms']:.2f} ms with ICD-10-CM/CPT given, "  # type: ignore[index]
        f"{cpu['snomed_cvx_ms']:.2f} ms from SNOMED CT/CVX/LOINC"  # type: ignore[index]
    )
    print(
        f"  index load {build_seconds:.2f}s, peak {build_mib:.0f} MiB traced; "
        f"max RSS {rss_mib:.0f} MiB"
    )
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
