"""Posting 835 remittances. One unit of work per file: judge the file (duplicate? which
transactions are held?), store it, match every CLP to its claim within the tenant the file
belongs to, post claims and lines, undo what reversals reverse, put PLB adjustments on the
provider account, and stage the events; a CLP whose claim is not known waits as a prepared
posting in the unmatched queue until its claim arrives or a person places it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from claimflow_remittance.adapters.tables import (
    ExpectedClaim,
    Posting,
    ProviderAccountEntry,
    RemittanceFile,
    RemittancePayment,
    UnmatchedPayment,
)
from claimflow_remittance.domain.claim_posting import (
    ClaimPosting,
    CompletedPosting,
    complete_posting,
    dump_posting,
    load_posting,
    prepare_file,
)
from claimflow_remittance.domain.era_model import Problem, Remittance
from claimflow_remittance.domain.file_assessment import FileProblem, assess_835
from claimflow_remittance.domain.import_identity import PaymentKey, payment_key
from claimflow_remittance.domain.line_posting import LineEntry
from claimflow_remittance.domain.matching import (
    MIN_TRUNCATED_CLAIM_ID,
    ClaimIndex,
    ClaimMatch,
    SubmittedClaim,
    SubmittedLine,
    WorkItem,
    claim_key,
)
from claimflow_remittance.domain.patient_accounts import patient_key_for
from claimflow_remittance.domain.problems import file_policy
from claimflow_remittance.domain.provider_account import provider_account_entries
from claimflow_remittance.domain.reversals import PostedClaim, ReversalPosting, plan_reversal
from claimflow_remittance.unit_of_work import RemittanceUnitOfWork
from claimflow_shared.events import Patient
from claimflow_shared.runtime import faults
from claimflow_shared.topics import CLAIM_DENIED, PATIENT_BALANCE_DUE, REMITTANCE_RECEIVED
from claimflow_shared.x12 import X12Error

POSTED_BY = "claimflow-remittance/auto-post"
UPLOAD = "upload"
REVERSAL = "22"
_ITEM_NAMESPACE = uuid.UUID("5b0d6c1e-4a8f-4d53-9a57-0c3f2b1e8d42")
# What a reader error message may say about an unreadable file: never its content.
_MAX_ERROR = 300


@dataclass(frozen=True)
class FileScope:
    """Whose claims one transaction of a file may post to. An upload posts only to the
    uploader's claims; a download only to claims billed under the payee's NPI (N1*PE), so a
    CLP naming another tenant's claim is unmatched and says nothing about that claim."""

    uploaded: bool
    tenant_id: str | None
    payee_npi: str | None

    def admits(self, claim: ExpectedClaim) -> bool:
        if self.uploaded:
            return claim.tenant_id == self.tenant_id
        if self.payee_npi:
            return claim.billing_npi == self.payee_npi
        # No payee NPI (a TIN-only N1*PE): the claim id alone, and only if one tenant has it.
        return True


@dataclass(frozen=True)
class PostedOutcome:
    claim_id: str
    status: str
    paid: Decimal
    patient_responsibility: Decimal
    payer_claim_number: str
    denial_category: str | None
    reverses: str | None = None
    # What needs a person although the claim posted: lines paying no submitted line, a
    # reversal whose original posting is not found.
    work_items: tuple[WorkItem, ...] = ()


@dataclass(frozen=True)
class UnmatchedOutcome:
    claim_id: str
    kind: str
    reason: str
    amount: Decimal


@dataclass(frozen=True)
class HeldOutcome:
    claim_id: str
    transaction: int
    reason: str


@dataclass
class ImportResult:
    """What became of one file: the answer to an upload, the log line of a download."""

    file_id: str
    status: str  # posted | partly-held | held | duplicate | quarantined
    policy: str
    tenant_id: str | None
    transactions: int = 0
    claims: int = 0
    duplicate_reason: str | None = None
    error: str | None = None
    problems: list[dict] = field(default_factory=list)
    posted: list[PostedOutcome] = field(default_factory=list)
    unmatched: list[UnmatchedOutcome] = field(default_factory=list)
    held: list[HeldOutcome] = field(default_factory=list)
    provider_adjustments: list[dict] = field(default_factory=list)

    @property
    def duplicate(self) -> bool:
        return self.status == "duplicate"


