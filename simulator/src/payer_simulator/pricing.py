"""What the payer allows for a line under its contract with the provider: a fee schedule
amount per unit (adjusted by pricing modifiers) or a percent of the charge, never more than
the charge. The rest of the charge is the contractual write-off, CO-45."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from payer_simulator.draws import draw, pick
from payer_simulator.reader837 import ServiceLine, SubmittedClaim
from payer_simulator.tables import Contract, PayerTables

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def contract_for(tables: PayerTables, payer_id: str, *, seed: int) -> Contract:
    """The payer's named contract, else one the seed draws for this payer id, by weight."""
    named = tables.terms_for(payer_id).contract
    if named:
        return tables.contracts[named]
    weighted = [c for c in tables.contracts.values() if c.weight]
    return pick(weighted, draw(seed, payer_id, "contract"))


def allowed_amount(
    line: ServiceLine,
    claim: SubmittedClaim,
    contract: Contract,
    tables: PayerTables,
    *,
    percent: Decimal = HUNDRED,
) -> Decimal:
    """The contract's allowed amount for the line, scaled by `percent` (a reprocessing's
    repricing), capped at the charge: payers allow the lesser of the charge and the fee."""
    if line.charge <= 0:
        return Decimal("0.00")
    if claim.claim_type == "837I":
        base = line.charge * contract.institutional_percent / HUNDRED
    else:
        fee = tables.fee_schedule.get((contract.contract, line.procedure_code))
        if fee is None:
            base = line.charge * contract.professional_percent / HUNDRED
        else:
            base = fee * max(line.units, Decimal(0))
            for modifier in line.modifiers:
                factor = tables.modifier_percent.get(modifier)
                if factor is not None:
                    base = base * factor / HUNDRED
    return min(line.charge, max(Decimal("0.00"), money(base * percent / HUNDRED)))
