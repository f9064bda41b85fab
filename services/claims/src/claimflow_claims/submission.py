"""The submitter: clean claims go to the clearinghouse in 837P or 837I interchanges, batched
per claim type and payer, and what the acknowledgments say about each claim is applied in
the transaction that records them (`claim.submitted`, `claim.accepted`, `claim.rejected`).

One replica submits at a time (an advisory lock held across the whole send). An interchange
is recorded, with its bytes and claims, before it is posted; after a crash or a failed post
the very same bytes are sent again, so no claim is ever in two interchanges and no control
number is spent twice. A file the clearinghouse refuses for good holds its claims with the
reason, and one claim that cannot be written is held alone: neither stops anyone else's.

A batch goes when it is full (`submit_batch_size`) or when its oldest claim has waited
`submit_max_wait_s`: big payers get full files, small ones are not kept waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from claimflow_claims import billing
from claimflow_claims.adapters.clearinghouse import (
    Clearinghouse,
    ClearinghouseAway,
    FileRefused,
    SubmissionReceipt,
)
from claimflow_claims.adapters.repository import QueueGroup
from claimflow_claims.adapters.tables import ClaimRecord, SubmissionFile
from claimflow_claims.adapters.x12.claim837 import (
    FUNCTIONAL_ID,
    MAX_CLAIMS_PER_TRANSACTION,
    Receiver,
    Submitter,
)
from claimflow_claims.adapters.x12.reader_277ca import read_277ca
from claimflow_claims.adapters.x12.reader_999 import read_999
from claimflow_claims.adapters.x12.writer_837i import IMPLEMENTATION_GUIDE as GUIDE_837I
from claimflow_claims.adapters.x12.writer_837i import write_837i
from claimflow_claims.adapters.x12.writer_837p import IMPLEMENTATION_GUIDE as GUIDE_837P
from claimflow_claims.adapters.x12.writer_837p import write_837p
from claimflow_claims.domain.acknowledgment import ClaimAcknowledgment, acknowledge_claims
from claimflow_claims.domain.messages import (
    accepted_payload,
    held_payload,
    rejected_payload,
    submitted_payload,
)
from claimflow_claims.domain.model import Claim
from claimflow_claims.domain.states import ClaimEvent, ClaimState
from claimflow_claims.settings import Settings
from claimflow_claims.unit_of_work import ClaimsUnitOfWork, SqlClaimsUnitOfWork
from claimflow_shared.runtime import faults
from claimflow_shared.runtime.loops import Backoff, repeat
from claimflow_shared.runtime.uow import UnitsOfWork
from claimflow_shared.topics import CLAIM_ACCEPTED, CLAIM_HELD, CLAIM_REJECTED, CLAIM_SUBMITTED
from claimflow_shared.x12 import Envelope, X12Error, transaction_control_number

log = logging.getLogger("claimflow.claims.submitter")

ACTOR = "claimflow-claims/submitter"
CLEARINGHOUSE = "clearinghouse"
WRITERS: dict[str, tuple[Callable[..., str], str]] = {
    "837P": (write_837p, GUIDE_837P),
    "837I": (write_837i, GUIDE_837I),
}


def due_group(
    groups: Sequence[QueueGroup], *, batch_size: int, max_wait: timedelta, now: datetime
) -> QueueGroup | None:
    """The batch to send now: the longest-waiting group that is full or has waited long
    enough; None while every group is still filling."""
    for group in groups:
        oldest = group.oldest if group.oldest.tzinfo else group.oldest.replace(tzinfo=UTC)
        if group.count >= batch_size or now - oldest >= max_wait:
            return group
    return None


def transaction_of(file: SubmissionFile, index: int) -> str:
    """ST02 of the transaction set holding the file's `index`-th claim."""
    return transaction_control_number(
        file.first_transaction_number + index // MAX_CLAIMS_PER_TRANSACTION
    )


