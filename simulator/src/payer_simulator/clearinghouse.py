"""What the simulated clearinghouse and payer do: receive an 837 (999, 277CA, adjudication)
and turn queued adjudications into 835 files."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from payer_simulator.adjudication import Adjudication, adjudicate, draw
from payer_simulator.claim_edits import front_end_edits
from payer_simulator.edi import X12Error
from payer_simulator.reader837 import Interchange837, SubmittedClaim, read_837
from payer_simulator.settings import SimulatorSettings
from payer_simulator.store import QueuedClaim, Store, SubmissionRecord, Transaction
from payer_simulator.writer835 import (
    ClaimAcknowledgment,
    GroupAck,
    PayerIdentity,
    PaymentMethod,
    acknowledgments_for,
    write_277ca,
    write_835,
    write_999,
)

log = logging.getLogger(__name__)

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"
_SIMULATOR_ID = "PAYERSIM"
# The share of payees the simulated payer pays by paper check instead of ACH.
_CHECK_PAYEE_SHARE = 0.2


@dataclass(frozen=True)
class SubmissionResult:
    submission_id: str
    accepted: bool
    ack_999: str
    ack_277ca: str | None
    claims: list[dict[str, str]]


def receive_837(
    *, store: Store, settings: SimulatorSettings, text: str, now: datetime | None = None
) -> SubmissionResult:
    """Acknowledge an 837 (999), front-end edit its claims (277CA) and queue the new ones'
    adjudication. A submission whose claims were all seen before gets the original reply.
    Raises `X12Error` when the text holds no 837 at all."""
    now = now or datetime.now(UTC)
    interchange = read_837(text)
    groups = acknowledgments_for(interchange)
    accepted_claims: list[SubmittedClaim] = []
    rejected_claims: list[SubmittedClaim] = []
    for group, ack in zip(interchange.groups, groups, strict=True):
        for ts, ts_ack in zip(group.transaction_sets, ack.transaction_sets, strict=True):
            taken = ts_ack.accepted and not ack.problems and not ack.envelope_rejected
            (accepted_claims if taken else rejected_claims).extend(ts.claims)

    with store.transaction() as tx:
        tx.count("claims_received", len(accepted_claims) + len(rejected_claims))
        tx.note_receipt(
            (c.claim_id for c in interchange.claims), interchange.control_number, now.isoformat()
        )
        known = tx.submissions_of(c.claim_id for c in accepted_claims)
        entries: list[dict[str, str]] = []
        acks: list[ClaimAcknowledgment] = []
        adjudications: list[Adjudication] = []
        queued_now: set[str] = set()
        for claim in accepted_claims:
            if claim.claim_id in known or claim.claim_id in queued_now:
                entries.append({"claim_id": claim.claim_id, "status": DUPLICATE})
                continue
            rejections = front_end_edits(claim, received_on=now.date())
            if rejections:
                acks.append(
                    ClaimAcknowledgment(claim, rejections[0].status, "", rejections[0].message)
                )
                entries.append(
                    {
                        "claim_id": claim.claim_id,
                        "status": REJECTED,
                        "reason": "; ".join(r.message for r in rejections),
                    }
                )
                continue
            adjudication = adjudicate(claim, seed=settings.seed, denial_rate=settings.denial_rate)
            queued_now.add(claim.claim_id)
            adjudications.append(adjudication)
            acks.append(ClaimAcknowledgment(claim, ("A2", "20"), adjudication.payer_claim_number))
            entries.append({"claim_id": claim.claim_id, "status": ACCEPTED})
        entries.extend(
            {
                "claim_id": claim.claim_id,
                "status": REJECTED,
                "reason": "transaction set rejected by the 999",
            }
            for claim in rejected_claims
        )
        duplicates = [e for e in entries if e["status"] == DUPLICATE]
        tx.count("duplicates", len(duplicates))
        tx.count("claims_rejected", sum(e["status"] == REJECTED for e in entries))
        if entries and len(duplicates) == len(entries):
            original = tx.submission(known[entries[0]["claim_id"]])
            if original is not None:
                log.info("submission %s repeated; original reply sent", original.submission_id)
                return SubmissionResult(
                    submission_id=original.submission_id,
                    accepted=original.accepted,
                    ack_999=original.ack_999,
                    ack_277ca=original.ack_277ca,
                    claims=entries,
                )
        record = SubmissionRecord(
            submission_id=uuid.uuid4().hex,
            received_at=now.isoformat(),
            accepted=all(g.accepted for g in groups) and bool(groups),
            ack_999=_ack_999(tx, interchange, groups, now),
            ack_277ca=_ack_277ca(tx, settings, interchange, acks, now),
            claims=entries,
        )
        tx.add_submission(record, adjudications)
    log.info(
        "submission %s: %d claims queued, %d duplicate, %d rejected",
        record.submission_id,
        len(adjudications),
        len(duplicates),
        len(entries) - len(adjudications) - len(duplicates),
    )
    return SubmissionResult(
        record.submission_id, record.accepted, record.ack_999, record.ack_277ca, entries
    )


def _ack_999(
    tx: Transaction, interchange: Interchange837, groups: list[GroupAck], now: datetime
) -> str:
    return write_999(
        groups,
        interchange_control_number=tx.next_control_number(),
        sender_id=interchange.receiver_id or _SIMULATOR_ID,
        receiver_id=interchange.sender_id,
        created_at=now,
        usage=interchange.usage if interchange.usage in {"P", "T"} else "P",
    )


def _ack_277ca(
    tx: Transaction,
    settings: SimulatorSettings,
    interchange: Interchange837,
    acks: Sequence[ClaimAcknowledgment],
    now: datetime,
) -> str | None:
    if not acks:
        return None
    # One 277CA answers the whole submission; its first transaction set names the submitter.
    ts = next(ts for g in interchange.groups for ts in g.transaction_sets)
    control_number = tx.next_control_number()
    return write_277ca(
        acks,
        clearinghouse_name=settings.payer_name,
        clearinghouse_id=interchange.receiver_id or _SIMULATOR_ID,
        submitter_name=ts.submitter_name,
        submitter_id=ts.submitter_id or interchange.sender_id,
        batch_reference=ts.batch_reference,
        received_on=now.date(),
        interchange_control_number=control_number,
        trace_number=str(control_number),
        receiver_id=interchange.sender_id,
        created_at=now,
        usage=interchange.usage if interchange.usage in {"P", "T"} else "P",
    )


def payer_identity(settings: SimulatorSettings, payer_id: str) -> PayerIdentity:
    ein = int(hashlib.sha256(f"ein:{payer_id}".encode()).hexdigest()[:12], 16) % 10**7
    return PayerIdentity(name=settings.payer_name, payer_id=payer_id, tax_id=f"99{ein:07d}")


def remit_queued(
    *, store: Store, settings: SimulatorSettings, now: datetime | None = None
) -> list[int]:
    """Write one 835 per (payer id, billing NPI) for the queued adjudications, at most
    `max_claims_per_835` claims each; return the new files' sequence numbers."""
    now = now or datetime.now(UTC)
    created: list[int] = []
    with store.transaction() as tx:
        batches: dict[tuple[str, str], list[QueuedClaim]] = {}
        for queued in tx.queued_claims():
            batches.setdefault((queued.payer_id, queued.billing_npi), []).append(queued)
        for (payer_id, npi), queued_claims in batches.items():
            for start in range(0, len(queued_claims), settings.max_claims_per_835):
                chunk = [
                    q.adjudication
                    for q in queued_claims[start : start + settings.max_claims_per_835]
                ]
                created.append(_remit(tx, settings, payer_id, npi, chunk, now))
    if created:
        log.info("wrote 835 files %s", created)
    return created


