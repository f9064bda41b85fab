"""What the simulated clearinghouse and payer do: receive an 837 (999, 277CA, adjudication
with the member's accumulators, duplicates, replacements and voids) and turn what is queued
into 835 files (reversals after the payment they reverse, provider-level adjustments)."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from payer_simulator import benefits
from payer_simulator.adjudication import (
    PayerContext,
    adjudicate,
    payer_claim_number,
    reprocess,
)
from payer_simulator.claim_edits import front_end_edits
from payer_simulator.draws import draw
from payer_simulator.edi import X12Error
from payer_simulator.model import Adjudication, BenefitUse, reversal_of
from payer_simulator.payer_policy import payer_rank
from payer_simulator.provider_adjustments import settle_payment
from payer_simulator.reader837 import Interchange837, SubmittedClaim, read_837
from payer_simulator.settings import SimulatorSettings
from payer_simulator.store import (
    NewClaim,
    QueuedItem,
    Store,
    SubmissionRecord,
    Transaction,
)
from payer_simulator.tables import PayerTables, load_tables
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

    tables = load_tables(settings.tables_dir)
    with store.transaction() as tx:
        tx.count("claims_received", len(accepted_claims) + len(rejected_claims))
        tx.note_receipt(
            (c.claim_id for c in interchange.claims), interchange.control_number, now.isoformat()
        )
        known = tx.submissions_of(c.claim_id for c in accepted_claims)
        entries: list[dict[str, str]] = []
        acks: list[ClaimAcknowledgment] = []
        taken: list[NewClaim] = []
        queued_now: set[str] = set()
        payer = _Payer(tx, settings, tables, now.date())
        for claim in accepted_claims:
            if claim.claim_id in known or claim.claim_id in queued_now:
                entries.append({"claim_id": claim.claim_id, "status": DUPLICATE})
                continue
            rejections = front_end_edits(
                claim, received_on=now.date(), original_on_file=payer.original_on_file
            )
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
            new_claim = payer.take(claim)
            queued_now.add(claim.claim_id)
            taken.append(new_claim)
            acks.append(ClaimAcknowledgment(claim, ("A2", "20"), new_claim.payer_claim_number))
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
        tx.add_submission(record, taken)
        payer.finish()
    log.info(
        "submission %s: %d claims queued, %d duplicate, %d rejected",
        record.submission_id,
        len(taken),
        len(duplicates),
        len(entries) - len(taken) - len(duplicates),
    )
    return SubmissionResult(
        record.submission_id, record.accepted, record.ack_999, record.ack_277ca, entries
    )


class _Payer:
    """The payer side of one submission: adjudicates each accepted claim against what the
    store holds (member accumulators, claims on file, earlier identical claims) and records
    what the next 835s must say."""

    def __init__(
        self, tx: Transaction, settings: SimulatorSettings, tables: PayerTables, received_on
    ) -> None:
        self.tx = tx
        self.settings = settings
        self.tables = tables
        self.received_on = received_on
        self.fingerprints: set[str] = set()
        self.reprocessings: list[tuple[Adjudication, Adjudication, Adjudication]] = []
        self.superseded: set[str] = set()

    def original_on_file(self, number: str) -> bool:
        found = self.tx.claim_on_file(number)
        return (
            found is not None
            and not found.superseded
            and found.claim_id not in self.superseded
            and not found.current.reversal
        )

    def context(self, claim: SubmittedClaim, **changes) -> PayerContext:
        settings = self.settings
        states = {}
        if payer_rank(claim.payer_responsibility) == 1:
            plan = benefits.member_plan(self.tables, claim, seed=settings.seed)
            stored = self.tx.benefit_states(
                benefits.member_key(claim),
                (
                    benefits.service_year(line, claim, self.received_on)
                    for line in claim.service_lines
                ),
            )
            states = benefits.states_before(
                claim, plan, stored, seed=settings.seed, received_on=self.received_on
            )
        return PayerContext(
            tables=self.tables,
            received_on=self.received_on,
            benefit_states=states,
            line_denial_rate=settings.line_denial_rate,
            crossover_rate=settings.crossover_rate,
            **changes,
        )

    def take(self, claim: SubmittedClaim) -> NewClaim:
        """Adjudicate an accepted claim: a void reverses its original, a replacement reverses
        it and is paid in its place, an original is checked against earlier identical ones."""
        seed = self.settings.seed
        own_number = payer_claim_number(seed, claim.claim_id)
        if claim.frequency_code in {"7", "8"}:
            original = self.tx.claim_on_file(claim.original_claim_number)
            assert original is not None  # the front-end edit let only claims on file through
            self.tx.supersede(original.claim_id)
            self.superseded.add(original.claim_id)
            reversal = reversal_of(original.current, received_on=self.received_on)
            self._record_use(reversal.claim, reversal.benefit_use)
            if claim.frequency_code == "8":
                return NewClaim(
                    claim,
                    reversal,
                    own_number,
                    after_claim_id=original.claim_id,
                    superseded=True,
                )
            self.tx.count("claims_replaced", 1)
            adjudication = self._adjudicate(claim, self.context(claim))
            return NewClaim(
                claim,
                replace(adjudication, original_claim_number=original.current.payer_claim_number),
                own_number,
                fingerprint=self._fingerprint(claim),
                after_claim_id=original.claim_id,
                reversal=reversal,
            )
        fingerprint = self._fingerprint(claim)
        duplicate = fingerprint in self.fingerprints or self.tx.is_duplicate(fingerprint)
        self.fingerprints.add(fingerprint)
        context = self.context(claim, is_duplicate=duplicate)
        adjudication = self._adjudicate(claim, context)
        if (
            adjudication.paid > 0
            and draw(seed, claim.claim_id, "reprocessed") < self.settings.reversal_rate
        ):
            reversal, correction = reprocess(
                adjudication, seed=seed, denial_rate=self.settings.denial_rate, context=context
            )
            self._record_use(claim, reversal.benefit_use + correction.benefit_use)
            self.reprocessings.append((adjudication, reversal, correction))
        return NewClaim(claim, adjudication, own_number, fingerprint=fingerprint)

    def finish(self) -> None:
        """Rows that refer to the claims rows of this submission go in after them."""
        for original, reversal, correction in self.reprocessings:
            self.tx.add_reprocessing(original, reversal, correction)

    def _adjudicate(self, claim: SubmittedClaim, context: PayerContext) -> Adjudication:
        adjudication = adjudicate(
            claim, seed=self.settings.seed, denial_rate=self.settings.denial_rate, context=context
        )
        self._record_use(claim, adjudication.benefit_use)
        self.tx.count("claims_partially_paid", int(adjudication.partially_denied))
        self.tx.count("claims_crossed_over", int(adjudication.crossover_carrier is not None))
        self.tx.count("claims_as_secondary", int(payer_rank(claim.payer_responsibility) > 1))
        return adjudication

    def _record_use(self, claim: SubmittedClaim, uses: tuple[BenefitUse, ...]) -> None:
        if not uses:
            return
        key = benefits.member_key(claim)
        stored = self.tx.benefit_states(key, (use.year for use in uses))
        plan = benefits.member_plan(self.tables, claim, seed=self.settings.seed)
        updated = {}
        for use in uses:
            state = (
                updated.get(use.year)
                or stored.get(use.year)
                or benefits.starting_state(plan, seed=self.settings.seed, member=key, year=use.year)
            )
            updated[use.year] = state.after(use)
        self.tx.set_benefit_states(key, updated)

    @staticmethod
    def _fingerprint(claim: SubmittedClaim) -> str:
        """What makes two claims exact duplicates: the same payer, provider, patient and
        services (codes, modifiers, dates, units, charges), whatever the claim ids."""
        lines = sorted(
            (
                line.procedure_code,
                line.revenue_code,
                ",".join(line.modifiers),
                str(line.service_date),
                str(line.service_end_date),
                str(line.units),
                str(line.charge),
            )
            for line in claim.service_lines
        )
        parts = (
            claim.payer_id,
            claim.payer_responsibility,
            claim.billing_provider_npi,
            benefits.member_key(claim),
            repr(lines),
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


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
    """Write one 835 per (payer id, billing NPI) for what is queued, at most
    `max_claims_per_835` items each (a reversal and its correction count as one); return the
    new files' sequence numbers."""
    now = now or datetime.now(UTC)
    tables = load_tables(settings.tables_dir)
    created: list[int] = []
    with store.transaction() as tx:
        batches: dict[tuple[str, str], list[QueuedItem]] = {}
        for item in tx.queued_items():
            batches.setdefault((item.payer_id, item.billing_npi), []).append(item)
        for (payer_id, npi), items in batches.items():
            for start in range(0, len(items), settings.max_claims_per_835):
                chunk = items[start : start + settings.max_claims_per_835]
                created.append(_remit(tx, settings, tables, payer_id, npi, chunk, now))
    if created:
        log.info("wrote 835 files %s", created)
    return created