def new_file_id(source: str, source_ref: str) -> str:
    """The same (source, ref) gets the same id, so a crashed download repeats itself."""
    return hashlib.sha256(f"{source}:{source_ref}".encode()).hexdigest()[:24]


def _today() -> date:
    return datetime.now(UTC).date()


async def import_835(
    *,
    uow: RemittanceUnitOfWork,
    source: str,
    source_ref: str,
    content: str,
    received_by: str,
    tenant_id: str | None = None,
) -> ImportResult:
    """Store and post one 835 file, once. Uploads name their tenant; downloads belong to the
    tenant of the payee NPI. The same transactions (whatever envelope), or a payment whose
    payer and trace number were imported before, post nothing the second time."""
    uploaded = source == UPLOAD
    file_id = new_file_id(source, source_ref)
    size = len(content.encode("utf-8", "replace"))
    try:
        assessment = assess_835(content)
    except X12Error as exc:
        return quarantine(
            uow,
            source=source,
            source_ref=source_ref,
            content=content,
            size=size,
            tenant_id=tenant_id if uploaded else None,
            received_by=received_by,
            error=f"not an 835: {str(exc)[:_MAX_ERROR]}",
        )
    remittances = assessment.remittances
    keys = {i: key for i, r in enumerate(remittances) if (key := payment_key(r)) is not None}
    sha = assessment.identity.content_sha256
    await uow.lock_all(
        [f"835:{sha}", *(f"payment:{k.payer}:{k.trace_number}" for k in keys.values())]
    )
    payee_npis = {r.payee.npi for r in remittances if r.payee.npi}
    tenants_of = await uow.ledger.payee_tenants(payee_npis) if not uploaded else {}
    scopes = [
        FileScope(
            uploaded, tenant_id if uploaded else _sole(tenants_of.get(r.payee.npi)), r.payee.npi
        )
        for r in remittances
    ]
    file_tenant = tenant_id if uploaded else _sole({s.tenant_id for s in scopes} - {None})
    result = ImportResult(
        file_id,
        status="posted",
        policy=assessment.policy,
        tenant_id=file_tenant,
        transactions=len(remittances),
        claims=assessment.claim_count,
        problems=[p.as_dict() for p in assessment.problems],
    )

    earlier = await uow.ledger.known_imports(sha, keys.values())
    if sha in earlier:
        result.duplicate_reason = "the same transactions were imported before"
        return _duplicate(uow, result, earlier[sha], source, source_ref, sha, size, received_by)
    duplicate_transactions = {i for i, key in keys.items() if key in earlier}
    if duplicate_transactions and len(duplicate_transactions) == len(remittances):
        key = keys[min(duplicate_transactions)]
        result.duplicate_reason = f"payer {key.payer} trace {key.trace_number} was imported before"
        earlier_id = earlier[key]
        return _duplicate(uow, result, earlier_id, source, source_ref, sha, size, received_by)

    held = {
        i
        for i, r in enumerate(remittances)
        if i not in duplicate_transactions and file_policy(r.problems) == "hold"
    }
    postable = set(range(len(remittances))) - held - duplicate_transactions
    for index in sorted(duplicate_transactions):
        key = keys[index]
        result.problems.append(
            _problem_dict(
                index,
                remittances[index].control_number,
                "duplicate-payment",
                "post",
                remittances[index].position,
                "TRN",
                f"payer {key.payer} trace {key.trace_number} was imported before; not posted again",
            )
        )
    for index in sorted(held):
        why = next((p for p in remittances[index].problems if p.policy == "hold"), None)
        reason = f"{why.kind}: {why.message}" if why else "held"
        result.held += [HeldOutcome(c.claim_id, index, reason) for c in remittances[index].claims]

    posted_count = await post_transactions(
        uow,
        result,
        remittances,
        postable,
        scopes=scopes,
        file_id=file_id,
        today=_today(),
        # An upload is posted as the person who sent it; a download by the service.
        posted_by=received_by if uploaded else POSTED_BY,
    )
    for index in postable:
        if (key := keys.get(index)) is not None:
            _record_payment(uow, key, remittances[index], file_id, index, scopes[index].tenant_id)
    if held:
        result.status = "held" if not postable else "partly-held"
    uow.ledger.add_file(
        RemittanceFile(
            file_id=file_id,
            source=source,
            source_ref=source_ref,
            tenant_id=file_tenant,
            received_by=received_by,
            status=result.status,
            policy=result.policy,
            content_sha256=sha,
            content=content,
            size_bytes=size,
            payee_npi=_sole(payee_npis),
            payment_total=sum((r.payment.signed_amount for r in remittances), Decimal("0")),
            transaction_count=len(remittances),
            claim_count=assessment.claim_count,
            posted_count=posted_count,
            held_transactions=sorted(held),
            problems=result.problems[:500],
        )
    )
    return result


