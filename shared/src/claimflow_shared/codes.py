"""Domain value types that validate themselves: money, code-set codes, NPIs, identifiers."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

CENT = Decimal("0.01")


def to_money(value: object) -> Decimal:
    if isinstance(value, float):
        # Floats cannot carry cents exactly; accept them only through their shortest repr.
        value = repr(value)
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError("not an amount of money") from exc
    if not amount.is_finite():
        raise ValueError("amount must be finite")
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise ValueError("amount has more than two decimal places")
    return amount.quantize(CENT)


def money(value: object) -> Decimal:
    """Round a computed amount to cents, half up, as payers do."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


Money = Annotated[
    Decimal,
    BeforeValidator(to_money),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
    Field(json_schema_extra={"format": "decimal", "pattern": r"^-?\d+(\.\d{1,2})?$"}),
]

# U00-U85 are codes for special purposes; the tabular holds U07.1 (COVID-19) and U09.9.
_ICD10CM = re.compile(r"^[A-Z][0-9][0-9AB][0-9A-Z]{0,4}$")
_CPT = re.compile(r"^[0-9]{4}[0-9FTU]$")
_HCPCS = re.compile(r"^[A-V][0-9]{4}$")
_MODIFIER = re.compile(r"^[0-9A-Z]{2}$")
_POS = re.compile(r"^[0-9]{2}$")
_CARC = re.compile(r"^(?:[0-9]{1,3}|[A-Z][0-9]{1,2})$")
_RARC = re.compile(r"^(?:M|MA|N)[0-9]{1,3}$")


def normalize_icd10cm(value: str) -> str:
    code = str(value).strip().upper().replace(".", "")
    if not _ICD10CM.match(code):
        raise ValueError("not an ICD-10-CM code (letter, digit, digit/A/B, up to 4 more)")
    return code


def _cpt(value: str) -> str:
    code = str(value).strip().upper()
    if not _CPT.match(code):
        raise ValueError("not a CPT code (4 digits then a digit, F, T or U)")
    return code


def _hcpcs(value: str) -> str:
    code = str(value).strip().upper()
    if not _HCPCS.match(code):
        raise ValueError("not a HCPCS Level II code (letter A-V then 4 digits)")
    return code


def _pattern(regex: re.Pattern[str], what: str):
    def check(value: str) -> str:
        code = str(value).strip().upper()
        if not regex.match(code):
            raise ValueError(f"not a valid {what}")
        return code

    return check


def npi_check_digit(first_nine: str) -> int:
    """Luhn check digit over the 9 digits prefixed with 80840 (CMS NPI standard)."""
    digits = [int(d) for d in "80840" + first_nine]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def _npi(value: str) -> str:
    npi = str(value).strip()
    if not (len(npi) == 10 and npi.isdigit()):
        raise ValueError("not an NPI (10 digits)")
    if npi_check_digit(npi[:9]) != int(npi[9]):
        raise ValueError("fails the NPI check digit")
    return npi


Icd10CmCode = Annotated[str, AfterValidator(normalize_icd10cm), Field(examples=["E119"])]
CptCode = Annotated[str, AfterValidator(_cpt), Field(examples=["99213"])]
HcpcsCode = Annotated[str, AfterValidator(_hcpcs), Field(examples=["J1100"])]
Modifier = Annotated[str, AfterValidator(_pattern(_MODIFIER, "modifier")), Field(examples=["25"])]
PlaceOfService = Annotated[str, AfterValidator(_pattern(_POS, "place of service code"))]
Carc = Annotated[str, AfterValidator(_pattern(_CARC, "CARC")), Field(examples=["45"])]
Rarc = Annotated[str, AfterValidator(_pattern(_RARC, "RARC")), Field(examples=["N130"])]
Npi = Annotated[str, AfterValidator(_npi), Field(examples=["1234567893"])]
TenantId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
EncounterId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# CLP01 / CLM01 (patient control number) allows 38 characters; ours stay well inside it.
ClaimId = Annotated[str, Field(min_length=1, max_length=38, pattern=r"^[A-Za-z0-9-]+$")]


class ProcedureCodeSystem(StrEnum):
    CPT = "CPT"
    HCPCS = "HCPCS"


class AdjustmentGroup(StrEnum):
    """CAS01 claim adjustment group codes: CO, OA, PI, PR in 5010; CR only in 4010 files,
    still seen in reversals; OI kept for the design brief's contract."""

    CONTRACTUAL = "CO"
    PATIENT_RESPONSIBILITY = "PR"
    OTHER_ADJUSTMENT = "OA"
    PAYER_INITIATED = "PI"
    CORRECTION = "CR"
    OTHER_INSURANCE = "OI"


def procedure_code(system: ProcedureCodeSystem, code: str) -> str:
    """Validate a procedure code against its code system's format."""
    return _cpt(code) if system is ProcedureCodeSystem.CPT else _hcpcs(code)