def _remit(
    tx: Transaction,
    settings: SimulatorSettings,
    tables: PayerTables,
    payer_id: str,
    npi: str,
    items: list[QueuedItem],
    now: datetime,
) -> int:
    seq = tx.next_remittance_seq()
    adjudications = [a for item in items for a in item.adjudications]
    first = adjudications[-1].claim
    by_check = draw(settings.seed, npi, "payment-method") < _CHECK_PAYEE_SHARE
    trace_number = f"{100000 + seq}" if by_check else f"SIM{now:%Y%m%d}{seq:07d}"
    provider_adjustments, ledger = settle_payment(
        adjudications,
        ledger=tx.payee_ledger(payer_id, npi),
        terms=tables.terms_for(payer_id),
        seed=settings.seed,
        interest_rate=settings.interest_rate,
        trace_number=trace_number,
    )
    content = write_835(
        adjudications,
        payer=payer_identity(settings, payer_id),
        payee_npi=npi,
        payee_name=first.billing_provider_name,
        payee_tax_id=first.billing_provider_tax_id,
        interchange_control_number=tx.next_control_number(),
        payment_date=now.date(),
        trace_number=trace_number,
        payment_method=PaymentMethod.CHECK if by_check else PaymentMethod.ACH,
        sender_id=first.origin.receiver_id or _SIMULATOR_ID,
        receiver_id=first.origin.sender_id,
        created_at=now,
        provider_adjustments=provider_adjustments,
    )
    tx.save_payee_ledger(payer_id, npi, ledger)
    safe_payer = "".join(ch for ch in payer_id if ch.isalnum())[:20] or "PAYER"
    tx.add_remittance(
        seq=seq,
        file_name=f"{seq:08d}-{safe_payer}-{npi}.835",
        payer_id=payer_id,
        billing_npi=npi,
        created_at=now.isoformat(),
        content=content,
        items=items,
        provider_adjustments=sum((p.amount for p in provider_adjustments), Decimal("0.00")),
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
