"""Provider-level adjustments (835 PLB) of one payment, and what the payer carries for a
payee from one 835 to the next.

- L6: prompt-pay interest on a seeded share of paid claims, reference the payer claim number;
  a negative amount (it adds to the payment).
- WO: overpayment recovery. With `delayed` recovery, the overpayment a reversal and its
  correction create is held back (WO, negative, reference the payer claim number) and
  recouped in the payee's next 835 (WO, positive, the same reference).
- FB: forward balance. A payment that would be negative is brought to zero (FB, negative) and
  the balance is taken from the payee's next payments (FB, positive).

An 835 balances as BPR02 = sum of CLP04 - sum of PLB amounts, and BPR02 is never negative.

One 835 carries at most six adjustments, one PLB segment: the TR3 lets PLB repeat, but
pyx12's map allows its footer loop once, and every file must pass pyx12. So a file holds back
at most two new overpayments (the others are recovered at once, netted in the file), recoups
at most what slots remain of the held ones (the rest wait for a later 835), and reports
interest per claim when it fits, else as one L6 total referencing the file's trace number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from payer_simulator.draws import draw
from payer_simulator.model import ZERO, Adjudication
from payer_simulator.pricing import HUNDRED, money
from payer_simulator.tables import PayerTerms

INTEREST = "L6"
OVERPAYMENT_RECOVERY = "WO"
FORWARD_BALANCE = "FB"
_MAX_DAYS_LATE = 45
MAX_ADJUSTMENTS = 6  # one PLB segment
_MAX_NEW_HOLDS = 2


@dataclass(frozen=True)
class ProviderAdjustment:
    reason: str  # PLB03-1
    reference: str  # PLB03-2
    amount: Decimal  # PLB04: positive reduces the payment


@dataclass(frozen=True)
class HeldRecovery:
    reference: str  # the payer claim number of the overpaid claim
    amount: Decimal


@dataclass(frozen=True)
class PayeeLedger:
    """What the payer carries for one payee between 835s."""

    forward_balance: Decimal = ZERO  # owed by the payee, taken from later payments
    forward_reference: str = ""  # the trace number of the 835 that carried it forward
    held_recoveries: tuple[HeldRecovery, ...] = ()


def settle_payment(
    items: Sequence[Adjudication],
    *,
    ledger: PayeeLedger,
    terms: PayerTerms,
    seed: int,
    interest_rate: float,
    trace_number: str,
) -> tuple[tuple[ProviderAdjustment, ...], PayeeLedger]:
    """The PLB adjustments of one 835 paying `items`, and the payee's ledger after it."""
    free = MAX_ADJUSTMENTS - 1  # one slot stays free for a forward balance
    new_holds = []
    if terms.overpayment_recovery == "delayed":
        new_holds = [HeldRecovery(ref, amount) for ref, amount in overpayments(items)]
        new_holds = new_holds[:_MAX_NEW_HOLDS]
    interest = _interest(items, terms=terms, seed=seed, interest_rate=interest_rate)
    recoup_slots = max(0, free - len(new_holds) - (1 if interest else 0))
    recouped = ledger.held_recoveries[:recoup_slots]
    still_held = ledger.held_recoveries[recoup_slots:]
    adjustments = [
        ProviderAdjustment(OVERPAYMENT_RECOVERY, held.reference, held.amount) for held in recouped
    ]
    adjustments += [
        ProviderAdjustment(OVERPAYMENT_RECOVERY, held.reference, -held.amount) for held in new_holds
    ]
    if len(interest) > free - len(adjustments):
        total = sum((p.amount for p in interest), ZERO)
        interest = [ProviderAdjustment(INTEREST, trace_number, total)]
    adjustments += interest
    net = sum((a.paid for a in items), ZERO) - sum((a.amount for a in adjustments), ZERO)
    balance, reference = ledger.forward_balance, ledger.forward_reference
    if net > 0 and balance > 0:
        taken = min(balance, net)
        adjustments.append(ProviderAdjustment(FORWARD_BALANCE, reference, taken))
        balance -= taken
    elif net < 0:
        adjustments.append(ProviderAdjustment(FORWARD_BALANCE, trace_number, net))
        balance, reference = balance - net, trace_number
    return tuple(adjustments), PayeeLedger(
        forward_balance=balance,
        forward_reference=reference if balance else "",
        held_recoveries=(*still_held, *new_holds),
    )


def overpayments(items: Sequence[Adjudication]) -> list[tuple[str, Decimal]]:
    """Per reversed payer claim number in the file: how much more was taken back than paid
    again by its correction or replacement (a void takes everything back)."""
    found = []
    for reversal in (a for a in items if a.reversal):
        again = sum(
            (a.paid for a in items if a.original_claim_number == reversal.payer_claim_number),
            ZERO,
        )
        overpaid = -(reversal.paid + again)
        if overpaid > 0:
            found.append((reversal.payer_claim_number, overpaid))
    return found


def _interest(
    items: Sequence[Adjudication], *, terms: PayerTerms, seed: int, interest_rate: float
) -> list[ProviderAdjustment]:
    """L6 per claim that earns prompt-pay interest (a seeded share, a seeded delay)."""
    found = []
    for a in items:
        if a.reversal or a.denied or a.paid <= 0 or not interest_rate:
            continue
        if draw(seed, a.payer_claim_number, "interest") >= interest_rate:
            continue
        days = 1 + int(draw(seed, a.payer_claim_number, "interest-days") * _MAX_DAYS_LATE)
        interest = money(a.paid * terms.interest_percent / HUNDRED * days / 365)
        if interest > 0:
            found.append(ProviderAdjustment(INTEREST, a.payer_claim_number, -interest))
    return found
