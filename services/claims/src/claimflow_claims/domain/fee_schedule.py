"""Fee schedules: what a practice charges per unit of a CPT/HCPCS code (or a facility
revenue code), per tenant and payer, with effective dates, over a default schedule.

A schedule is imported as CSV (admin API, CLI): `parse_fee_schedule_csv` checks every row
and reports each problem with its line and column, so a biller can fix the file at once.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from claimflow_claims.domain.tables import DATA_DIR, RuleTableError
from claimflow_shared.codes import Money, ProcedureCodeSystem, money, procedure_code

DEFAULT_FEE_SCHEDULE = DATA_DIR / "fee_schedule.csv"
REVENUE_CODE_SYSTEM = "REV"
REQUIRED_COLUMNS = ("code_system", "code", "modifier", "unit_price")
OPTIONAL_COLUMNS = ("effective_date", "end_date", "category")
# A price of a million dollars per unit is a typo, not a fee.
MAX_UNIT_PRICE = Decimal("999999.99")

PriceKey = tuple[str, str, str]  # code system (CPT, HCPCS, REV), code, pricing modifier or ""


class UnpricedProcedure(LookupError):
    """The fee schedule has no price for a procedure code."""

    def __init__(self, code_system: ProcedureCodeSystem, code: str, modifiers: Iterable[str]):
        self.code_system = ProcedureCodeSystem(code_system)
        self.code = code
        self.modifiers = tuple(modifiers)
        shown = "-".join(self.modifiers) or "none"
        super().__init__(
            f"no fee schedule price for {self.code_system.value} {code} (modifiers: {shown})"
        )


class UnpricedRevenueCode(LookupError):
    """The fee schedule has no per-unit price for a facility revenue code (room and board)."""

    def __init__(self, revenue_code: str):
        self.revenue_code = revenue_code
        super().__init__(f"no fee schedule price for revenue code {revenue_code}")


@dataclass(frozen=True)
class FeeRow:
    """One price, in force from `effective` to `end` (both inclusive; None = open)."""

    key: PriceKey
    unit_price: Decimal
    effective: date | None = None
    end: date | None = None

    def in_force(self, on: date | None) -> bool:
        if on is None:
            return self.end is None
        return (self.effective is None or self.effective <= on) and (
            self.end is None or on <= self.end
        )


@dataclass(frozen=True)
class RowProblem:
    """What is wrong with one line of an imported fee schedule (1-based line, column name)."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass(frozen=True)