async def post_transactions(
    uow: RemittanceUnitOfWork,
    result: ImportResult,
    remittances: Sequence[Remittance],
    transactions: set[int],
    *,
    scopes: Sequence[FileScope],
    file_id: str,
    today: date,
    posted_by: str = POSTED_BY,
) -> int:
    """Post the CLPs and PLBs of these transactions; what cannot be matched is parked."""
    prepared, unpostable = prepare_file(
        list(remittances), file_id=file_id, transactions=transactions
    )
    for index, found in unpostable:
        result.problems.append(_file_problem(index, remittances[index], found))
        payment = next(c for c in remittances[index].claims if c.position == found.position)
        _park(
            uow,
            result,
            scopes[index],
            file_id=file_id,
            transaction=index,
            position=found.position,
            claim_id=payment.claim_id,
            kind="not-postable",
            reason=found.message,
            amount=payment.paid,
        )
    await uow.lock_claims(claim_key(p.claim_id) for p in prepared)
    candidates = await uow.ledger.find_claims(p.claim_id for p in prepared)
    reversed_claims = [p.claim_id for p in prepared if p.status_code == REVERSAL]
    if reversed_claims:
        await uow.ledger.load_postings(reversed_claims)
    posted = 0
    matchers: dict[FileScope, _ScopeMatcher] = {}
    for item in prepared:
        scope = scopes[item.transaction]
        if scope not in matchers:
            matchers[scope] = _ScopeMatcher(candidates, scope)
        found = matchers[scope].match(item)
        if isinstance(found, WorkItem):
            _park(
                uow,
                result,
                scope,
                file_id=file_id,
                transaction=item.transaction,
                position=item.position,
                claim_id=item.claim_id,
                kind=found.kind,
                reason=found.reason,
                amount=item.paid,
                # Kept so that a person (or the claim's arrival) can post it as it is.
                prepared=item if found.kind in ("unmatched-claim", "ambiguous-claim") else None,
            )
            continue
        outcome = await post(uow, expected=found, item=item, today=today, posted_by=posted_by)
        result.posted.append(outcome)
        result.unmatched += [
            UnmatchedOutcome(w.claim_id, w.kind, w.reason, w.amount) for w in outcome.work_items
        ]
        posted += 1
        if posted == 2:
            faults.crash_point("mid-835-posting")
    for index in sorted(transactions):
        scope = scopes[index]
        for pair, entry in enumerate(provider_account_entries(remittances[index])):
            uow.ledger.add_provider_entry(
                ProviderAccountEntry(
                    tenant_id=scope.tenant_id,
                    payee_npi=scope.payee_npi,
                    file_id=file_id,
                    transaction=index,
                    position=entry.position,
                    pair=pair,
                    payer_id=entry.payer_id,
                    payer_name=entry.payer_name,
                    provider_id=entry.provider_id,
                    fiscal_period_end=entry.fiscal_period_end,
                    reason=entry.reason,
                    kind=entry.kind,
                    reference=entry.reference,
                    amount=entry.amount,
                    trace_number=entry.trace_number,
                )
            )
            result.provider_adjustments.append(
                {"reason": entry.reason, "kind": entry.kind, "amount": f"{entry.amount:.2f}"}
            )
    return posted


