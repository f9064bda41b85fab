"""What an X12 835 remittance advice (005010X221A1) says, as frozen values.

The reader (`era_reader`) builds these; posting, denials and events only ever read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

ZERO = Decimal("0.00")
ONE = Decimal("1")

# What a problem does to the file: post it, post it and flag it for review, or hold it whole.
Policy = Literal["post", "flag", "hold"]

# CR was dropped from CAS01 in 5010 but reversals from older payer systems still carry it.
KNOWN_GROUPS = frozenset({"CO", "CR", "OA", "PI", "PR"})
# CLP02 codes of 005010X221A1: 1-3 processed as primary/secondary/tertiary, 4 denied,
# 19-21 processed and forwarded, 22 reversal, 23 not our claim, 25 predetermination.
KNOWN_CLAIM_STATUSES = frozenset({"1", "2", "3", "4", "19", "20", "21", "22", "23", "25"})
IMPLEMENTATION_GUIDE = "005010X221A1"


@dataclass(frozen=True)
class Problem:
    """Something the reader cannot vouch for, where it is, and what it does to the file.

    `kind` names the rule broken (see `data/problem_policies.csv`), `policy` what that kind
    does to the file; `position` is the segment's ordinal in the file (1 = first segment).
    """

    kind: str
    position: int
    segment_id: str
    message: str
    policy: Policy = "flag"


@dataclass(frozen=True)
class Adjustment:
    """One CAS triplet: group (CO, PR, OA, PI, CR), CARC, amount, adjusted units."""

    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(frozen=True)
class Procedure:
    """SVC01 / SVC06 composite: qualifier (HC, AD, NU, ...), code, modifiers."""

    qualifier: str
    code: str
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServicePayment:
    """One SVC loop (2110): what the payer did with one service line."""

    procedure: Procedure
    charge: Decimal
    paid: Decimal
    units: Decimal = ONE
    revenue_code: str = ""
    original_procedure: Procedure | None = None
    original_units: Decimal | None = None
    service_date: date | None = None
    service_end_date: date | None = None
    adjustments: tuple[Adjustment, ...] = ()
    remarks: tuple[str, ...] = ()
    allowed: Decimal | None = None
    control_number: str | None = None
    position: int = 0


@dataclass(frozen=True)
class PatientName:
    """NM1*QC: the patient as the payer knows them (minimum necessary: name and member id)."""

    last_name: str
    first_name: str
    member_id: str


@dataclass(frozen=True)
class Party:
    """An NM1 entity of the claim loop: a crossover carrier (TT) or corrected payer (PR)."""

    name: str
    id_qualifier: str = ""
    id: str = ""


@dataclass(frozen=True)
class ClaimPayment:
    """One CLP loop (2100): the payer's decision on one claim."""

    claim_id: str
    status_code: str
    total_charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    filing_indicator: str = ""
    payer_claim_number: str = ""
    facility_code: str = ""
    frequency_code: str = ""
    patient: PatientName | None = None
    statement_from: date | None = None
    statement_to: date | None = None
    adjustments: tuple[Adjustment, ...] = ()
    remarks: tuple[str, ...] = ()
    service_lines: tuple[ServicePayment, ...] = ()
    position: int = 0
    # NM1*TT: the payer forwarded the claim to this carrier (Medicare crossover).
    crossover_carrier: Party | None = None
    # NM1*PR in the claim loop: the payer says another payer is primary.
    corrected_priority_payer: Party | None = None
    # MIA (inpatient) / MOA (outpatient) adjudication information: Medicare-style remits.
    inpatient_adjudication: bool = False
    outpatient_adjudication: bool = False
    # REF*F8: the payer's claim number of the claim this one corrects or reverses.
    original_reference: str = ""
    received_date: date | None = None


@dataclass(frozen=True)
class Payer:
    name: str
    payer_id: str | None


@dataclass(frozen=True)
class Payee:
    name: str
    npi: str | None
    tax_id: str | None


@dataclass(frozen=True)
class Payment:
    """BPR: BPR01 handling (I remit only, C pay and remit, H notice), BPR02, BPR03, BPR04, BPR16."""

    handling_code: str
    amount: Decimal
    credit_debit: str
    method: str
    date: date | None
    position: int = 0

    @property
    def signed_amount(self) -> Decimal:
        # BPR02 is always unsigned; BPR03 "D" means the payer takes the money back.
        return -self.amount if self.credit_debit == "D" else self.amount


@dataclass(frozen=True)
class Trace:
    """TRN: the check or EFT trace number and who originated it (TRN03, usually 1 + EIN)."""

    number: str
    originator_id: str


@dataclass(frozen=True)
class ProviderAdjustment:
    """One PLB reason/amount pair; a positive amount reduces the payment."""

    provider_id: str
    fiscal_period_end: date | None
    reason: str
    reference: str
    amount: Decimal
    position: int = 0


@dataclass(frozen=True)
class Remittance:
    """One ST*835 transaction: one payment (or notice) from one payer to one payee."""

    control_number: str
    payer: Payer
    payee: Payee
    payment: Payment
    trace: Trace
    production_date: date | None
    claims: tuple[ClaimPayment, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]
    problems: tuple[Problem, ...]
    position: int = 0
    # GS08 of the enclosing functional group; "" when the file has no envelope.
    version: str = ""
    # Every N1*PE loop in order; more than one is a problem, `payee` is the first.
    payees: tuple[Payee, ...] = ()