class ParsedFeeSchedule:
    rows: tuple[FeeRow, ...]
    problems: tuple[RowProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_fee_schedule_csv(text: str) -> ParsedFeeSchedule:
    """Parse and check a fee schedule CSV: header `code_system,code,modifier,unit_price`
    and optionally `effective_date,end_date` (ISO dates) and `category`; `#` lines are
    comments. Every problem is reported with its line and column; rows with problems are
    left out of `rows`."""
    lines = text.lstrip("\ufeff").splitlines()
    numbered = [
        (number, line)
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        return ParsedFeeSchedule((), (RowProblem(1, "header", "the file has no header row"),))
    header_line, header = numbered[0]
    columns = [c.strip() for c in next(csv.reader([header]))]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
    problems = [RowProblem(header_line, c, "required column is missing") for c in missing]
    problems += [RowProblem(header_line, c, "unknown column") for c in unknown]
    if missing:
        return ParsedFeeSchedule((), tuple(problems))
    rows: list[tuple[FeeRow, int]] = []
    for number, values in zip(
        (n for n, _ in numbered[1:]),
        csv.reader(io.StringIO("\n".join(line for _, line in numbered[1:]))),
        strict=True,
    ):
        if len(values) != len(columns):
            problems.append(
                RowProblem(number, "*", f"has {len(values)} fields, the header {len(columns)}")
            )
            continue
        cells = dict(zip(columns, (v.strip() for v in values), strict=True))
        row, row_problems = _fee_row(cells, number)
        problems += row_problems
        if row is not None:
            rows.append((row, number))
    problems += _overlaps(rows)
    return ParsedFeeSchedule(tuple(row for row, _ in rows), tuple(problems))


def _fee_row(values: Mapping[str, str], line: int) -> tuple[FeeRow | None, list[RowProblem]]:
    problems: list[RowProblem] = []
    system = values["code_system"].upper()
    code = values["code"].upper()
    if system == REVENUE_CODE_SYSTEM:
        if not (len(code) == 4 and code.isdigit()):
            problems.append(RowProblem(line, "code", f"{code!r} is not a 4-digit revenue code"))
    elif system in {s.value for s in ProcedureCodeSystem}:
        try:
            code = procedure_code(ProcedureCodeSystem(system), code)
        except ValueError as exc:
            problems.append(RowProblem(line, "code", str(exc)))
    else:
        problems.append(RowProblem(line, "code_system", f"{system!r} is not CPT, HCPCS or REV"))
    modifier = values["modifier"].upper()
    if modifier and not (len(modifier) == 2 and modifier.isalnum()):
        problems.append(RowProblem(line, "modifier", f"{modifier!r} is not a 2-character modifier"))
    try:
        price = Decimal(values["unit_price"])
        if not price.is_finite() or price < 0 or price > MAX_UNIT_PRICE:
            raise InvalidOperation
        if price != price.quantize(Decimal("0.0001")):
            raise InvalidOperation
    except InvalidOperation:
        problems.append(
            RowProblem(
                line,
                "unit_price",
                f"{values['unit_price']!r} is not a price from 0 to {MAX_UNIT_PRICE} "
                "with at most 4 decimals",
            )
        )
        price = Decimal(0)
    dates: dict[str, date | None] = {}
    for column in ("effective_date", "end_date"):
        raw = values.get(column, "")
        try:
            dates[column] = date.fromisoformat(raw) if raw else None
        except ValueError:
            problems.append(RowProblem(line, column, f"{raw!r} is not a date (YYYY-MM-DD)"))
            dates[column] = None
    start, end = dates["effective_date"], dates["end_date"]
    if start and end and end < start:
        problems.append(RowProblem(line, "end_date", "ends before its effective date"))
    if problems:
        return None, problems
    return FeeRow((system, code, modifier), price, start, end), []


def _overlaps(rows: Sequence[tuple[FeeRow, int]]) -> list[RowProblem]:
    """Two prices for one key in force on the same day would make the charge ambiguous."""
    problems = []
    by_key: dict[PriceKey, list[tuple[FeeRow, int]]] = {}
    for row, line in rows:
        by_key.setdefault(row.key, []).append((row, line))
    for key, same in by_key.items():
        ordered = sorted(same, key=lambda pair: pair[0].effective or date.min)
        for (before, _), (after, line) in itertools.pairwise(ordered):
            if before.end is None or (after.effective or date.min) <= before.end:
                system, code, modifier = key
                shown = f"{system} {code}" + (f"-{modifier}" if modifier else "")
                problems.append(
                    RowProblem(
                        line,
                        "effective_date",
                        f"duplicate price for {shown}: its dates overlap another row",
                    )
                )
    return problems


@dataclass(frozen=True)
class FeeSchedule:
    """Unit prices keyed by (code system, code, pricing modifier or ""), each with its dates.

    `fallback` is consulted for a code this schedule does not price: a payer's schedule
    falls back to the tenant's, and that to ClaimFlow's default.
    """

    prices: Mapping[PriceKey, Decimal | tuple[FeeRow, ...]]
    fallback: FeeSchedule | None = None
    name: str = "default"
    _rows: dict[PriceKey, tuple[FeeRow, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for key, value in self.prices.items():
            system, code, modifier = key
            key = (str(getattr(system, "value", system)), code, modifier)
            rows = (FeeRow(key, value),) if isinstance(value, Decimal) else tuple(value)
            self._rows[key] = rows

    @classmethod
    def from_rows(
        cls, rows: Iterable[FeeRow], *, name: str = "default", fallback: FeeSchedule | None = None
    ) -> FeeSchedule:
        grouped: dict[PriceKey, list[FeeRow]] = {}
        for row in rows:
            grouped.setdefault(row.key, []).append(row)
        return cls({k: tuple(v) for k, v in grouped.items()}, fallback=fallback, name=name)

    @classmethod
    def load(cls, path: Path | None = None) -> FeeSchedule:
        """Load a fee schedule CSV; without a path, the default schedule shipped with ClaimFlow.
        Raises `RuleTableError` naming the first problem's line."""
        path = path or DEFAULT_FEE_SCHEDULE
        parsed = parse_fee_schedule_csv(path.read_text(encoding="utf-8"))
        if parsed.problems:
            raise RuleTableError(f"{path.name} {parsed.problems[0]}")
        return cls.from_rows(parsed.rows, name=path.stem)

    def with_fallback(self, fallback: FeeSchedule | None) -> FeeSchedule:
        return FeeSchedule(dict(self._rows), fallback=fallback, name=self.name)

    def _price(self, key: PriceKey, on: date | None) -> Decimal | None:
        rows = self._rows.get(key, ())
        found = next((row for row in rows if row.in_force(on)), None)
        if found is None and on is None and rows:
            found = max(rows, key=lambda r: r.effective or date.min)
        return found.unit_price if found else None

    def unit_price(
        self,
        *,
        code_system: ProcedureCodeSystem,
        code: str,
        modifiers: Iterable[str] = (),
        on: date | None = None,
    ) -> Decimal:
        """The price of one unit on `on`; a modifier-specific row (26, TC) wins over the
        plain row, and this schedule wins over its fallback."""
        modifiers = tuple(modifiers)
        system = ProcedureCodeSystem(code_system).value
        schedule: FeeSchedule | None = self
        while schedule is not None:
            for modifier in (*modifiers, ""):
                price = schedule._price((system, code, modifier), on)
                if price is not None:
                    return price
            schedule = schedule.fallback
        raise UnpricedProcedure(ProcedureCodeSystem(code_system), code, modifiers)

    def revenue_code_price(self, revenue_code: str, *, on: date | None = None) -> Decimal:
        """The per-unit price of a facility line billed by revenue code alone (room and board)."""
        schedule: FeeSchedule | None = self
        while schedule is not None:
            price = schedule._price((REVENUE_CODE_SYSTEM, revenue_code, ""), on)
            if price is not None:
                return price
            schedule = schedule.fallback
        raise UnpricedRevenueCode(revenue_code)

    def price_line(
        self,
        *,
        code_system: ProcedureCodeSystem,
        code: str,
        modifiers: Iterable[str] = (),
        units: int,
        on: date | None = None,
    ) -> Money:
        """Charge for a service line: unit price times units, rounded to cents."""
        if units < 1:
            raise ValueError(f"units must be at least 1, got {units}")
        unit = self.unit_price(code_system=code_system, code=code, modifiers=modifiers, on=on)
        return money(unit * units)


DEFAULT_PAYER = "*"


@dataclass(frozen=True)
class FeeScheduleBook:
    """Every tenant's schedules: per (tenant, payer id), per tenant (payer `*`), then the
    default schedule."""

    default: FeeSchedule
    schedules: Mapping[tuple[str, str], FeeSchedule] = field(default_factory=dict)

    def schedule_for(self, *, tenant_id: str, payer_id: str | None) -> FeeSchedule:
        """The schedule a claim to `payer_id` is priced with, falling back tenant-wide and
        then to the default."""
        tenant = self.schedules.get((tenant_id, DEFAULT_PAYER))
        tenant_chain = tenant.with_fallback(self.default) if tenant else self.default
        payer = self.schedules.get((tenant_id, payer_id)) if payer_id else None
        return payer.with_fallback(tenant_chain) if payer else tenant_chain

    def price(
        self,
        *,
        tenant_id: str,
        payer_id: str | None,
        code_system: ProcedureCodeSystem,
        code: str,
        modifiers: Iterable[str] = (),
        on: date | None = None,
    ) -> Decimal:
        """The unit price for (tenant, payer, code, modifiers, date of service)."""
        schedule = self.schedule_for(tenant_id=tenant_id, payer_id=payer_id)
        return schedule.unit_price(code_system=code_system, code=code, modifiers=modifiers, on=on)

    def with_schedule(
        self, *, tenant_id: str, payer_id: str | None, schedule: FeeSchedule
    ) -> FeeScheduleBook:
        """A new book with `schedule` for the tenant (and payer; None = tenant-wide)."""
        key = (tenant_id, payer_id or DEFAULT_PAYER)
        return FeeScheduleBook(self.default, {**self.schedules, key: schedule})
