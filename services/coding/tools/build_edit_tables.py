"""Regenerate the compliance-edit tables derived from the ICD-10-CM tabular in
`simple-icd-10-cm` (FY2026, April 1 2026 release):

- `icd10cm_never_first.csv`: manifestation codes ("in diseases classified elsewhere", printed
  in italics in the tabular) and infectious-agent codes ("as the cause of diseases classified
  elsewhere", B95-B97), which are never first-listed (guideline I.A.13, I.C.1.b).
- `icd10cm_sex_words.csv`: codes whose own title names one sex ("female", "male"); the
  hand-written `edit_sex_ranges.csv` adds the chapters and blocks that are sex-specific.

    .venv/bin/python services/coding/tools/build_edit_tables.py
"""

from __future__ import annotations

import csv
import re
import sys
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10_cm as icd

# "in diseases classified elsewhere", "in other diseases classified elsewhere" (F02, dementia
# in other diseases), "in conditions classified elsewhere".
MANIFESTATION = re.compile(r"\bin (?:other )?(?:diseases|conditions) classified elsewhere\b")
DATA = Path(__file__).resolve().parents[1] / "src" / "claimflow_coding" / "domain" / "data"


def codes():
    for code in icd.get_all_codes(False):
        if icd.is_category_or_subcategory(code) and not icd.is_extended_subcategory(code):
            yield code, icd.get_description(code)


def main() -> int:
    never_first = []
    sexed = []
    for code, title in codes():
        lowered = title.lower()
        if MANIFESTATION.search(lowered):
            never_first.append((code, "manifestation", title))
        elif "as the cause of diseases classified elsewhere" in lowered:
            never_first.append((code, "infectious-agent", title))
        words = set(re.findall(r"[a-z]+", lowered))
        if "female" in words and "male" not in words:
            sexed.append((code, "F", title))
        elif "male" in words and "female" not in words:
            sexed.append((code, "M", title))
    with (DATA / "icd10cm_never_first.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["code", "kind", "title"])
        writer.writerows(never_first)
    with (DATA / "icd10cm_sex_words.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["code", "sex", "title"])
        writer.writerows(sexed)
    print(f"{len(never_first)} never-first codes, {len(sexed)} sex-worded codes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
