"""What one CLP of an 835 will post, decided when the file is read (`prepare_file`), and
completed against its submitted claim when that is known (`complete_posting`): the amounts,
the lines matched to the claim's lines, the denial and its deadline, the next payer and the
events. A payment that arrives before its claim is known waits as a `ClaimPosting` (no 835
is ever read twice) and is completed and posted as it is once the claim is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache

from pydantic import TypeAdapter

from claimflow_remittance.domain.crossover import next_payer_action
from claimflow_remittance.domain.denials import DenialCategory, appeal_deadline, categorize_denial
from claimflow_remittance.domain.era_model import ClaimPayment, Problem, Remittance
from claimflow_remittance.domain.events import (
    claim_denied_payload,
    patient_reasons,
    remittance_received_payload,
)
from claimflow_remittance.domain.line_posting import (
    ClaimLinePosting,
    post_service_lines,
    total_adjustments,
)
from claimflow_remittance.domain.matching import SubmittedClaim, WorkItem
from claimflow_remittance.domain.posting import PostingStatus, all_adjustments, post_claim_payment
from claimflow_remittance.domain.problems import problem
from claimflow_shared.events import (
    ClaimDenied,
    Patient,
    PatientBalanceDue,
    RemittanceAdjustment,
    RemittanceReceived,
)
from claimflow_shared.events.models import CrossoverInfo

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class RemittanceHeader:
    """What an 835 transaction says once for all its claims: who paid whom, how and when."""

    transaction: int  # index of the ST*835 in the file, from 0
    control_number: str
    payer_id: str | None
    payer_name: str
    payee_npi: str | None
    payee_name: str
    trace_number: str
    payment_method: str
    payment_date: date | None

    @classmethod
    def of(cls, remittance: Remittance, transaction: int) -> RemittanceHeader:
        return cls(
            transaction=transaction,
            control_number=remittance.control_number,
            payer_id=remittance.payer.payer_id,
            payer_name=remittance.payer.name,
            payee_npi=remittance.payee.npi,
            payee_name=remittance.payee.name,
            trace_number=remittance.trace.number,
            payment_method=remittance.payment.method,
            payment_date=remittance.payment.date or remittance.production_date,
        )


@dataclass(frozen=True)
class ClaimPosting:
    """One CLP, read and judged, ready to post to its claim once that is known."""

    file_id: str
    header: RemittanceHeader
    payment: ClaimPayment
    status: PostingStatus
    charge: Decimal
    paid: Decimal
    allowed: Decimal
    patient_responsibility: Decimal
    denied_amount: Decimal
    # CO write-downs that are not denials (CO-45): what the contract says is not owed.
    contractual: Decimal
    denial: DenialCategory | None
    received: RemittanceReceived
    denied: ClaimDenied | None = None
    patient_reasons: tuple[RemittanceAdjustment, ...] = ()

    @property
    def transaction(self) -> int:
        return self.header.transaction

    @property
    def position(self) -> int:
        return self.payment.position

    @property
    def key(self) -> str:
        """The CLP's place in its file: what postings and work items are keyed by."""
        return f"{self.file_id}:{self.header.transaction}:{self.payment.position}"

    @property
    def claim_id(self) -> str:
        return self.payment.claim_id

    @property
    def payer_claim_number(self) -> str:
        return self.payment.payer_claim_number

    @property
    def status_code(self) -> str:
        return self.payment.status_code

    @property
    def denial_category(self) -> str | None:
        return self.denial.category if self.denial else None


@cache
def _adapter() -> TypeAdapter[ClaimPosting]:
    return TypeAdapter(ClaimPosting)


def dump_posting(posting: ClaimPosting) -> str:
    """A prepared posting as JSON, to wait for its claim."""
    return _adapter().dump_json(posting).decode()


def load_posting(text: str) -> ClaimPosting:
    return _adapter().validate_json(text)


def prepare_claim_posting(
    remittance: Remittance, payment: ClaimPayment, *, file_id: str, transaction: int
) -> ClaimPosting:
    """Decide what the CLP posts; ValueError when the contract cannot carry what it says."""
    posting = post_claim_payment(payment)
    has_denial = posting.status in ("denied", "partially-paid")
    rarcs = [*payment.remarks, *(r for line in payment.service_lines for r in line.remarks)]
    everything = all_adjustments(payment)
    denial = categorize_denial(everything, rarcs) if has_denial else None
    totals = total_adjustments(everything)
    denied = None
    if denial is not None:
        denied = claim_denied_payload(payment, posting, denial).model_copy(
            update={
                "partial": posting.status == "partially-paid",
                "action": denial.action,
                "subcategory": denial.subcategory,
                "payer_id": remittance.payer.payer_id,
            }
        )
    return ClaimPosting(
        file_id=file_id,
        header=RemittanceHeader.of(remittance, transaction),
        payment=payment,
        status=posting.status,
        charge=posting.charge,
        paid=posting.paid,
        allowed=posting.allowed,
        patient_responsibility=posting.patient_responsibility,
        denied_amount=posting.denied_amount,
        contractual=totals.contractual_writeoff,
        denial=denial,
        received=remittance_received_payload(remittance, payment, posting, file_id=file_id),
        denied=denied,
        patient_reasons=tuple(patient_reasons(payment))
        if posting.patient_responsibility > 0
        else (),
    )


