"""The claim as the events carry it: lines, findings and the payloads the claims service
publishes (`claim.submitted`, `claim.accepted`, `claim.held`, `claim.rejected`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from claimflow_claims.domain.model import Claim
from claimflow_claims.domain.scrubber import ScrubFinding, Severity
from claimflow_shared.codes import ProcedureCodeSystem
from claimflow_shared.events.models import (
    ClaimAccepted,
    ClaimHeld,
    ClaimLine,
    ClaimRejected,
    ClaimSubmitted,
    EditFinding,
    PayerRef,
)


def line_control_number(line_number: int) -> str:
    """REF*6R of a line: its number, which the payer echoes on the 835 line that pays it."""
    return str(line_number)


def claim_lines(claim: Claim) -> list[ClaimLine]:
    """The claim's lines in the event contract. An 837I line billed by revenue code alone
    has an empty code; a line without the coder's pointers points at the first diagnosis
    (the principal one of a facility claim)."""
    return [
        ClaimLine(
            line_number=line.line_number,
            code_system=line.code_system or ProcedureCodeSystem.HCPCS,
            code=line.code or "",
            modifiers=list(line.modifiers),
            units=line.units,
            service_date=line.service_date,
            diagnosis_pointers=list(line.diagnosis_pointers) or [1],
            charge=line.charge,
            revenue_code=line.revenue_code if claim.claim_type == "837I" else None,
            control_number=line_control_number(line.line_number),
        )
        for line in claim.lines
    ]


def payer_of(claim: Claim) -> PayerRef:
    return claim.coverage.payer


def edit_finding(finding: ScrubFinding) -> EditFinding:
    return EditFinding(
        edit=finding.edit.value,
        field=finding.field[:120],
        message=finding.message[:500],
        hint=finding.hint[:500],
        severity=finding.severity.value,
    )


def finding_record(finding: ScrubFinding) -> dict:
    """A finding as the claim keeps it (JSON) and the API shows it."""
    return edit_finding(finding).model_dump(mode="json")


def errors_of(findings: Iterable[dict]) -> list[dict]:
    return [f for f in findings if f.get("severity", Severity.ERROR) == Severity.ERROR]


def held_payload(
    claim: Claim, *, stage: str, reasons: Sequence[str], findings: Sequence[dict] = ()
) -> ClaimHeld:
    return ClaimHeld(
        claim_id=claim.claim_id,
        claim_type=claim.claim_type,
        frequency_code=claim.frequency_code,
        payer=payer_of(claim),
        total_charge=claim.total_charge,
        stage=stage,  # type: ignore[arg-type]
        reasons=[r[:500] for r in reasons] or ["held"],
        findings=[EditFinding.model_validate(f) for f in findings],
    )


def finding_reason(finding: dict) -> str:
    return f"{finding['edit']}: {finding['field']}: {finding['message']}"


def submitted_payload(
    claim: Claim,
    *,
    interchange_control_number: int,
    transaction_control_number: str,
    file_name: str,
    at: datetime,
    original_claim_id: str | None = None,
) -> ClaimSubmitted:
    return ClaimSubmitted(
        claim_id=claim.claim_id,
        claim_type=claim.claim_type,
        frequency_code=claim.frequency_code,
        payer=payer_of(claim),
        member_id=claim.coverage.member_id,
        patient=claim.patient,
        billing_npi=claim.providers.billing.npi,
        diagnoses=list(claim.diagnoses),
        lines=claim_lines(claim),
        total_charge=claim.total_charge,
        interchange_control_number=f"{interchange_control_number:09d}",
        group_control_number=str(interchange_control_number),
        transaction_control_number=transaction_control_number,
        file_reference=file_name,
        submitted_at=at,
        ack_status="accepted",
        payer_responsibility=claim.coverage.priority.value,
        original_claim_id=original_claim_id,
        original_claim_number=claim.original_claim_number,
        type_of_bill=claim.type_of_bill,
    )


def accepted_payload(
    claim: Claim,
    *,
    accepted_by: str,
    payer_claim_number: str | None,
    status_codes: Sequence[str],
    interchange_control_number: int,
    file_name: str,
    at: datetime,
) -> ClaimAccepted:
    return ClaimAccepted(
        claim_id=claim.claim_id,
        claim_type=claim.claim_type,
        frequency_code=claim.frequency_code,
        payer=payer_of(claim),
        payer_claim_number=payer_claim_number,
        accepted_by=accepted_by,  # type: ignore[arg-type]
        status_codes=list(status_codes),
        interchange_control_number=f"{interchange_control_number:09d}",
        file_reference=file_name,
        accepted_at=at,
    )


def rejected_payload(
    claim: Claim,
    *,
    stage: str,
    reasons: Sequence[str],
    codes: Sequence[str],
    file_name: str | None,
) -> ClaimRejected:
    return ClaimRejected(
        claim_id=claim.claim_id,
        stage=stage,  # type: ignore[arg-type]
        reasons=[r[:500] for r in reasons] or [f"rejected by the {stage}"],
        codes=list(codes),
        frequency_code=claim.frequency_code,
        payer_id=claim.coverage.payer.payer_id,
        file_reference=file_name,
    )
