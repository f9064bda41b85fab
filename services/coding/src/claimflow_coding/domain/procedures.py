"""The CPT and HCPCS Level II codes the product knows: `data/procedures.csv` (CPT in our own
words, a few HCPCS) and, for HCPCS Level II, the full CMS January 2026 file (`hcpcs.py`).

CPT descriptors are AMA copyright, so the table carries only our own short wording.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

from claimflow_coding.domain.hcpcs import hcpcs_code
from claimflow_shared.codes import ProcedureCodeSystem, procedure_code

# The code-set years the table was checked against.
CPT_VERSION = "2026"
HCPCS_VERSION = "2026"

TABLE = "procedures.csv"


@dataclass(frozen=True)
class Procedure:
    code_system: ProcedureCodeSystem
    code: str
    description: str


@dataclass(frozen=True)
class ProcedureCheck:
    code_system: ProcedureCodeSystem
    code: str
    known: bool
    description: str | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class ProcedureTableError(ValueError):
    """The packaged procedure table has a row that is not a valid code."""


def parse_procedure_table(text: str) -> Mapping[tuple[ProcedureCodeSystem, str], Procedure]:
    """Read the table, checking every row against its code system's format."""
    table: dict[tuple[ProcedureCodeSystem, str], Procedure] = {}
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            system = ProcedureCodeSystem(row["code_system"].strip())
            code = procedure_code(system, row["code"])
        except (KeyError, ValueError) as exc:
            raise ProcedureTableError(f"{TABLE} line {line}: {exc}") from exc
        description = (row.get("description") or "").strip()
        if not description:
            raise ProcedureTableError(f"{TABLE} line {line}: {code} has no description")
        if (system, code) in table:
            raise ProcedureTableError(f"{TABLE} line {line}: {code} is listed twice")
        table[(system, code)] = Procedure(system, code, description)
    return MappingProxyType(table)


@cache
def procedure_table() -> Mapping[tuple[ProcedureCodeSystem, str], Procedure]:
    """The packaged table, loaded once."""
    text = resources.files(__package__).joinpath("data", TABLE).read_text(encoding="utf-8")
    return parse_procedure_table(text)


def find_procedure(code_system: ProcedureCodeSystem, code: str) -> Procedure | None:
    return procedure_table().get((code_system, str(code).strip().upper()))


def check_procedure(code_system: ProcedureCodeSystem, code: str) -> ProcedureCheck:
    """Is this a well-formed code of its system, and one the product knows?"""
    try:
        normalized = procedure_code(code_system, code)
    except ValueError as exc:
        return ProcedureCheck(code_system, str(code).strip().upper(), False, None, str(exc))
    known = find_procedure(code_system, normalized)
    if known is None and code_system is ProcedureCodeSystem.HCPCS:
        # HCPCS Level II is public: the whole CMS file is known, not only our table.
        entry = hcpcs_code(normalized)
        if entry is not None:
            return ProcedureCheck(code_system, normalized, True, entry.short, None)
    if known is None:
        problem = f"unknown {code_system.value} code: not in the product's procedure table"
        return ProcedureCheck(code_system, normalized, False, None, problem)
    return ProcedureCheck(code_system, normalized, True, known.description, None)
