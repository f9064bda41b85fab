"""The submitter: clean claims go to the clearinghouse as 837P interchanges, and each claim
the acknowledgments accept is published as `claim.submitted` in the transaction that marks it.

One replica submits at a time (an advisory lock held across the whole send). An interchange
is recorded, with its bytes and claims, before it is posted; after a crash or a failed post
the very same bytes are sent again, so no claim is ever in two interchanges and no control
number is spent twice. A file the clearinghouse refuses for good holds its claims with the
reason, and one claim that cannot be written is held alone: neither stops anyone else's."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from claimflow_claims.adapters.clearinghouse import (
    Clearinghouse,
    ClearinghouseAway,
    FileRefused,
    SubmissionReceipt,
)
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
from claimflow_claims.unit_of_work import ClaimsUnitOfWork, SqlClaimsUnitOfWork
from claimflow_shared.events import ClaimRejected, ClaimSubmitted, PayerRef
from claimflow_shared.runtime import faults
from claimflow_shared.runtime.loops import Backoff, repeat
from claimflow_shared.runtime.uow import UnitsOfWork
from claimflow_shared.topics import CLAIM_REJECTED, CLAIM_SUBMITTED
from claimflow_shared.x12 import Envelope, X12Error

log = logging.getLogger("claimflow.claims.submitter")

ACTOR = "claimflow-claims/submitter"
TRANSACTION_CONTROL_NUMBER = "0001"


def submitted_payload(claim: Claim, *, icn: int, file_name: str, at: datetime) -> ClaimSubmitted:
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
        transaction_control_number=TRANSACTION_CONTROL_NUMBER,
        file_reference=file_name,
        submitted_at=at,
        ack_status="accepted",
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
            if file is None:
                return False
            await self._send(file)
            return True

    async def _new_interchange(self, uow: SqlClaimsUnitOfWork) -> SubmissionFile | None:
        records = await uow.claims.ready(limit=self.settings.submit_batch_size)
        if not records:
            return None
        pairs = [(r, Claim.model_validate_json(r.claim)) for r in records]
        icn = await uow.claims.next_control_number()
        try:
            content = self._write(icn, [claim for _, claim in pairs])
        except (X12Error, ValueError):
            pairs = self._hold_unwritable(uow, pairs)
            if not pairs:
                return None
            content = self._write(icn, [claim for _, claim in pairs])
        file = SubmissionFile(
            file_name=f"837P-{icn:09d}.x12",
            interchange_control_number=icn,
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
                self._write(1, [claim])
            except (X12Error, ValueError) as exc:
                uow.claims.transition(
                    record,
                    ClaimEvent.SCRUB_FAILED,
                    actor=ACTOR,
                    reason=f"cannot be written as an 837P: {type(exc).__name__}: {exc}"[:500],
                )
                continue
            writable.append((record, claim))
        return writable

    def _write(self, icn: int, claims: list[Claim]) -> str:
        s = self.settings
        return write_837p(
            claims,
            envelope=Envelope(
                sender_id=s.submitter_id,
                receiver_id=s.receiver_id,
                interchange_control_number=icn,
                group_control_number=icn,
                functional_id=FUNCTIONAL_ID,
                version=IMPLEMENTATION_GUIDE,
                created_at=datetime.now(UTC),
            ),
            submitter=Submitter(
                name=s.submitter_name,
                identifier=s.submitter_id,
                contact_name="BILLING OFFICE",
                phone="8005550100",
            ),
            receiver=Receiver(name="CLEARINGHOUSE", identifier=s.receiver_id),
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
            stored.status, stored.sent_at, stored.ack_999 = "sent", now, receipt.ack_999
            stored.attempts += 1
            stored.accepted = any(a.submitted for a in acknowledgments.values())
            for record in await uow.claims.in_file(file.file_name):
                if record.state != ClaimState.READY.value:
                    continue
                claim = claims.get(record.claim_id) or Claim.model_validate_json(record.claim)
                apply_acknowledgment(
                    uow,
                    record,
                    acknowledgments[record.claim_id],
                    payload=submitted_payload(
                        claim, icn=file.interchange_control_number, file_name=file.file_name, at=now
                    ),
                )

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
            for record in await uow.claims.in_file(file.file_name):
                if record.state == ClaimState.READY.value:
                    uow.claims.transition(
                        record,
                        ClaimEvent.SCRUB_FAILED,
                        actor="clearinghouse",
                        reason=f"interchange {file.file_name} refused: {reason}"[:500],
                    )


def _acknowledge(file: SubmissionFile, receipt: SubmissionReceipt):
    try:
        ack_999 = read_999(receipt.ack_999)
        statuses = read_277ca(receipt.ack_277ca) if receipt.ack_277ca else ()
    except X12Error as exc:
        raise FileRefused(f"unreadable acknowledgment: {exc}") from exc
    return acknowledge_claims(
        file.claim_ids,
        ack_999=ack_999,
        group_control_number=str(file.interchange_control_number),
        transaction_control_number=TRANSACTION_CONTROL_NUMBER,
        statuses_277ca=statuses,
        already_held=receipt.already_held,
    )


def apply_acknowledgment(
    uow: ClaimsUnitOfWork,
    record: ClaimRecord,
    ack: ClaimAcknowledgment,
    *,
    payload: ClaimSubmitted,
) -> None:
    """Walk the claim through the state machine and publish what happened to it."""
    uow.claims.transition(
        record, ClaimEvent.SUBMITTED, actor=ACTOR, reason=f"sent in {payload.file_reference}"
    )
    for event in ack.events:
        uow.claims.transition(
            record, event, actor="clearinghouse", reason="; ".join(ack.reasons)[:500]
        )
    routing = {
        "tenant_id": record.tenant_id,
        "encounter_id": record.encounter_id,
        "causation_id": record.coded_event_id,
    }
    if ack.submitted:
        uow.emit(CLAIM_SUBMITTED, payload, detail=payload.file_reference, **routing)
    else:
        uow.emit(
            CLAIM_REJECTED,
            ClaimRejected(
                claim_id=record.claim_id, stage=ack.rejected_by, reasons=list(ack.reasons)
            ),
            **routing,
        )
