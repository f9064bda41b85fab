"""Posting 835 remittances to the ledger: one transaction per file stores the file, posts
every CLP whose claim we know, parks the rest as unmatched, and stages the events."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_remittance.adapters.tables import (
    ExpectedClaim,
    Posting,
    RemittanceFile,
    UnmatchedPayment,
)
from claimflow_remittance.domain.denials import categorize_denial
from claimflow_remittance.domain.era import ClaimPayment, Remittance, read_835_file
from claimflow_remittance.domain.events import (
    claim_denied_payload,
    patient_balance_payload,
    remittance_received_payload,
)
from claimflow_remittance.domain.posting import all_adjustments, post_claim_payment
from claimflow_shared.events import Patient
from claimflow_shared.runtime.context import HandlerContext
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


async def ingest_835(
    ctx: HandlerContext, *, source: str, source_ref: str, content: str
) -> IngestResult:
    """Store and post one 835 file, once: the same (source, ref) again changes nothing."""
    file_id = file_id_for(source, source_ref)
    known = await ctx.session.exec(
        select(RemittanceFile.id).where(
            RemittanceFile.source == source, RemittanceFile.source_ref == source_ref
        )
    )
    if known.first() is not None:
        return IngestResult(file_id, duplicate=True, posted=0, unmatched=0, problems=[])
    remittances = read_835_file(content)
    problems = [
        f"{r.control_number}#{p.position} {p.segment_id}: {p.message}"
        for r in remittances
        for p in r.problems
    ]
    ctx.session.add(
        RemittanceFile(
            file_id=file_id,
            source=source,
            source_ref=source_ref,
            content_sha256=hashlib.sha256(content.encode()).hexdigest(),
            content=content,
            payment_total=sum((r.payment.signed_amount for r in remittances), Decimal("0")),
            claim_count=sum(len(r.claims) for r in remittances),
            problems=problems[:200],
        )
    )
    posted = unmatched = 0
    for index, remittance in enumerate(remittances):
        for payment in remittance.claims:
            await lock_claim(ctx.session, payment.claim_id)
            expected = await ctx.session.get(ExpectedClaim, payment.claim_id)
            if expected is None:
                ctx.session.add(
                    UnmatchedPayment(
                        file_id=file_id,
                        transaction=index,
                        position=payment.position,
                        claim_id=payment.claim_id,
                        paid=payment.paid,
                    )
                )
                unmatched += 1
                continue
            post_payment(
                ctx,
                expected=expected,
                remittance=remittance,
                payment=payment,
                file_id=file_id,
                transaction=index,
            )
            posted += 1
    return IngestResult(
        file_id, duplicate=False, posted=posted, unmatched=unmatched, problems=problems
    )


def post_payment(
    ctx: HandlerContext,
    *,
    expected: ExpectedClaim,
    remittance: Remittance,
    payment: ClaimPayment,
    file_id: str,
    transaction: int,
) -> Posting:
    """Post one CLP to its claim and stage remittance.received (+ claim.denied, and
    patient.balance-due when the patient owes something)."""
    posting = post_claim_payment(payment)
    denial = None
    if posting.status == "denied":
        denial = categorize_denial(all_adjustments(payment), _rarcs(payment))
    row = Posting(
        file_id=file_id,
        transaction=transaction,
        position=payment.position,
        claim_id=payment.claim_id,
        tenant_id=expected.tenant_id,
        encounter_id=expected.encounter_id,
        payer_claim_number=payment.payer_claim_number,
        status=posting.status,
        charge=posting.charge,
        paid=posting.paid,
        allowed=posting.allowed,
        patient_responsibility=posting.patient_responsibility,
        denied_amount=posting.denied_amount,
        denial_category=denial.category if denial else None,
        posted_by=POSTED_BY,
    )
    ctx.session.add(row)
    routing = {
        "tenant_id": expected.tenant_id,
        "encounter_id": expected.encounter_id,
        "causation_id": expected.submitted_event_id,
    }
    ctx.emit(
        REMITTANCE_RECEIVED,
        remittance_received_payload(remittance, payment, posting, file_id=file_id),
        detail=f"{posting.status} {posting.paid}",
        **routing,
    )
    if denial is not None:
        ctx.emit(
            CLAIM_DENIED,
            claim_denied_payload(payment, posting, denial),
            detail=denial.category,
            **routing,
        )
    balance = patient_balance_payload(
        payment, posting, patient=Patient.model_validate(expected.patient)
    )
    if balance is not None:
        ctx.emit(PATIENT_BALANCE_DUE, balance, detail=str(balance.amount), **routing)
    return row


async def lock_claim(session: AsyncSession, claim_id: str) -> None:
    """Serialise matching for one claim id: without it, a payment parked as unmatched and
    the `claim.submitted` that would match it can commit side by side and miss each other."""
    if session.bind.dialect.name == "postgresql":
        await session.exec(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:claim_id, 7311))").bindparams(
                claim_id=claim_id
            )
        )


def _rarcs(payment: ClaimPayment) -> list[str]:
    return [*payment.remarks, *(r for line in payment.service_lines for r in line.remarks)]


async def match_parked_payments(ctx: HandlerContext, *, limit: int = 500) -> int:
    """Sweep: post parked payments whose claim has become known since."""
    parked = (
        await ctx.session.exec(
            select(UnmatchedPayment.claim_id, ExpectedClaim)
            .join(ExpectedClaim, ExpectedClaim.claim_id == UnmatchedPayment.claim_id)
            .limit(limit)
        )
    ).all()
    posted = 0
    for claim_id, expected in {claim_id: e for claim_id, e in parked}.items():
        await lock_claim(ctx.session, claim_id)
        posted += await post_unmatched_for(ctx, expected)
    return posted


async def post_unmatched_for(ctx: HandlerContext, expected: ExpectedClaim) -> int:
    """A claim we just learned about may already have been paid: post what was parked."""
    parked = (
        (
            await ctx.session.exec(
                select(UnmatchedPayment)
                .where(UnmatchedPayment.claim_id == expected.claim_id)
                .order_by(UnmatchedPayment.id)
            )
        )
        .scalars()
        .all()
    )
    for item in parked:
        file = (
            (
                await ctx.session.exec(
                    select(RemittanceFile).where(RemittanceFile.file_id == item.file_id)
                )
            )
            .scalars()
            .one()
        )
        remittance = read_835_file(file.content)[item.transaction]
        payment = next(p for p in remittance.claims if p.position == item.position)
        post_payment(
            ctx,
            expected=expected,
            remittance=remittance,
            payment=payment,
            file_id=item.file_id,
            transaction=item.transaction,
        )
        await ctx.session.delete(item)
    return len(parked)
