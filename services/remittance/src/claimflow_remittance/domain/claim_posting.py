"""What one CLP of an 835 will post, decided when the file is read: the amounts, the denial
category and the events it causes. A payment that arrives before its claim is known waits
as this (no 835 is ever read twice), and is posted as it is once the claim is."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from claimflow_remittance.domain.denials import categorize_denial
from claimflow_remittance.domain.era_model import ClaimPayment, Problem, Remittance
from claimflow_remittance.domain.events import (
    claim_denied_payload,
    patient_reasons,
    remittance_received_payload,
)
from claimflow_remittance.domain.posting import all_adjustments, post_claim_payment
from claimflow_remittance.domain.problems import problem
from claimflow_shared.events import (
    ClaimDenied,
    Patient,
    PatientBalanceDue,
    RemittanceAdjustment,
    RemittanceReceived,
)


class ClaimPosting(BaseModel):
    """One CLP, ready to post to its claim."""

    model_config = ConfigDict(frozen=True)

    file_id: str
    transaction: int
    position: int
    claim_id: str
    payer_claim_number: str
    status: str
    charge: Decimal
    paid: Decimal
    allowed: Decimal
    patient_responsibility: Decimal
    denied_amount: Decimal
    denial_category: str | None
    received: RemittanceReceived
    denied: ClaimDenied | None = None
    patient_reasons: list[RemittanceAdjustment] = []

    def balance_due(self, patient: Patient) -> PatientBalanceDue | None:
        """`patient.balance-due` for the claim's patient (the 835 carries no demographics)."""
        if self.patient_responsibility <= 0:
            return None
        return PatientBalanceDue(
            claim_id=self.claim_id,
            patient=patient,
            amount=self.patient_responsibility,
            reasons=self.patient_reasons,
        )


def prepare_claim_posting(
    remittance: Remittance, payment: ClaimPayment, *, file_id: str, transaction: int
) -> ClaimPosting:
    """Decide what the CLP posts; ValueError when the contract cannot carry what it says."""
    posting = post_claim_payment(payment)
    rarcs = [*payment.remarks, *(r for line in payment.service_lines for r in line.remarks)]
    denial = (
        categorize_denial(all_adjustments(payment), rarcs) if posting.status == "denied" else None
    )
    return ClaimPosting(
        file_id=file_id,
        transaction=transaction,
        position=payment.position,
        claim_id=payment.claim_id,
        payer_claim_number=payment.payer_claim_number,
        status=posting.status,
        charge=posting.charge,
        paid=posting.paid,
        allowed=posting.allowed,
        patient_responsibility=posting.patient_responsibility,
        denied_amount=posting.denied_amount,
        denial_category=denial.category if denial else None,
        received=remittance_received_payload(remittance, payment, posting, file_id=file_id),
        denied=claim_denied_payload(payment, posting, denial) if denial else None,
        patient_reasons=patient_reasons(payment) if posting.patient_responsibility > 0 else [],
    )


def prepare_file(
    remittances: list[Remittance], *, file_id: str
) -> tuple[list[ClaimPosting], list[Problem]]:
    """Every CLP of a file, prepared; one the contract cannot carry becomes a problem."""
    prepared: list[ClaimPosting] = []
    problems: list[Problem] = []
    for index, remittance in enumerate(remittances):
        for payment in remittance.claims:
            try:
                prepared.append(
                    prepare_claim_posting(remittance, payment, file_id=file_id, transaction=index)
                )
            except ValueError as exc:
                problems.append(
                    problem("not-postable", payment.position, "CLP", f"not posted: {_reason(exc)}")
                )
    return prepared, problems


def _reason(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)[:200]