class _ScopeMatcher:
    """The claims one scope admits, indexed once per file: each CLP is then found by CLP01
    exactly, normalised or cut short, without looking at the others."""

    def __init__(self, candidates: Sequence[ExpectedClaim], scope: FileScope) -> None:
        self.scope = scope
        admitted = [c for c in candidates if scope.admits(c)]
        self.by_id = {(c.tenant_id, c.claim_id): c for c in admitted}
        self.tenants_of: dict[str, set[str]] = {}
        for claim in admitted:
            self.tenants_of.setdefault(claim.claim_id, set()).add(claim.tenant_id)
        self.index = ClaimIndex(
            SubmittedClaim(tenant_id=c.tenant_id, claim_id=c.claim_id, total_charge=c.total_charge)
            for c in admitted
        )

    def match(self, item: ClaimPosting) -> ExpectedClaim | WorkItem:
        scope = self.scope
        unscoped = not scope.uploaded and not scope.payee_npi
        if unscoped and len(self.tenants_of.get(item.claim_id, ())) > 1:
            return WorkItem(
                "ambiguous-claim",
                item.claim_id,
                item.position,
                "no payee NPI, and CLP01 names claims of several tenants",
                item.paid,
            )
        found = self.index.find(item.payment)
        if isinstance(found, ClaimMatch):
            return self.by_id[(found.claim.tenant_id, found.claim.claim_id)]
        return found


async def post(
    uow: RemittanceUnitOfWork,
    *,
    expected: ExpectedClaim,
    item: ClaimPosting,
    today: date,
    posted_by: str = POSTED_BY,
) -> PostedOutcome:
    """Post one CLP to its claim: the claim and its lines, what a reversal undoes, the denial
    for the work queue, the patient's share, the KPI fact, and the events."""
    # Whether a secondary claim follows is the claims stage's call (it holds the coverages);
    # the posting tells it when the payer forwarded the claim itself.
    completed = complete_posting(item, submitted_claim(expected), today=today)
    charge, paid, patient = item.charge, item.paid, item.patient_responsibility
    reverses = None
    work_items = list(completed.work_items)
    if item.status_code == REVERSAL:
        earlier = uow.ledger.postings_of(expected.tenant_id, expected.claim_id)
        plan = plan_reversal(item.payment, [_posted_claim(p) for p in earlier])
        if isinstance(plan, ReversalPosting):
            charge, paid, patient = plan.charge, plan.paid, plan.patient_responsibility
            reverses = plan.reverses
            await uow.ledger.mark_reversed(reverses, by=item.key)
        else:
            # The money moved all the same (BPR counts it): post it, and ask a person.
            work_items.append(plan)
    lines = completed.lines
    posting = dict(
        posting_key=item.key,
        file_id=item.file_id,
        transaction=item.transaction,
        position=item.position,
        claim_id=item.claim_id,
        tenant_id=expected.tenant_id,
        encounter_id=expected.encounter_id,
        payer_id=item.header.payer_id,
        payer_name=item.header.payer_name,
        payee_name=item.header.payee_name,
        payee_npi=item.header.payee_npi,
        payer_claim_number=item.payer_claim_number,
        original_payer_claim_number=item.payment.original_reference or None,
        status_code=item.status_code,
        status=item.status,
        charge=charge,
        paid=paid,
        allowed=item.allowed,
        patient_responsibility=patient,
        contractual=item.contractual,
        denied_amount=item.denied_amount,
        denial_category=item.denial_category,
        claim_adjustments=_adjustment_dicts(lines.claim_adjustments.adjustments),
        rarcs=list(item.payment.remarks),
        crossover=completed.crossover.action if completed.crossover else None,
        trace_number=item.header.trace_number,
        payment_date=item.header.payment_date,
        reverses=reverses,
        posted_by=posted_by,
    )
    uow.ledger.post(posting)
    for entry in lines.lines:
        uow.ledger.add_line(_line_row(item, expected.tenant_id, entry))
    for work in work_items:
        _add_work_item(uow, expected.tenant_id, item, work)

    routing = {
        "tenant_id": expected.tenant_id,
        "encounter_id": expected.encounter_id,
        "causation_id": expected.submitted_event_id,
    }
    uow.emit(REMITTANCE_RECEIVED, completed.received, detail=f"{item.status} {paid}", **routing)
    if completed.denied is not None:
        denied_event = uow.emit(
            CLAIM_DENIED, completed.denied, detail=item.denial_category, **routing
        )
        _open_denial(uow, expected, completed, denied_event.event_id)
    # A reversal and the payment correcting it move what insurance paid on the patient's
    # statement line even when the patient's share does not change.
    if patient != 0 or item.status_code == REVERSAL or item.payment.original_reference:
        _patient_charge(uow, expected, completed, charge=charge, paid=paid, patient=patient)
    if patient != 0:
        balance = completed.balance_due(Patient.model_validate(expected.patient))
        if balance is not None:
            uow.emit(PATIENT_BALANCE_DUE, balance, detail=str(balance.amount), **routing)
    uow.kpis.add_fact(
        dict(
            tenant_id=expected.tenant_id,
            claim_id=expected.original_claim_id,
            kind="remitted",
            on_date=today,
            payer_id=item.header.payer_id or expected.payer_id,
            amount=Decimal("0.00"),
            paid=paid,
            contractual=item.contractual,
            denied=item.denied_amount,
            status=item.status,
            category=item.denial_category,
        )
    )
    return PostedOutcome(
        claim_id=item.claim_id,
        status=item.status,
        paid=paid,
        patient_responsibility=patient,
        payer_claim_number=item.payer_claim_number,
        denial_category=item.denial_category,
        reverses=reverses,
        work_items=tuple(work_items),
    )