class ClaimSubmitter:
    """Background task: submit while there is work, otherwise poll gently."""

    name = "claim-submitter"

    def __init__(
        self,
        *,
        uows: UnitsOfWork[SqlClaimsUnitOfWork],
        clearinghouse: Clearinghouse,
        settings: Settings,
    ) -> None:
        self.uows = uows
        self.clearinghouse = clearinghouse
        self.settings = settings
        # Claims read for an interchange this process built, so they are not read twice.
        self._claims: dict[str, dict[str, Claim]] = {}

    async def run(self) -> None:
        await repeat(
            self.submit_once,
            what="claim submission",
            backoff=Backoff(0.5, 15.0),
            idle=lambda: asyncio.sleep(self.settings.submit_interval_s),
        )

    async def submit_once(self) -> bool:
        """Send one interchange (an unanswered one first); True when more work waits."""
        async with self.uows.hold_lock("claims-submitter") as mine:
            if not mine:
                return False
            async with self.uows() as uow:
                file = await uow.claims.sending() or await self._new_interchange(uow)
                billing.publish_state_changes(uow)
            if file is None:
                return False
            await self._send(file)
            return True

    async def _new_interchange(self, uow: SqlClaimsUnitOfWork) -> SubmissionFile | None:
        s = self.settings
        group = due_group(
            await uow.claims.queue_groups(),
            batch_size=s.submit_batch_size,
            max_wait=timedelta(seconds=s.submit_max_wait_s),
            now=datetime.now(UTC),
        )
        if group is None:
            return None
        records = await uow.claims.queued(
            claim_type=group.claim_type, payer_id=group.payer_id, limit=s.submit_batch_size
        )
        if not records:
            return None
        pairs = [(r, Claim.model_validate_json(r.claim)) for r in records]
        icn = await uow.claims.next_control_number("isa13")
        transactions = -(-len(pairs) // MAX_CLAIMS_PER_TRANSACTION)
        first_st = await uow.claims.next_control_number("st02", count=transactions)
        try:
            content = self._write(icn, first_st, [claim for _, claim in pairs])
        except (X12Error, ValueError):
            pairs = self._hold_unwritable(uow, pairs)
            if not pairs:
                return None
            content = self._write(icn, first_st, [claim for _, claim in pairs])
        file = SubmissionFile(
            file_name=f"{group.claim_type}-{icn:09d}.x12",
            interchange_control_number=icn,
            first_transaction_number=first_st,
            claim_type=group.claim_type,
            payer_id=group.payer_id,
            content=content,
            claim_ids=[claim.claim_id for _, claim in pairs],
            claim_count=len(pairs),
        )
        uow.claims.record_file(file)
        for record, _ in pairs:
            record.interchange_control_number = icn
            record.submission_file = file.file_name
        self._claims[file.file_name] = {claim.claim_id: claim for _, claim in pairs}
        return file

    def _hold_unwritable(
        self, uow: ClaimsUnitOfWork, pairs: list[tuple[ClaimRecord, Claim]]
    ) -> list[tuple[ClaimRecord, Claim]]:
        """Hold each claim that cannot be written on its own, with the reason."""
        writable = []
        for record, claim in pairs:
            try:
                self._write(1, 1, [claim])
            except (X12Error, ValueError) as exc:
                reason = f"cannot be written as an {claim.claim_type}: {exc}"[:500]
                uow.claims.transition(record, ClaimEvent.SEND_FAILED, actor=ACTOR, reason=reason)
                uow.emit(
                    CLAIM_HELD,
                    held_payload(claim, stage="submission", reasons=[reason]),
                    detail="unwritable",
                    **billing.routing(uow, record),
                )
                continue
            writable.append((record, claim))
        return writable

    def _write(self, icn: int, first_st: int, claims: list[Claim]) -> str:
        s = self.settings
        writer, guide = WRITERS[claims[0].claim_type]
        return writer(
            claims,
            envelope=Envelope(
                sender_id=s.submitter_id,
                receiver_id=s.receiver_id,
                interchange_control_number=icn,
                group_control_number=icn,
                functional_id=FUNCTIONAL_ID,
                version=guide,
                created_at=datetime.now(UTC),
            ),
            submitter=Submitter(
                name=s.submitter_name,
                identifier=s.submitter_id,
                contact_name="BILLING OFFICE",
                phone="8005550100",
            ),
            receiver=Receiver(name="CLEARINGHOUSE", identifier=s.receiver_id),
            first_transaction_number=first_st,
        )

    async def _send(self, file: SubmissionFile) -> None:
        try:
            receipt = await self.clearinghouse.submit(
                file_name=file.file_name, content=file.content
            )
            faults.crash_point("after-clearinghouse-post")
            acknowledgments = _acknowledge(file, receipt)
        except FileRefused as exc:
            await self._refused(file, str(exc))
            return
        except ClearinghouseAway as exc:
            # Away is not wrong: the same bytes go again, however long it takes.
            await self._attempt_failed(file, exc)
            raise
        except Exception as exc:
            # A reply we cannot use: a few more tries of the same bytes, then hold the claims.
            if file.attempts + 1 >= self.settings.submit_max_attempts:
                await self._refused(file, f"no usable reply after {file.attempts + 1} attempts")
                return
            await self._attempt_failed(file, exc)
            raise
        await self._sent(file, receipt, acknowledgments)

    async def _sent(
        self,
        file: SubmissionFile,
        receipt: SubmissionReceipt,
        acknowledgments: dict[str, ClaimAcknowledgment],
    ) -> None:
        now = datetime.now(UTC)
        claims = self._claims.pop(file.file_name, {})
        async with self.uows() as uow:
            stored = await uow.session.get(SubmissionFile, file.id)
            assert stored is not None
            stored.status, stored.sent_at = "sent", now
            stored.ack_999, stored.ack_277ca = receipt.ack_999, receipt.ack_277ca
            stored.attempts += 1
            stored.accepted = any(a.submitted for a in acknowledgments.values())
            position = {claim_id: index for index, claim_id in enumerate(file.claim_ids)}
            # This process built the file: its claims are at hand, the records need no JSON.
            records = await uow.claims.in_file(file.file_name, with_claims=not claims)
            for record in records:
                if record.state != ClaimState.SCRUBBED.value:
                    continue
                claim = claims.get(record.claim_id) or await uow.claims.claim_of(record)
                apply_acknowledgment(
                    uow,
                    record,
                    claim,
                    acknowledgments[record.claim_id],
                    file=file,
                    transaction=transaction_of(file, position[record.claim_id]),
                    at=now,
                )
            billing.publish_state_changes(uow)

    async def _attempt_failed(self, file: SubmissionFile, error: Exception) -> None:
        async with self.uows() as uow:
            stored = await uow.session.get(SubmissionFile, file.id)
            assert stored is not None
            stored.attempts += 1
            stored.last_error = type(error).__name__

    async def _refused(self, file: SubmissionFile, reason: str) -> None:
        log.error("clearinghouse refused an interchange; holding its claims")
        async with self.uows() as uow:
            stored = await uow.session.get(SubmissionFile, file.id)
            assert stored is not None
            self._claims.pop(file.file_name, None)
            stored.status, stored.last_error = "failed", reason[:500]
            stored.attempts += 1
            why = f"interchange {file.file_name} refused: {reason}"[:500]
            for record in await uow.claims.in_file(file.file_name):
                if record.state == ClaimState.SCRUBBED.value:
                    uow.claims.transition(
                        record, ClaimEvent.SEND_FAILED, actor=CLEARINGHOUSE, reason=why
                    )
                    uow.emit(
                        CLAIM_HELD,
                        held_payload(
                            await uow.claims.claim_of(record),
                            stage="submission",
                            reasons=[why],
                        ),
                        detail="interchange refused",
                        **billing.routing(uow, record),
                    )
            billing.publish_state_changes(uow)


def _acknowledge(file: SubmissionFile, receipt: SubmissionReceipt):
    try:
        ack_999 = read_999(receipt.ack_999)
        statuses = read_277ca(receipt.ack_277ca) if receipt.ack_277ca else ()
    except X12Error as exc:
        raise FileRefused(f"unreadable acknowledgment: {exc}") from exc
    by_transaction: dict[str, list[str]] = {}
    for index, claim_id in enumerate(file.claim_ids):
        by_transaction.setdefault(transaction_of(file, index), []).append(claim_id)
    outcomes: dict[str, ClaimAcknowledgment] = {}
    for transaction, claim_ids in by_transaction.items():
        outcomes |= acknowledge_claims(
            claim_ids,
            ack_999=ack_999,
            group_control_number=str(file.interchange_control_number),
            transaction_control_number=transaction,
            statuses_277ca=statuses,
            already_held=receipt.already_held,
        )
    return outcomes


def apply_acknowledgment(
    uow: ClaimsUnitOfWork,
    record: ClaimRecord,
    claim: Claim,
    ack: ClaimAcknowledgment,
    *,
    file: SubmissionFile,
    transaction: str,
    at: datetime,
) -> None:
    """Walk the claim through the state machine, keep what the 999 and 277CA said about it,
    and publish what happened to it."""
    uow.claims.transition(
        record, ClaimEvent.SUBMITTED, actor=ACTOR, reason=f"sent in {file.file_name}"
    )
    for event in ack.events:
        uow.claims.transition(
            record, event, actor=CLEARINGHOUSE, reason="; ".join(ack.reasons)[:500]
        )
    _record_submission(uow, record, ack, file, transaction, at)
    if ack.payer_claim_number:
        record.payer_claim_number = ack.payer_claim_number
    routing = billing.routing(uow, record)
    icn = file.interchange_control_number
    if not ack.submitted:
        uow.emit(
            CLAIM_REJECTED,
            rejected_payload(
                claim,
                stage=ack.rejected_by or "999",
                reasons=ack.reasons,
                codes=ack.codes,
                file_name=file.file_name,
            ),
            detail=ack.rejected_by,
            **routing,
        )
        return
    uow.emit(
        CLAIM_SUBMITTED,
        submitted_payload(
            claim,
            interchange_control_number=icn,
            transaction_control_number=transaction,
            file_name=file.file_name,
            at=at,
            original_claim_id=record.original_claim_id,
        ),
        detail=file.file_name,
        **routing,
    )
    if ack.accepted_by is not None:
        uow.emit(
            CLAIM_ACCEPTED,
            accepted_payload(
                claim,
                accepted_by=ack.accepted_by,
                payer_claim_number=ack.payer_claim_number,
                status_codes=ack.codes,
                interchange_control_number=icn,
                file_name=file.file_name,
                at=at,
            ),
            detail=ack.payer_claim_number,
            **routing,
        )


def _record_submission(
    uow: ClaimsUnitOfWork,
    record: ClaimRecord,
    ack: ClaimAcknowledgment,
    file: SubmissionFile,
    transaction: str,
    at: datetime,
) -> None:
    """The claim's place in the interchange and what the 999 and 277CA said: one row."""
    if ack.rejected_by == "277CA":
        front_end: str | None = "rejected"
    elif ack.accepted_by:
        front_end = "accepted"
    else:
        front_end = "pending" if ack.codes else None
    uow.claims.record_submission(
        claim_id=record.claim_id,
        tenant_id=record.tenant_id,
        file_name=file.file_name,
        interchange_control_number=file.interchange_control_number,
        transaction_control_number=transaction,
        ack_999="rejected" if ack.rejected_by == "999" else "accepted",
        ack_277ca=None if ack.rejected_by == "999" else front_end,
        codes=list(ack.codes),
        reasons=list(ack.reasons),
        payer_claim_number=ack.payer_claim_number,
        at=at,
    )
