"""Regenerate `domain/data/hcpcs_2026.tsv.gz` from the CMS HCPCS Level II alpha-numeric file,
January 2026 (`/work/shared/data/hcpcs/HCPC2026_JAN_ANWEB_01122026.txt`), read with its record
layout (`HCPC2026_recordlayout.txt`): fixed 320-character records, code in columns 1-5 (a
modifier in 4-5), record id in column 11 (3 code, 4 code continuation, 7 modifier, 8 modifier
continuation), long description 12-91, short description 92-119, coverage code 230, added
date 269-276, action effective date 277-284, termination date 285-292, action code 293.

    .venv/bin/python services/coding/tools/build_hcpcs.py [--shared /work/shared/data]
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

OUT = (
    Path(__file__).resolve().parents[1]
    / "src"
    / "claimflow_coding"
    / "domain"
    / "data"
    / "hcpcs_2026.tsv.gz"
)
FILE = "hcpcs/HCPC2026_JAN_ANWEB_01122026.txt"


def field(record: str, first: int, last: int) -> str:
    return record[first - 1 : last].strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path("/work/shared/data"))
    args = parser.parse_args()
    rows: dict[tuple[str, str], dict[str, str]] = {}
    order: list[tuple[str, str]] = []
    for record in (args.shared / FILE).read_text(encoding="latin-1").splitlines():
        record = record.ljust(320)
        kind = {"3": "code", "4": "code", "7": "modifier", "8": "modifier"}.get(record[10])
        if kind is None:
            continue
        code = field(record, 4, 5) if kind == "modifier" else field(record, 1, 5)
        key = (kind, code)
        if record[10] in "48" and key in rows:
            rows[key]["long"] += " " + field(record, 12, 91)
            continue
        rows[key] = {
            "long": field(record, 12, 91),
            "short": field(record, 92, 119),
            "coverage": field(record, 230, 230),
            "added": field(record, 269, 276),
            "effective": field(record, 277, 284),
            "terminated": field(record, 285, 292),
            "action": field(record, 293, 293),
        }
        order.append(key)
    with gzip.open(OUT, "wt", encoding="utf-8", compresslevel=9) as out:
        out.write("kind\tcode\tshort\tlong\tcoverage\tadded\teffective\tterminated\taction\n")
        for key in order:
            row = rows[key]
            long = " ".join(row["long"].split())
            out.write(
                "\t".join(
                    [
                        key[0],
                        key[1],
                        row["short"],
                        long,
                        row["coverage"],
                        row["added"],
                        row["effective"],
                        row["terminated"],
                        row["action"],
                    ]
                )
                + "\n"
            )
    codes = sum(1 for k in order if k[0] == "code")
    print(f"{codes} codes, {len(order) - codes} modifiers -> {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