async def post_parked(uow: RemittanceUnitOfWork, claims: Iterable[ExpectedClaim]) -> int:
    """Post what waited for these claims, now known (the caller holds their locks)."""
    claims = list(claims)
    parked = await uow.ledger.parked_for([c.claim_key for c in claims])
    if not parked:
        return 0
    by_key: dict[str, list[ExpectedClaim]] = {}
    for claim in claims:
        by_key.setdefault(claim.claim_key, []).append(claim)
    posted: list[UnmatchedPayment] = []
    today = _today()
    for payment in parked:
        fits = [c for c in by_key.get(payment.claim_key, []) if parked_fits(payment, c)]
        if len(fits) != 1 or payment.prepared is None:
            continue
        item = load_posting(payment.prepared)
        if item.status_code == REVERSAL:
            await uow.ledger.load_postings([fits[0].claim_id])
        await post(uow, expected=fits[0], item=item, today=today)
        posted.append(payment)
    await uow.ledger.resolve_unmatched(posted, status="posted", by=POSTED_BY)
    return len(posted)


def parked_fits(payment: UnmatchedPayment, claim: ExpectedClaim) -> bool:
    """Whether a waiting payment may post to this claim: the same rule as `FileScope`."""
    if payment.uploaded:
        return payment.tenant_id == claim.tenant_id
    if payment.tenant_id not in (None, claim.tenant_id):
        return False
    if payment.payee_npi:
        return payment.payee_npi == claim.billing_npi
    return payment.claim_id == claim.claim_id


def submitted_claim(expected: ExpectedClaim) -> SubmittedClaim:
    return SubmittedClaim(
        tenant_id=expected.tenant_id,
        claim_id=expected.claim_id,
        total_charge=expected.total_charge,
        payer_id=expected.payer_id,
        lines=tuple(
            SubmittedLine(
                line_number=line["line_number"],
                code=line["code"],
                modifiers=tuple(line.get("modifiers") or ()),
                units=Decimal(str(line.get("units", 1))),
                service_date=date.fromisoformat(line["service_date"])
                if line.get("service_date")
                else None,
                charge=Decimal(str(line["charge"])),
                control_number=line.get("control_number"),
            )
            for line in expected.lines
        ),
    )


def _posted_claim(p: Posting | dict) -> PostedClaim:
    get = p.get if isinstance(p, dict) else lambda name: getattr(p, name)
    return PostedClaim(
        posting_id=get("posting_key"),
        claim_id=get("claim_id"),
        payer_claim_number=get("payer_claim_number"),
        status_code=get("status_code"),
        charge=get("charge"),
        paid=get("paid"),
        patient_responsibility=get("patient_responsibility"),
        reversed=get("reversed_by") is not None,
    )


