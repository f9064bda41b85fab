"""Loading of the domain's rule tables: small CSV files with a header row and `#` comments."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"


class RuleTableError(ValueError):
    """A rule table (fee schedule, MUE, NCCI, ...) is malformed; the message names file and row."""


def read_rule_table(path: Path, *, columns: Iterable[str]) -> list[dict[str, str]]:
    """Rows of a CSV rule table as dicts of stripped strings; `#` lines are comments."""
    required = list(columns)
    with path.open(newline="", encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    missing = [name for name in required if name not in (reader.fieldnames or [])]
    if missing:
        raise RuleTableError(f"{path.name}: missing column(s) {', '.join(missing)}")
    rows = []
    for number, row in enumerate(reader, start=2):
        if None in row or any(value is None for value in row.values()):
            raise RuleTableError(f"{path.name} row {number}: wrong number of fields")
        rows.append({key: value.strip() for key, value in row.items()})
    return rows
