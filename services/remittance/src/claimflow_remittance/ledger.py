"""Posting 835 remittances: one unit of work per file stores the file, posts every CLP whose
claim is known, keeps the rest as prepared postings until their claim arrives, and stages
the events."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from claimflow_remittance.adapters.tables import (
    ExpectedClaim,
    Posting,
    RemittanceFile,
    UnmatchedPayment,
)
from claimflow_remittance.domain.claim_posting import ClaimPosting, prepare_file
from claimflow_remittance.domain.era import read_835_file
from claimflow_remittance.unit_of_work import RemittanceUnitOfWork
from claimflow_shared.events import Patient
from claimflow_shared.runtime import faults
from claimflow_shared.topics import CLAIM_DENIED, PATIENT_BALANCE_DUE, REMITTANCE_RECEIVED

POSTED_BY = "claimflow-remittance/auto-post"


@dataclass(frozen=True)
class IngestResult:
    file_id: str
    duplicate: bool
    posted: int
    unmatched: int
    problems: list[str]


def file_id_for(source: str, source_ref: str) -> str:
    return hashlib.sha256(f"{source}:{source_ref}".encode()).hexdigest()[:24]


async def import_835(
    *, uow: RemittanceUnitOfWork, source: str, source_ref: str, content: str
) -> IngestResult:
    """Store and post one 835 file, once: the same (source, ref), or the same bytes under any
    name, changes nothing the second time."""
    file_id = file_id_for(source, source_ref)
    sha256 = hashlib.sha256(content.encode()).hexdigest()
    if await uow.ledger.file_known(source=source, source_ref=source_ref, sha256=sha256):
        return IngestResult(file_id, duplicate=True, posted=0, unmatched=0, problems=[])
    remittances = read_835_file(content)
    prepared, unposted = prepare_file(remittances, file_id=file_id)
    problems = [
        f"{r.control_number}#{p.position} {p.segment_id}: {p.message}"
        for r in remittances
        for p in r.problems
    ] + [f"#{p.position} {p.segment_id}: {p.message}" for p in unposted]
    uow.ledger.add_file(
        RemittanceFile(
            file_id=file_id,
            source=source,
            source_ref=source_ref,
            content_sha256=sha256,
            content=content,
            payment_total=sum((r.payment.signed_amount for r in remittances), Decimal("0")),
            claim_count=sum(len(r.claims) for r in remittances),
            problems=problems[:200],
        )
    )
    claim_ids = [p.claim_id for p in prepared]
    await uow.lock_claims(claim_ids)
    await uow.ledger.load_expected(claim_ids)
    posted = 0
    for item in prepared:
        expected = await uow.ledger.expected(item.claim_id)
        if expected is None:
            uow.ledger.park(
                UnmatchedPayment(
                    file_id=item.file_id,
                    transaction=item.transaction,
                    position=item.position,
                    claim_id=item.claim_id,
                    paid=item.paid,
                    prepared=item.model_dump_json(),
                )
            )
            continue
        post(uow, expected=expected, item=item)
        posted += 1
        if posted == 2:
            faults.crash_point("mid-835-posting")
    return IngestResult(
        file_id,
        duplicate=False,
        posted=posted,
        unmatched=len(prepared) - posted,
        problems=problems,
    )


def post(uow: RemittanceUnitOfWork, *, expected: ExpectedClaim, item: ClaimPosting) -> None:
    """Post one CLP to its claim and stage remittance.received (+ claim.denied, and
    patient.balance-due when the patient owes something)."""
    uow.ledger.post(
        Posting(
            file_id=item.file_id,
            transaction=item.transaction,
            position=item.position,
            claim_id=item.claim_id,
            tenant_id=expected.tenant_id,
            encounter_id=expected.encounter_id,
            payer_claim_number=item.payer_claim_number,
            status=item.status,
            charge=item.charge,
            paid=item.paid,
            allowed=item.allowed,
            patient_responsibility=item.patient_responsibility,
            denied_amount=item.denied_amount,
            denial_category=item.denial_category,
            posted_by=POSTED_BY,
        )
    )
    routing = {
        "tenant_id": expected.tenant_id,
        "encounter_id": expected.encounter_id,
        "causation_id": expected.submitted_event_id,
    }
    uow.emit(REMITTANCE_RECEIVED, item.received, detail=f"{item.status} {item.paid}", **routing)
    if item.denied is not None:
        uow.emit(CLAIM_DENIED, item.denied, detail=item.denial_category, **routing)
    balance = item.balance_due(Patient.model_validate(expected.patient))
    if balance is not None:
        uow.emit(PATIENT_BALANCE_DUE, balance, detail=str(balance.amount), **routing)


async def post_parked(uow: RemittanceUnitOfWork, claim_ids: list[str]) -> int:
    """Post what waited for these claims, now known (the caller holds their locks)."""
    parked = await uow.ledger.parked_for(claim_ids)
    posted = []
    for claim_id, items in parked.items():
        expected = await uow.ledger.expected(claim_id)
        if expected is None:
            continue
        for item in items:
            post(uow, expected=expected, item=ClaimPosting.model_validate_json(item.prepared))
            posted.append(item)
    await uow.ledger.unpark(posted)
    return len(posted)