def _open_denial(
    uow: RemittanceUnitOfWork,
    expected: ExpectedClaim,
    completed: CompletedPosting,
    denied_event_id: uuid.UUID,
) -> None:
    item, denied = completed.prepared, completed.denied
    assert denied is not None and item.denial is not None
    item_id = uuid.uuid5(_ITEM_NAMESPACE, f"{expected.tenant_id}:{item.key}").hex
    uow.denials.open(
        dict(
            item_id=item_id,
            tenant_id=expected.tenant_id,
            claim_id=item.claim_id,
            encounter_id=expected.encounter_id,
            posting_key=item.key,
            denied_event_id=denied_event_id,
            payer_id=item.header.payer_id or expected.payer_id,
            payer_name=item.header.payer_name or expected.payer_name,
            payer_claim_number=denied.payer_claim_number,
            filing_indicator=item.payment.filing_indicator,
            category=denied.category,
            subcategory=denied.subcategory or "",
            carcs=list(dict.fromkeys(a.carc for a in denied.adjustments)),
            rarcs=list(denied.rarcs),
            denied_lines=list(denied.denied_lines),
            denied_amount=denied.denied_amount,
            denied_on=completed.denied_on,
            partial=denied.partial,
            appealable=denied.appealable,
            recommended_action=denied.recommended_action,
            suggested_action=denied.action or "review",
            appeal_deadline=denied.appeal_deadline,
        ),
        dict(
            item_id=item_id,
            tenant_id=expected.tenant_id,
            at=datetime.now(UTC),
            by=POSTED_BY,
            what="opened",
            detail=f"{denied.category}: {', '.join(a.carc for a in denied.adjustments)[:200]}",
        ),
    )


def _patient_charge(
    uow: RemittanceUnitOfWork,
    expected: ExpectedClaim,
    completed: CompletedPosting,
    *,
    charge: Decimal,
    paid: Decimal,
    patient: Decimal,
) -> None:
    item = completed.prepared
    service_date = completed.service_date or expected.submitted_on
    uow.patients.add_charge(
        dict(
            tenant_id=expected.tenant_id,
            patient_key=patient_key_for(expected.tenant_id, expected.patient["mrn"]),
            claim_id=expected.original_claim_id,
            encounter_id=expected.encounter_id,
            posting_key=item.key,
            service_date=service_date,
            charge=charge,
            insurance_paid=paid,
            adjustments=charge - paid - patient,
            patient_owes=patient,
            due_since=item.header.payment_date or _today(),
            description=", ".join(dict.fromkeys(e.code for e in completed.lines.lines))[:60],
        )
    )


def _line_row(item: ClaimPosting, tenant_id: str, entry: LineEntry) -> dict:
    totals = entry.adjustments
    return dict(
        posting_key=item.key,
        tenant_id=tenant_id,
        claim_id=item.claim_id,
        position=entry.position,
        line_numbers=list(entry.line_numbers),
        match=entry.match,
        split=entry.split,
        code=entry.code,
        modifiers=list(entry.modifiers),
        units=entry.units,
        service_date=entry.service_date,
        charge=entry.charge,
        paid=entry.paid,
        allowed=entry.allowed,
        contractual=totals.contractual_writeoff,
        patient_responsibility=totals.patient_responsibility,
        denied=totals.denied,
        other=totals.other,
        adjustments=_adjustment_dicts(totals.adjustments),
        rarcs=list(entry.rarcs),
        control_number=next(
            (s.control_number for s in item.payment.service_lines if s.position == entry.position),
            None,
        ),
    )


def _adjustment_dicts(adjustments) -> list[dict]:
    return [{"group": a.group, "carc": a.reason, "amount": f"{a.amount:.2f}"} for a in adjustments]


def _add_work_item(
    uow: RemittanceUnitOfWork, tenant_id: str, item: ClaimPosting, work: WorkItem
) -> None:
    uow.ledger.add_unmatched(
        UnmatchedPayment(
            tenant_id=tenant_id,
            payee_npi=item.header.payee_npi,
            file_id=item.file_id,
            transaction=item.transaction,
            position=work.position,
            claim_id=item.claim_id,
            claim_key=claim_key(item.claim_id),
            kind=work.kind,
            reason=work.reason,
            amount=work.amount,
        )
    )


def _park(
    uow: RemittanceUnitOfWork,
    result: ImportResult,
    scope: FileScope,
    *,
    file_id: str,
    transaction: int,
    position: int,
    claim_id: str,
    kind: str,
    reason: str,
    amount: Decimal,
    prepared: ClaimPosting | None = None,
) -> None:
    uow.ledger.add_unmatched(
        UnmatchedPayment(
            tenant_id=scope.tenant_id,
            uploaded=scope.uploaded,
            payee_npi=None if scope.uploaded else scope.payee_npi,
            file_id=file_id,
            transaction=transaction,
            position=position,
            claim_id=claim_id,
            claim_key=claim_key(claim_id),
            kind=kind,
            reason=reason,
            amount=amount,
            prepared=dump_posting(prepared) if prepared is not None else None,
        )
    )
    result.unmatched.append(UnmatchedOutcome(claim_id, kind, reason, amount))


