"""The fee schedule: what the practice charges per unit of a CPT/HCPCS code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from claimflow_claims.domain.tables import DATA_DIR, RuleTableError, read_rule_table
from claimflow_shared.codes import Money, ProcedureCodeSystem, money, procedure_code

DEFAULT_FEE_SCHEDULE = DATA_DIR / "fee_schedule.csv"

PriceKey = tuple[ProcedureCodeSystem, str, str]


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


@dataclass(frozen=True)
class FeeSchedule:
    """Unit prices keyed by (code system, code, pricing modifier or "")."""

    prices: Mapping[PriceKey, Decimal]

    @classmethod
    def load(cls, path: Path | None = None) -> FeeSchedule:
        """Load a fee schedule CSV; without a path, the default schedule shipped with ClaimFlow."""
        path = path or DEFAULT_FEE_SCHEDULE
        prices: dict[PriceKey, Decimal] = {}
        rows = read_rule_table(path, columns=("code_system", "code", "modifier", "unit_price"))
        for number, row in enumerate(rows, start=2):
            try:
                system = ProcedureCodeSystem(row["code_system"])
                key = (system, procedure_code(system, row["code"]), row["modifier"].upper())
                price = Decimal(row["unit_price"])
            except (ValueError, InvalidOperation) as exc:
                raise RuleTableError(f"{path.name} row {number}: {exc}") from exc
            if not price.is_finite() or price < 0:
                raise RuleTableError(f"{path.name} row {number}: price must be zero or more")
            if key in prices:
                raise RuleTableError(f"{path.name} row {number}: duplicate price for {key}")
            prices[key] = price
        return cls(prices=prices)

    def unit_price(
        self, *, code_system: ProcedureCodeSystem, code: str, modifiers: Iterable[str] = ()
    ) -> Decimal:
        """The price of one unit; a modifier-specific row (26, TC) wins over the plain row."""
        modifiers = tuple(modifiers)
        for modifier in (*modifiers, ""):
            price = self.prices.get((ProcedureCodeSystem(code_system), code, modifier))
            if price is not None:
                return price
        raise UnpricedProcedure(code_system, code, modifiers)

    def price_line(
        self,
        *,
        code_system: ProcedureCodeSystem,
        code: str,
        modifiers: Iterable[str] = (),
        units: int,
    ) -> Money:
        """Charge for a service line: unit price times units, rounded to cents."""
        if units < 1:
            raise ValueError(f"units must be at least 1, got {units}")
        unit = self.unit_price(code_system=code_system, code=code, modifiers=modifiers)
        return money(unit * units)
