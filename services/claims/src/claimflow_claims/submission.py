"""The submitter: clean claims go to the clearinghouse as 837P interchanges, and each one the
999 accepts is published as `claim.submitted` in the same transaction that marks it.

A crash after the clearinghouse took a file but before that transaction resubmits the same
claims in a new interchange; the clearinghouse's duplicate check answers for them, and the
claims are marked and published once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select, text

from claimflow_claims.adapters.clearinghouse import Clearinghouse
from claimflow_claims.adapters.repository import next_control_number, transition
from claimflow_claims.adapters.tables import ClaimRecord, SubmissionFile
from claimflow_claims.domain.acknowledgment import ClaimAcknowledgment, acknowledge_claims
from claimflow_claims.domain.acks import read_277ca, read_999
from claimflow_claims.domain.model import Claim
from claimflow_claims.domain.states import ClaimEvent, ClaimState
from claimflow_claims.domain.x837p import (
    FUNCTIONAL_ID,
    IMPLEMENTATION_GUIDE,
    Receiver,
    Submitter,
    write_837p,
)
from claimflow_claims.settings import Settings
from claimflow_shared.events import ClaimRejected, ClaimSubmitted, PayerRef
from claimflow_shared.runtime.context import HandlerContext
from claimflow_shared.runtime.loops import Backoff, repeat
from claimflow_shared.runtime.service import Service
from claimflow_shared.topics import CLAIM_REJECTED, CLAIM_SUBMITTED
from claimflow_shared.x12 import Envelope

SUBMITTER_LOCK = 7_311_002


def submitted_payload(
    claim: Claim, record: ClaimRecord, *, icn: int, file_name: str, at: datetime
) -> ClaimSubmitted:
    return ClaimSubmitted(
        claim_id=claim.claim_id,
        claim_type="837P",
        frequency_code=claim.frequency_code,
        payer=PayerRef(payer_id=claim.coverage.payer.payer_id, name=claim.coverage.payer.name),
        member_id=claim.coverage.member_id,
        patient=claim.patient,
        billing_npi=claim.providers.billing.npi,
        diagnoses=list(claim.diagnoses),
        lines=list(claim.lines),
        total_charge=claim.total_charge,
        interchange_control_number=f"{icn:09d}",
        group_control_number=str(icn),
        transaction_control_number="0001",
        file_reference=file_name,
        submitted_at=at,
        ack_status="accepted",
    )


async def submit_ready_claims(
    service: Service, clearinghouse: Clearinghouse, settings: Settings
) -> int:
    """Send one interchange of ready claims; returns how many claims it carried."""
    async with service.db.transaction() as session:
        if service.db.is_postgres:
            locked = await session.exec(
                text("SELECT pg_try_advisory_xact_lock(:k)").bindparams(k=SUBMITTER_LOCK)
            )
            if not locked.scalar():
                return 0
        records = (
            (
                await session.exec(
                    select(ClaimRecord)
                    .where(ClaimRecord.state == ClaimState.READY.value)
                    .order_by(ClaimRecord.id)
                    .limit(settings.submit_batch_size)
                )
            )
            .scalars()
            .all()
        )
        if not records:
            return 0
        icn = await next_control_number(session)
    claims = [Claim.model_validate_json(r.claim) for r in records]
    now = datetime.now(UTC)
    envelope = Envelope(
        sender_id=settings.submitter_id,
        receiver_id=settings.receiver_id,
        interchange_control_number=icn,
        group_control_number=icn,
        functional_id=FUNCTIONAL_ID,
        version=IMPLEMENTATION_GUIDE,
        created_at=now,
    )
    content = write_837p(
        claims,
        envelope=envelope,
        submitter=Submitter(
            name=settings.submitter_name,
            identifier=settings.submitter_id,
            contact_name="BILLING OFFICE",
            phone="8005550100",
        ),
        receiver=Receiver(name="CLEARINGHOUSE", identifier=settings.receiver_id),
    )
    file_name = f"837P-{icn:09d}.x12"
    receipt = await clearinghouse.submit(file_name=file_name, content=content)
    acknowledgments = acknowledge_claims(
        [claim.claim_id for claim in claims],
        ack_999=read_999(receipt.ack_999),
        group_control_number=str(icn),
        transaction_control_number="0001",
        statuses_277ca=read_277ca(receipt.ack_277ca) if receipt.ack_277ca else (),
        already_held=receipt.already_held,
    )
    async with service.db.transaction() as session:
        session.add(
            SubmissionFile(
                file_name=file_name,
                interchange_control_number=icn,
                content=content,
                ack_999=receipt.ack_999,
                accepted=any(a.submitted for a in acknowledgments.values()),
                claim_count=len(claims),
            )
        )
        for claim, stale in zip(claims, records, strict=True):
            record = await session.get(ClaimRecord, stale.id)
            if record is None or record.state != ClaimState.READY.value:
                continue
            record.interchange_control_number = icn
            record.submission_file = file_name
            apply_acknowledgment(
                HandlerContext(session=session, producer=service.producer_name),
                record,
                claim,
                acknowledgments[claim.claim_id],
                payload=submitted_payload(claim, record, icn=icn, file_name=file_name, at=now),
            )
    service.notify_outbox()
    return len(claims)


def apply_acknowledgment(
    ctx: HandlerContext,
    record: ClaimRecord,
    claim: Claim,
    ack: ClaimAcknowledgment,
    *,
    payload: ClaimSubmitted,
) -> None:
    """Walk the claim through the state machine and publish what happened to it."""
    transition(
        ctx.session,
        record,
        ClaimEvent.SUBMITTED,
        actor="claimflow-claims",
        reason=f"sent in {payload.file_reference}",
    )
    for event in ack.events:
        transition(
            ctx.session, record, event, actor="clearinghouse", reason="; ".join(ack.reasons)[:500]
        )
    routing = {
        "tenant_id": record.tenant_id,
        "encounter_id": record.encounter_id,
        "causation_id": record.coded_event_id,
    }
    if ack.submitted:
        ctx.emit(CLAIM_SUBMITTED, payload, detail=payload.file_reference, **routing)
    else:
        ctx.emit(
            CLAIM_REJECTED,
            ClaimRejected(
                claim_id=claim.claim_id, stage=ack.rejected_by, reasons=list(ack.reasons)
            ),
            **routing,
        )


async def submitter_loop(service: Service) -> None:
    """Background loop: submit while there is work, otherwise poll gently."""
    settings: Settings = service.settings  # type: ignore[assignment]
    clearinghouse = service.state["clearinghouse"]

    async def submit() -> bool:
        sent = await submit_ready_claims(service, clearinghouse, settings)
        return sent == settings.submit_batch_size

    await repeat(
        submit,
        what="claim submission",
        backoff=Backoff(0.5, 15.0),
        idle=lambda: asyncio.sleep(settings.submit_interval_s),
    )