def _record_payment(
    uow: RemittanceUnitOfWork,
    key: PaymentKey,
    remittance: Remittance,
    file_id: str,
    transaction: int,
    tenant_id: str | None,
) -> None:
    uow.ledger.add_payment(
        RemittancePayment(
            payer=key.payer,
            trace_number=key.trace_number,
            file_id=file_id,
            transaction=transaction,
            tenant_id=tenant_id,
            amount=remittance.payment.signed_amount,
            payment_date=remittance.payment.date,
            method=remittance.payment.method,
        )
    )


def _duplicate(
    uow: RemittanceUnitOfWork,
    result: ImportResult,
    earlier_file_id: str,
    source: str,
    source_ref: str,
    sha: str,
    size: int,
    received_by: str,
) -> ImportResult:
    result.status = "duplicate"
    result.problems = []
    uow.ledger.add_file(
        RemittanceFile(
            file_id=result.file_id,
            source=source,
            source_ref=source_ref,
            tenant_id=result.tenant_id,
            received_by=received_by,
            status="duplicate",
            policy=result.policy,
            content_sha256=sha,
            content="",  # the earlier import holds the bytes
            size_bytes=size,
            payment_total=Decimal("0"),
            transaction_count=result.transactions,
            claim_count=result.claims,
            duplicate_of=earlier_file_id,
        )
    )
    return result


def quarantine(
    uow: RemittanceUnitOfWork,
    *,
    source: str,
    source_ref: str,
    content: str,
    received_by: str,
    error: str,
    tenant_id: str | None = None,
    size: int | None = None,
) -> ImportResult:
    """Keep a file nothing can be posted from, with why, for an operator."""
    file_id = new_file_id(source, source_ref)
    data = content.encode("utf-8", "replace")
    uow.ledger.add_file(
        RemittanceFile(
            file_id=file_id,
            source=source,
            source_ref=source_ref,
            tenant_id=tenant_id,
            received_by=received_by,
            status="quarantined",
            policy="hold",
            content_sha256=hashlib.sha256(data).hexdigest(),
            content=content,
            size_bytes=len(data) if size is None else size,
            payment_total=Decimal("0"),
            transaction_count=0,
            claim_count=0,
            error=error[:_MAX_ERROR],
        )
    )
    return ImportResult(
        file_id, status="quarantined", policy="hold", tenant_id=tenant_id, error=error[:_MAX_ERROR]
    )


async def sweep_parked(uow: RemittanceUnitOfWork, *, limit: int = 500) -> int:
    """Post waiting payments whose claim has become known since: a race the claim's own
    arrival missed, or a CLP01 the payer cut short, which only a prefix search finds."""
    keys = await uow.ledger.waiting_keys(limit=limit)
    if not keys:
        return 0
    claims = await uow.ledger.find_claims(keys)
    if not claims:
        return 0
    await uow.lock_claims({*keys, *(c.claim_key for c in claims)})
    parked = await uow.ledger.parked_for(keys)
    posted: list[UnmatchedPayment] = []
    today = _today()
    for payment in parked:
        fits = [
            c
            for c in claims
            if _key_fits(payment.claim_key, c.claim_key) and parked_fits(payment, c)
        ]
        if len(fits) != 1 or payment.prepared is None:
            continue
        item = load_posting(payment.prepared)
        if item.status_code == REVERSAL:
            await uow.ledger.load_postings([fits[0].claim_id])
        await post(uow, expected=fits[0], item=item, today=today)
        posted.append(payment)
    await uow.ledger.resolve_unmatched(posted, status="posted", by=POSTED_BY)
    return len(posted)


def _key_fits(waiting: str, claim: str) -> bool:
    return waiting == claim or (
        len(waiting) >= MIN_TRUNCATED_CLAIM_ID and claim.startswith(waiting)
    )


def _file_problem(index: int, remittance: Remittance, found: Problem) -> dict:
    return FileProblem(index, remittance.control_number, found).as_dict()


def _problem_dict(
    transaction: int,
    control_number: str,
    kind: str,
    policy: str,
    position: int,
    segment: str,
    message: str,
) -> dict:
    return {
        "transaction": transaction,
        "control_number": control_number,
        "kind": kind,
        "policy": policy,
        "position": position,
        "segment": segment,
        "message": message,
    }