def prepare_file(
    remittances: list[Remittance] | tuple[Remittance, ...],
    *,
    file_id: str,
    transactions: set[int] | None = None,
) -> tuple[list[ClaimPosting], list[tuple[int, Problem]]]:
    """Every CLP of a file (or of the transactions named), prepared; one the contract cannot
    carry becomes a `not-postable` problem of its transaction."""
    prepared: list[ClaimPosting] = []
    problems: list[tuple[int, Problem]] = []
    for index, remittance in enumerate(remittances):
        if transactions is not None and index not in transactions:
            continue
        for payment in remittance.claims:
            try:
                prepared.append(
                    prepare_claim_posting(remittance, payment, file_id=file_id, transaction=index)
                )
            except ValueError as exc:
                found = problem(
                    "not-postable", payment.position, "CLP", f"not posted: {_reason(exc)}"
                )
                problems.append((index, found))
    return prepared, problems


@dataclass(frozen=True)
class CompletedPosting:
    """A prepared CLP against the claim it pays: lines matched, events final."""

    prepared: ClaimPosting
    lines: ClaimLinePosting
    received: RemittanceReceived
    denied: ClaimDenied | None
    denied_on: date
    work_items: tuple[WorkItem, ...]

    @property
    def crossover(self) -> CrossoverInfo | None:
        return self.received.crossover

    def balance_due(self, patient: Patient) -> PatientBalanceDue | None:
        """`patient.balance-due` for the claim's patient (the 835 carries no demographics);
        a reversal lowers the balance, which is a credit, not a balance due."""
        prepared = self.prepared
        if prepared.patient_responsibility <= 0 or prepared.status == "reversed":
            return None
        return PatientBalanceDue(
            claim_id=prepared.claim_id,
            patient=patient,
            amount=prepared.patient_responsibility,
            reasons=list(prepared.patient_reasons),
            service_date=self.service_date,
            total_charge=prepared.charge,
            insurance_paid=prepared.paid,
            payer_claim_number=prepared.payer_claim_number or None,
        )

    @property
    def service_date(self) -> date | None:
        payment = self.prepared.payment
        dates = [line.service_date for line in payment.service_lines if line.service_date]
        return min(dates, default=payment.statement_from)


def complete_posting(
    prepared: ClaimPosting,
    claim: SubmittedClaim,
    *,
    today: date,
    has_secondary_coverage: bool = False,
) -> CompletedPosting:
    """Match the CLP's lines to the submitted claim's and finish its events: the line numbers
    each SVC pays, the lines denied, the appeal deadline, and whether another payer is next."""
    lines = post_service_lines(prepared.payment, claim)
    by_position = {line.position: line for line in lines.lines}
    received_lines = [
        line.model_copy(update={"submitted_line_numbers": list(entry.line_numbers)})
        if (entry := by_position.get(svc.position)) is not None and entry.line_numbers
        else line
        for line, svc in zip(prepared.received.lines, prepared.payment.service_lines, strict=True)
    ]
    next_payer = (
        next_payer_action(prepared.payment, has_secondary_coverage=has_secondary_coverage)
        if prepared.status != "reversed"
        else None
    )
    crossover = None
    if next_payer is not None:
        carrier = prepared.payment.crossover_carrier
        crossover = CrossoverInfo(
            action=next_payer[0],
            reason=next_payer[1],
            carrier_name=(carrier.name or None) if carrier else None,
            carrier_id=(carrier.id or None) if carrier else None,
        )
    received = prepared.received.model_copy(
        update={"lines": received_lines, "crossover": crossover}
    )
    denied_on = prepared.header.payment_date or today
    denied = prepared.denied
    if denied is not None:
        denied_lines = sorted(
            {n for entry in lines.lines if entry.denied > 0 for n in entry.line_numbers}
        )
        deadline = (
            appeal_deadline(
                denied_on,
                payer_id=prepared.header.payer_id,
                filing_indicator=prepared.payment.filing_indicator,
            )
            if denied.appealable
            else None
        )
        denied = denied.model_copy(
            update={"denied_lines": denied_lines, "appeal_deadline": deadline}
        )
    return CompletedPosting(
        prepared=prepared,
        lines=lines,
        received=received,
        denied=denied,
        denied_on=denied_on,
        work_items=lines.work_items,
    )


def _reason(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)[:200]