def _remit(
    tx: Transaction,
    settings: SimulatorSettings,
    payer_id: str,
    npi: str,
    adjudications: list[Adjudication],
    now: datetime,
) -> int:
    seq = tx.next_remittance_seq()
    first = adjudications[0].claim
    by_check = draw(settings.seed, npi, "payment-method") < _CHECK_PAYEE_SHARE
    content = write_835(
        adjudications,
        payer=payer_identity(settings, payer_id),
        payee_npi=npi,
        payee_name=first.billing_provider_name,
        payee_tax_id=first.billing_provider_tax_id,
        interchange_control_number=tx.next_control_number(),
        payment_date=now.date(),
        trace_number=f"{100000 + seq}" if by_check else f"SIM{now:%Y%m%d}{seq:07d}",
        payment_method=PaymentMethod.CHECK if by_check else PaymentMethod.ACH,
        sender_id=first.origin.receiver_id or _SIMULATOR_ID,
        receiver_id=first.origin.sender_id,
        created_at=now,
    )
    safe_payer = "".join(ch for ch in payer_id if ch.isalnum())[:20] or "PAYER"
    tx.add_remittance(
        seq=seq,
        file_name=f"{seq:08d}-{safe_payer}-{npi}.835",
        payer_id=payer_id,
        billing_npi=npi,
        created_at=now.isoformat(),
        content=content,
        adjudications=adjudications,
    )
    return seq


def answer_file_drop(
    *,
    store: Store,
    settings: SimulatorSettings,
    pickup: Path,
    dropoff: Path,
    now: datetime | None = None,
) -> list[str]:
    """The file-drop side of the clearinghouse: every 837 in `pickup` that has no answer in
    `dropoff` yet gets `<stem>.999` and, when there are claims to report, `<stem>.277`.
    Answers are written under a temporary name and renamed, so a reader never sees half a
    file. Returns the names of the 837s answered."""
    dropoff.mkdir(parents=True, exist_ok=True)
    answered = []
    for path in sorted(p for p in pickup.glob("*") if p.is_file()):
        if path.name.startswith(".") or (dropoff / f"{path.stem}.999").exists():
            continue
        try:
            result = receive_837(
                store=store, settings=settings, text=path.read_text(encoding="utf-8-sig"), now=now
            )
        except X12Error as exc:
            log.warning("file %s is not an 837: %s", path.name, exc)
            continue
        if result.ack_277ca:
            _write_atomically(dropoff / f"{path.stem}.277", result.ack_277ca)
        _write_atomically(dropoff / f"{path.stem}.999", result.ack_999)
        answered.append(path.name)
    return answered


def _write_atomically(target: Path, content: str) -> None:
    partial = target.with_name(f".{target.name}.part")
    partial.write_text(content, encoding="ascii", errors="replace")
    os.replace(partial, target)