def _sole(values) -> str | None:
    """The one value of a collection, or None when there are none or several."""
    if not values:
        return None
    values = set(values)
    return next(iter(values)) if len(values) == 1 else None


class LedgerError(ValueError):
    """A request the ledger refuses; names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(LookupError):
    """No such file or item for the caller (another tenant's is reported the same)."""


async def release_held(uow: RemittanceUnitOfWork, *, file_id: str, by: str) -> ImportResult:
    """Post the held transactions of a file after an operator looked at them: the stored
    file is read again (a rare, deliberate act), and payments imported since are skipped."""
    file = await uow.ledger.file(file_id)
    if file is None:
        raise NotFound("file not found")
    if file.status not in ("held", "partly-held"):
        raise LedgerError("status", f"file is {file.status}, not held")
    assessment = assess_835(file.content)
    remittances = assessment.remittances
    held = set(file.held_transactions)
    keys = {i: k for i in held if (k := payment_key(remittances[i])) is not None}
    await uow.lock_all(f"payment:{k.payer}:{k.trace_number}" for k in keys.values())
    earlier = await uow.ledger.known_imports("", keys.values())
    postable = {i for i in held if keys.get(i) not in earlier}
    uploaded = file.source == UPLOAD
    payee_npis = {r.payee.npi for r in remittances if r.payee.npi}
    tenants_of = await uow.ledger.payee_tenants(payee_npis) if not uploaded else {}
    scopes = [
        FileScope(
            uploaded,
            file.tenant_id if uploaded else _sole(tenants_of.get(r.payee.npi)),
            r.payee.npi,
        )
        for r in remittances
    ]
    result = ImportResult(
        file.file_id,
        status="posted",
        policy=assessment.policy,
        tenant_id=file.tenant_id,
        transactions=len(remittances),
        claims=assessment.claim_count,
    )
    posted = await post_transactions(
        uow,
        result,
        remittances,
        postable,
        scopes=scopes,
        file_id=file.file_id,
        today=_today(),
        posted_by=by,
    )
    for index in postable:
        if (key := keys.get(index)) is not None:
            _record_payment(
                uow, key, remittances[index], file.file_id, index, scopes[index].tenant_id
            )
    file.status, file.released_by = "posted", by
    file.held_transactions = []
    file.posted_count += posted
    return result


async def place_unmatched(
    uow: RemittanceUnitOfWork, *, tenant_id: str, item_id: int, claim_id: str, by: str
) -> PostedOutcome:
    """A person names the claim a waiting payment pays: it posts to that claim of the
    tenant as it was read, and the item records who placed it."""
    item = await uow.ledger.unmatched_item(tenant_id, item_id)
    if item is None:
        raise NotFound("unmatched payment not found")
    if item.status != "open":
        raise LedgerError("status", f"item is {item.status}, not open")
    if item.prepared is None:
        raise LedgerError("kind", f"a {item.kind} item has no payment to post; dismiss it")
    await uow.lock_claims([claim_key(claim_id)])
    expected = await uow.ledger.expected(tenant_id, claim_id)
    if expected is None:
        raise LedgerError("claim_id", "no such claim for the tenant")
    prepared = load_posting(item.prepared)
    if prepared.status_code == REVERSAL:
        await uow.ledger.load_postings([expected.claim_id])
    outcome = await post(uow, expected=expected, item=prepared, today=_today(), posted_by=by)
    await uow.ledger.resolve_unmatched([item], status="posted", by=by)
    return outcome


async def dismiss_unmatched(
    uow: RemittanceUnitOfWork, *, tenant_id: str, item_id: int, reason: str, by: str
) -> UnmatchedPayment:
    """Close an item a person dealt with outside the ledger (returned to the payer, ...)."""
    if not reason.strip():
        raise LedgerError("reason", "say why the item is closed")
    item = await uow.ledger.unmatched_item(tenant_id, item_id)
    if item is None:
        raise NotFound("unmatched payment not found")
    if item.status != "open":
        raise LedgerError("status", f"item is {item.status}, not open")
    await uow.ledger.resolve_unmatched([item], status="dismissed", by=by)
    item.reason = f"{item.reason} | dismissed: {reason.strip()[:200]}"
    return item
