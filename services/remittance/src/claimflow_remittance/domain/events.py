"""Map read and posted remittances onto the shared event payloads (no envelope, no I/O).

The mappers raise ValueError (pydantic's ValidationError is one) when the 835 carries something
the contract cannot: an unknown CAS group, a CLP01 outside the claim id format, a bad CARC.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from claimflow_remittance.domain.denials import DenialCategory, is_denial
from claimflow_remittance.domain.era_model import (
    Adjustment,
    ClaimPayment,
    Remittance,
    ServicePayment,
)
from claimflow_remittance.domain.posting import Posting, all_adjustments
from claimflow_shared.codes import AdjustmentGroup
from claimflow_shared.events.models import (
    ClaimDenied,
    LineAdjustment,
    Patient,
    PatientBalanceDue,
    PaymentInfo,
    RemittanceAdjustment,
    RemittanceReceived,
)


def adjustment_group(code: str) -> AdjustmentGroup:
    """The shared enum member for a CAS01 group code; ValueError if there is none."""
    try:
        return AdjustmentGroup(code.strip().upper())
    except ValueError:
        raise ValueError(
            f"CAS group {code!r} has no AdjustmentGroup in the shared contract"
        ) from None


def remittance_received_payload(
    remittance: Remittance, payment: ClaimPayment, posting: Posting, *, file_id: str
) -> RemittanceReceived:
    """`remittance.received` for one claim of an 835."""
    return RemittanceReceived(
        claim_id=payment.claim_id,
        payer_claim_number=payment.payer_claim_number,
        status_code=payment.status_code,
        status=posting.status,
        total_charge=payment.total_charge,
        paid=payment.paid,
        allowed=posting.allowed,
        patient_responsibility=posting.patient_responsibility,
        claim_adjustments=_adjustments(payment.adjustments),
        lines=[_line(number, line) for number, line in enumerate(payment.service_lines, start=1)],
        rarcs=list(payment.remarks),
        payment=PaymentInfo(
            method=remittance.payment.method,
            trace_number=remittance.trace.number,
            payment_date=remittance.payment.date,
            payer_id=remittance.payer.payer_id,
            payer_name=remittance.payer.name or None,
            payee_npi=remittance.payee.npi,
        ),
        remittance_file_id=file_id,
        original_payer_claim_number=payment.original_reference or None,
        claim_filing_indicator=payment.filing_indicator or None,
    )


def claim_denied_payload(
    payment: ClaimPayment, posting: Posting, category: DenialCategory
) -> ClaimDenied:
    """`claim.denied` for a denied or partially paid claim: the denial reasons, not write-downs."""
    everything = all_adjustments(payment)
    reasons = [a for a in everything if is_denial(a)] or [a for a in everything if a.group != "PR"]
    if not reasons:
        raise ValueError(f"claim {payment.claim_id} has no adjustment to explain a denial")
    return ClaimDenied(
        claim_id=payment.claim_id,
        payer_claim_number=payment.payer_claim_number or None,
        adjustments=_adjustments(reasons),
        rarcs=_unique(
            [*payment.remarks, *(r for line in payment.service_lines for r in line.remarks)]
        ),
        denied_amount=posting.denied_amount,
        category=category.category,
        recommended_action=category.recommended_action,
        appealable=category.appealable,
    )


def patient_balance_payload(
    payment: ClaimPayment, posting: Posting, *, patient: Patient
) -> PatientBalanceDue | None:
    """`patient.balance-due` when the payer left something to the patient, else None.

    The 835 names the patient but carries no demographics, so the caller brings the `Patient`
    it holds from the claim. A reversal lowers the balance; that is a credit, not a balance due.
    """
    if posting.patient_responsibility <= 0:
        return None
    return PatientBalanceDue(
        claim_id=payment.claim_id,
        patient=patient,
        amount=posting.patient_responsibility,
        reasons=patient_reasons(payment),
    )


def patient_reasons(payment: ClaimPayment) -> list[RemittanceAdjustment]:
    """The patient-responsibility (PR) adjustments of a claim payment, claim and lines."""
    return _adjustments(a for a in all_adjustments(payment) if a.group == "PR")


def _line(number: int, line: ServicePayment) -> LineAdjustment:
    # Position in the remit, not the 837 line number: payers may split or reorder lines; the
    # submitted line numbers are filled in once the claim's lines are matched (at posting).
    return LineAdjustment(
        line_number=number,
        code=line.procedure.code,
        modifiers=list(line.procedure.modifiers),
        charge=line.charge,
        paid=line.paid,
        allowed=line.allowed,
        units=_whole(line.units),
        adjustments=_adjustments(line.adjustments),
        rarcs=list(line.remarks),
        control_number=line.control_number or None,
        service_date=line.service_date,
    )


def _adjustments(adjustments: Iterable[Adjustment]) -> list[RemittanceAdjustment]:
    return [
        RemittanceAdjustment(
            group=adjustment_group(a.group),
            carc=a.reason,
            amount=a.amount,
            quantity=_whole(a.quantity),
        )
        for a in adjustments
    ]


def _whole(quantity: Decimal | None) -> int | None:
    if quantity is None or quantity != quantity.to_integral_value():
        return None
    return int(quantity)


def _unique(codes: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(codes))
