"""Reversals (CLP02 22): undo the earlier posting of the same claim, found by the payer's
claim number, and recognise the corrected payment that usually follows in the same file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from claimflow_remittance.domain.era_model import ClaimPayment
from claimflow_remittance.domain.matching import WorkItem

REVERSAL = "22"
# A corrected payment repeats the claim as processed primary, secondary or tertiary.
CORRECTION_STATUSES = frozenset({"1", "2", "3", "4", "19", "20", "21"})


@dataclass(frozen=True)
class PostedClaim:
    """What the ledger holds of an earlier posting of a claim."""

    posting_id: str
    claim_id: str
    payer_claim_number: str
    status_code: str
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    reversed: bool = False


@dataclass(frozen=True)
class ReversalPosting:
    """The reversal as posted: its own (negative) amounts, linked to what it undoes."""

    claim_id: str
    payer_claim_number: str
    reverses: str  # posting id of the original
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    # Why the amounts do not mirror the original exactly (a partial reversal), if they do not.
    differences: tuple[str, ...] = ()


def plan_reversal(
    reversal: ClaimPayment, earlier: Sequence[PostedClaim]
) -> ReversalPosting | WorkItem:
    """Link a CLP02 22 to the posting it undoes, or say why it cannot be linked."""
    wanted = {reversal.payer_claim_number, reversal.original_reference} - {""}
    candidates = [
        p
        for p in earlier
        if p.claim_id == reversal.claim_id
        and not p.reversed
        and p.status_code != REVERSAL
        and p.payer_claim_number in wanted
    ]
    if not candidates:
        return WorkItem(
            "reversal-without-original",
            reversal.claim_id,
            reversal.position,
            "no unreversed posting of this claim under the reversal's payer claim number",
            reversal.paid,
        )
    # Payers reverse the latest adjudication first when a claim was adjusted several times.
    original = candidates[-1]
    charge, paid, patient = _reversal_signs(reversal)
    differences = tuple(
        f"{name} reverses {-amount} of {posted}"
        for name, amount, posted in (
            ("charge", charge, original.charge),
            ("payment", paid, original.paid),
            ("patient responsibility", patient, original.patient_responsibility),
        )
        if -amount != posted
    )
    return ReversalPosting(
        claim_id=reversal.claim_id,
        payer_claim_number=reversal.payer_claim_number,
        reverses=original.posting_id,
        charge=charge,
        paid=paid,
        patient_responsibility=patient,
        differences=differences,
    )


def _reversal_signs(reversal: ClaimPayment) -> tuple[Decimal, Decimal, Decimal]:
    """The guide sends reversal amounts negated; a payer that sent them positive is corrected."""
    amounts = (reversal.total_charge, reversal.paid, reversal.patient_responsibility)
    if reversal.total_charge > 0:
        return tuple(-a for a in amounts)  # type: ignore[return-value]
    return amounts


@dataclass(frozen=True)
class ReversalPair:
    reversal: ClaimPayment
    correction: ClaimPayment | None


def pair_reversals(payments: Sequence[ClaimPayment]) -> tuple[ReversalPair, ...]:
    """Each reversal of a file with the corrected payment of the same claim after it, if any."""
    pairs = []
    taken: set[int] = set()
    for index, payment in enumerate(payments):
        if payment.status_code != REVERSAL:
            continue
        correction = None
        for later_index in range(index + 1, len(payments)):
            later = payments[later_index]
            if (
                later_index not in taken
                and later.claim_id == payment.claim_id
                and later.status_code in CORRECTION_STATUSES
            ):
                correction = later
                taken.add(later_index)
                break
        pairs.append(ReversalPair(payment, correction))
    return tuple(pairs)
