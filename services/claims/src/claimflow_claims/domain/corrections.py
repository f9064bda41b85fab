"""The claims that follow a claim: a biller's line corrections, the replacement (frequency 7)
and the void (frequency 8) that carry the payer's claim number, and the id each claim of an
encounter goes by."""

from __future__ import annotations

from collections.abc import Sequence

from claimflow_claims.domain.fee_schedule import (
    FeeSchedule,
    UnpricedProcedure,
    UnpricedRevenueCode,
)
from claimflow_claims.domain.model import Claim, ServiceLine
from claimflow_shared.codes import ProcedureCodeSystem, money, procedure_code
from claimflow_shared.events.models import LineCorrection

# What the letter in a later claim's id says it is.
REPLACEMENT, VOID, NEXT_PAYER = "R", "V", "S"


class InvalidCorrection(ValueError):
    """A correction that cannot apply to the claim (the message names the field)."""


def claim_id_for(encounter_id: str, sequence: int = 1, kind: str = "") -> str:
    """CLM01, the patient control number the payer echoes in CLP01: `C<encounter>-1` for the
    encounter's original claim, `C<encounter>-<R|V|S><n>` for the n-th claim after it (a
    replacement, a void, a claim to the next payer)."""
    body = encounter_id.removeprefix("E")
    return f"C{body}-1" if sequence == 1 and not kind else f"C{body}-{kind}{sequence}"


def _code_system(code: str) -> ProcedureCodeSystem:
    return ProcedureCodeSystem.CPT if code[:1].isdigit() else ProcedureCodeSystem.HCPCS


def corrected_line(
    line: ServiceLine,
    correction: LineCorrection,
    *,
    fee_schedule: FeeSchedule | None,
    index: int,
) -> ServiceLine:
    """The line with the biller's changes, priced again when its code, modifiers or units
    changed and a schedule is given (a revenue-code-only line keeps its price per unit)."""
    changes: dict[str, object] = {}
    if correction.code is not None:
        code = correction.code.strip().upper()
        system = _code_system(code)
        try:
            procedure_code(system, code)
        except ValueError as exc:
            raise InvalidCorrection(f"corrections[{index}].code: {exc}") from None
        changes |= {"code": code, "code_system": system}
    if correction.modifiers is not None:
        changes["modifiers"] = [m.upper() for m in correction.modifiers]
    if correction.units is not None:
        changes["units"] = correction.units
    if correction.diagnosis_pointers is not None:
        changes["diagnosis_pointers"] = list(correction.diagnosis_pointers)
    updated = line.model_copy(update=changes)
    if fee_schedule is None:
        pass
    elif {"code", "modifiers", "units"} & set(changes) and updated.code:
        assert updated.code_system is not None
        changes["charge"] = fee_schedule.price_line(
            code_system=updated.code_system,
            code=updated.code,
            modifiers=updated.modifiers,
            units=updated.units,
            on=updated.service_date,
        )
    elif "units" in changes and line.units:
        changes["charge"] = money(line.charge / line.units * updated.units)
    return ServiceLine.model_validate({**line.model_dump(), **changes})


def apply_corrections(
    claim: Claim, corrections: Sequence[LineCorrection], *, fee_schedule: FeeSchedule | None
) -> Claim:
    """The claim with each corrected line changed (and, given a schedule, priced again),
    the total recomputed."""
    by_number = {line.line_number: line for line in claim.lines}
    seen: set[int] = set()
    for index, correction in enumerate(corrections):
        if correction.line_number not in by_number:
            raise InvalidCorrection(
                f"corrections[{index}].line_number: the claim has no line {correction.line_number}"
            )
        if correction.line_number in seen:
            raise InvalidCorrection(f"corrections[{index}].line_number: corrected twice")
        seen.add(correction.line_number)
        by_number[correction.line_number] = corrected_line(
            by_number[correction.line_number],
            correction,
            fee_schedule=fee_schedule,
            index=index,
        )
    lines = tuple(by_number[line.line_number] for line in claim.lines)
    return claim.model_copy(
        update={
            "lines": lines,
            "total_charge": money(sum((line.charge for line in lines), start=money(0))),
        }
    )


def reprice(claim: Claim, *, fee_schedule: FeeSchedule) -> Claim:
    """The claim priced again from the schedule in force on each line's date (a claim the
    payer never took may follow a schedule imported since); a code still without a price
    is charged 0.00, which the scrubber holds."""
    lines = []
    for line in claim.lines:
        if line.code and line.code_system is not None:
            try:
                charge = fee_schedule.price_line(
                    code_system=line.code_system,
                    code=line.code,
                    modifiers=line.modifiers,
                    units=line.units,
                    on=line.service_date,
                )
            except UnpricedProcedure:
                charge = money(0)
        elif line.revenue_code:
            try:
                unit = fee_schedule.revenue_code_price(line.revenue_code, on=line.service_date)
                charge = money(unit * line.units)
            except UnpricedRevenueCode:
                charge = money(0)
        else:
            charge = line.charge
        lines.append(line.model_copy(update={"charge": charge}))
    return claim.model_copy(
        update={
            "lines": tuple(lines),
            "total_charge": money(sum((line.charge for line in lines), start=money(0))),
        }
    )


def replacement_claim(
    claim: Claim,
    *,
    claim_id: str,
    payer_claim_number: str,
    corrections: Sequence[LineCorrection] = (),
    fee_schedule: FeeSchedule,
) -> Claim:
    """Frequency 7: the whole claim again, as it should have been, replacing the one the
    payer has on file under `payer_claim_number` (REF*F8)."""
    corrected = apply_corrections(claim, corrections, fee_schedule=fee_schedule)
    return corrected.model_copy(
        update={
            "claim_id": claim_id,
            "frequency_code": "7",
            "original_claim_number": payer_claim_number,
        }
    )


def void_claim(claim: Claim, *, claim_id: str, payer_claim_number: str) -> Claim:
    """Frequency 8: the claim exactly as the payer has it on file, asking it to cancel it;
    payers match a void to its original by REF*F8 and the billed services."""
    return claim.model_copy(
        update={
            "claim_id": claim_id,
            "frequency_code": "8",
            "original_claim_number": payer_claim_number,
        }
    )
