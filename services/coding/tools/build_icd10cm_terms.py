"""Regenerate `domain/data/icd10cm_terms.tsv.gz`, the term list the diagnosis coder searches.

Reads the public ICD-10-CM files in `/work/shared/data/icd10cm/` (Alphabetic Index, Table of
Neoplasms, Table of Drugs and Chemicals) and the tabular list shipped in `simple-icd-10-cm`,
and writes one row per term: code (no dot, possibly a non-billable parent the coder refines),
source and the term text with nonessential modifiers kept in parentheses.

    .venv/bin/python services/coding/tools/build_icd10cm_terms.py [--shared /work/shared/data]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import re
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10_cm as icd

OUT = (
    Path(__file__).resolve().parents[1]
    / "src"
    / "claimflow_coding"
    / "domain"
    / "data"
    / "icd10cm_terms.tsv.gz"
)

NEOPLASM_COLUMNS = {
    "2": "malignant neoplasm (primary)",
    "3": "secondary malignant neoplasm (metastatic)",
    "4": "carcinoma in situ",
    "5": "benign neoplasm",
    "6": "neoplasm of uncertain behavior",
    "7": "neoplasm of unspecified behavior",
}
DRUG_COLUMNS = {
    "2": "poisoning by {}, accidental (unintentional)",
    "3": "poisoning by {}, intentional self-harm",
    "4": "poisoning by {}, assault",
    "5": "poisoning by {}, undetermined",
    "6": "adverse effect of {}",
    "7": "underdosing of {}",
}


def resolve(code: str) -> str | None:
    """The tabular item an index code points to: dots and dashes dropped; a code the
    tabular no longer has falls back to its nearest valid parent."""
    bare = code.replace(".", "").replace("-", "").strip().upper()
    while len(bare) >= 3:
        if icd.is_valid_item(bare) and icd.is_category_or_subcategory(bare):
            return bare
        bare = bare[:-1]
    return None


def tabular_rows():
    for code in icd.get_all_codes(False):
        if not icd.is_category_or_subcategory(code) or icd.is_extended_subcategory(code):
            continue
        yield code, "tabular", icd.get_description(code)
        for term in icd.get_inclusion_term(code):
            yield code, "inclusion", term
        if icd.is_category(code):
            for term in icd.get_includes(code):
                yield code, "inclusion", term


CONNECTORS = frozenset({"with", "without", "in", "due to", "of", "and", "by", "on", "from"})
# Main-term qualifiers that are the default nature of the condition ("Fracture, traumatic" is
# what a fracture is unless documented as pathological or stress).
DEFAULT_QUALIFIERS = frozenset({"traumatic"})


def _main_term_text(term: str) -> str:
    """'Diabetes, diabetic' -> 'Diabetes (diabetic)': variant spellings and default qualifiers
    become optional, while qualifiers such as 'Fracture, pathological' stay required."""
    parts = [p.strip() for p in term.split(",")]
    head, rest = parts[0], parts[1:]
    out = [head]
    for part in rest:
        if part[:4].lower() == head[:4].lower() or part.lower() in DEFAULT_QUALIFIERS:
            out.append(f"({part})")
        else:
            out.append(part)
    return " ".join(out)


def index_rows(path: Path):
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    stack: list[tuple[str, str, str | None]] = []  # (text, title-lower, code)
    children: dict[tuple[str, ...], tuple[str | None, int]] = {}
    pending_see: list[tuple[list[str], str]] = []
    for row in rows:
        level = int(row["Level"])
        term = row["Term"].strip()
        text = _main_term_text(term) if level == 0 else term
        modifiers = row["NonEssModif"].strip()
        if modifiers:
            text = f"{text} {modifiers}"
        del stack[level:]
        code = resolve(row["Code"]) if row["Code"].strip() else None
        stack.append((text, term.lower(), code))
        key = tuple(t for _, t, _ in stack)
        children[key] = (code, level)
        phrase = ", ".join(t for t, _, _ in stack)
        if level and re.sub(r"\([^)]*\)", "", term).strip().lower() in CONNECTORS:
            # "Gout, in (due to)" carries a code in the flattening but names no condition.
            continue
        if code:
            yield code, "index", phrase
        elif row["See"].strip():
            pending_see.append(([t for t, _, _ in stack], row["See"].strip()))
    by_main: dict[str, list[tuple[str, ...]]] = {}
    kids: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for key in children:
        if len(key) == 1:
            by_main.setdefault(_head(key[0]), []).append(key)
        else:
            kids.setdefault(key[:-1], []).append(key)
    for texts, see in pending_see:
        code = _follow_see(see, children, kids, by_main)
        if code:
            yield code, "index-see", ", ".join(texts)


def _head(title: str) -> str:
    return re.sub(r"\([^)]*\)", "", title.split(",")[0]).strip().lower()


def _follow_see(see, children, kids, by_main) -> str | None:
    """The code a 'see' reference leads to, only when every part of it is found (pseudo parts
    such as 'by type' or 'by site' excepted)."""
    parts = [p.strip().lower() for p in re.split(r",\s*", see) if p.strip()]
    if not parts:
        return None
    mains = by_main.get(_head(parts[0]), [])
    # Prefer the main term whose qualifier the reference names ("Fracture, pathological").
    mains = sorted(mains, key=lambda m: 0 if len(parts) > 1 and parts[1] in m[0] else 1)
    for main in mains:
        node = main
        complete = True
        for part in parts[1:]:
            if part.startswith("by ") or part in main[0]:
                continue
            nxt = None
            for key in kids.get(node, ()):
                if part in (key[-1], _head(key[-1])):
                    nxt = key
                    break
            if nxt is None:
                complete = False
                break
            node = nxt
        if complete and children[node][0]:
            return children[node][0]
    return None


def _title_text(element) -> str:
    title = element.find("title")
    if title is None:
        return ""
    text = (title.text or "").strip()
    for nemod in title.findall("nemod"):
        text += f" {(nemod.text or '').strip()}"
        text += (nemod.tail or "").rstrip()
    return " ".join(text.split())


def table_rows(path: Path, columns: dict[str, str], source: str, neoplasm: bool):
    root = ET.parse(path).getroot()

    def walk(element, trail):
        for child in element.findall("term") if trail else element.iter("mainTerm"):
            title = _title_text(child)
            here = [*trail, title]
            site = ", ".join(here[1:] if neoplasm else here)
            for cell in child.findall("cell"):
                wording = columns.get(cell.get("col", ""))
                value = (cell.text or "").strip()
                if not wording or not value or value.startswith("--"):
                    continue
                code = resolve(value)
                if code is None:
                    continue
                if neoplasm:
                    yield code, source, f"{wording}, {site}" if site else wording
                else:
                    yield code, source, wording.format(site)
            yield from walk(child, here)

    yield from walk(root, [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path("/work/shared/data"))
    args = parser.parse_args()
    base = args.shared / "icd10cm"
    seen = set()
    count = 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(OUT, "wt", encoding="utf-8", compresslevel=9) as out:
        out.write("code\tsource\tterm\n")
        sources = (
            tabular_rows(),
            index_rows(base / "icd10cm_index_2025_flattened.csv"),
            table_rows(base / "icd10cm_neoplasm_2025.xml", NEOPLASM_COLUMNS, "neoplasm", True),
            table_rows(base / "icd10cm_drug_2025.xml", DRUG_COLUMNS, "drug", False),
        )
        for rows in sources:
            for code, source, term in rows:
                term = " ".join(term.replace("\t", " ").split())
                key = (code, term.lower())
                if key in seen:
                    continue
                seen.add(key)
                out.write(f"{code}\t{source}\t{term}\n")
                count += 1
    print(f"wrote {count} terms to {OUT}", file=sys.stderr)
    # The prebuilt index is tokenized by the package's own tokenizer, so statements and terms
    # are always cut the same way (its fingerprint is checked at load).
    from claimflow_coding.domain.cac.terms import INDEX_FILE, save_index

    save_index(OUT.parent / INDEX_FILE)
    print(f"wrote {OUT.parent / INDEX_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
