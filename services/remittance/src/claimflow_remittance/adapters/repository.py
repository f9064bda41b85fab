"""The remittance service's repositories: the ledger (claims expected, payees, 835 files and
payments, postings, the unmatched queue, the provider account, the ERA cursor), the denial
work queue, patient accounts and the KPI facts.

Rows written once and not read back in the same unit of work are staged (`uow.add`) and
inserted set-wise at commit; lookups are batched (`load_*`/`find_*` fill a cache the single
`get`-style calls answer from)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_remittance.adapters.tables import (
    AppealPacketRow,
    DenialAuditRow,
    DenialItemRow,
    DenialNoteRow,
    EraCursor,
    ExpectedClaim,
    KpiFactRow,
    PatientChargeRow,
    PatientPaymentRow,
    PayeeTenant,
    PaymentPlanRow,
    Posting,
    PostingLine,
    ProviderAccountEntry,
    RemittanceFile,
    RemittancePayment,
    UnmatchedPayment,
)
from claimflow_remittance.domain.import_identity import PaymentKey
from claimflow_remittance.domain.kpis import ClaimFact
from claimflow_remittance.domain.matching import MIN_TRUNCATED_CLAIM_ID, claim_key
from claimflow_shared.runtime.uow import UnitOfWork

WAITING = "unmatched-claim"


def _now() -> datetime:
    return datetime.now(UTC)


class LedgerRepository:
    """What posting needs of the ledger; reads are abstract, writes are staged."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self._postings: dict[tuple[str, str], list[Posting | dict]] = {}
        self._staged_postings: dict[str, dict] = {}
        self._staged_expected: list[ExpectedClaim] = []

    # -- claims we expect payment for ---------------------------------------------------

    async def load_expected(self, keys: Iterable[tuple[str, str]]) -> None:
        """Look up many (tenant, claim id) at once, for `expected` to answer from."""

    async def expected(self, tenant_id: str, claim_id: str) -> ExpectedClaim | None:
        raise NotImplementedError

    def expect(self, claim: ExpectedClaim) -> None:
        raise NotImplementedError

    async def find_claims(self, claim_ids: Iterable[str]) -> list[ExpectedClaim]:
        """Every claim a CLP01 may name, in any tenant: exactly, normalised (upper case,
        letters and digits) or cut short; the caller keeps those its scope admits."""
        raise NotImplementedError

    async def original_claims(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(tenant, encounter id) -> the encounter's first claim id, for replacements."""
        raise NotImplementedError

    async def original_claim(self, tenant_id: str, encounter_id: str) -> str | None:
        """The encounter's first claim id (a replacement or void counts toward it)."""
        for claim in self._staged_expected:
            if (claim.tenant_id, claim.encounter_id) == (tenant_id, encounter_id):
                return claim.original_claim_id
        found = await self.original_claims([(tenant_id, encounter_id)])
        return found.get((tenant_id, encounter_id))

    async def payee_tenants(self, npis: Collection[str]) -> dict[str, set[str]]:
        raise NotImplementedError

    async def register_payees(self, pairs: Collection[tuple[str, str]]) -> None:
        """Remember (billing NPI, tenant) pairs; a pair known already changes nothing."""
        raise NotImplementedError

    # -- files and payments -------------------------------------------------------------

    async def known_imports(
        self, sha256: str, keys: Iterable[PaymentKey]
    ) -> dict[str | PaymentKey, str]:
        """The earlier file id of this content hash and of each payer + trace number seen."""
        raise NotImplementedError

    def add_file(self, file: RemittanceFile) -> None:
        self.uow.add(file)

    def add_payment(self, payment: RemittancePayment) -> None:
        self.uow.add(payment)

    # -- postings -----------------------------------------------------------------------

    async def load_postings(self, claim_ids: Iterable[str]) -> None:
        """Load the earlier postings of these claims (reversals look for their original)."""

    def postings_of(self, tenant_id: str, claim_id: str) -> list[Posting | dict]:
        """Postings of one claim, loaded and staged in this unit of work, oldest first."""
        return self._postings.get((tenant_id, claim_id), [])

    def post(self, posting: dict) -> None:
        """Stage a posting (its column values): cheaper than a model object per claim."""
        self.uow.insert(Posting, **posting)
        staged = self.uow.staged(Posting)[-1]
        self._staged_postings[staged["posting_key"]] = staged
        self._postings.setdefault((staged["tenant_id"], staged["claim_id"]), []).append(staged)

    async def mark_reversed(self, posting_key: str, *, by: str) -> None:
        staged = self._staged_postings.get(posting_key)
        if staged is not None:
            staged["reversed_by"] = by
            return
        for postings in self._postings.values():
            for posting in postings:
                if not isinstance(posting, dict) and posting.posting_key == posting_key:
                    posting.reversed_by = by

    def add_line(self, line: dict) -> None:
        self.uow.insert(PostingLine, **line)

    # -- the unmatched queue ------------------------------------------------------------

    def add_unmatched(self, payment: UnmatchedPayment) -> None:
        self.uow.add(payment)

    async def parked_for(self, claim_keys: Iterable[str]) -> list[UnmatchedPayment]:
        """Open payments waiting for a claim with one of these (normalised) keys."""
        raise NotImplementedError

    async def resolve_unmatched(
        self, payments: Sequence[UnmatchedPayment], *, status: str, by: str
    ) -> None:
        for payment in payments:
            payment.status, payment.resolved_by, payment.resolved_at = status, by, _now()

    def add_provider_entry(self, entry: ProviderAccountEntry) -> None:
        self.uow.add(entry)


class DenialRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def open(self, item: dict, audit: dict) -> None:
        self.uow.insert(DenialItemRow, **item)
        self.uow.insert(DenialAuditRow, **audit)

    async def get(self, tenant_id: str, item_id: str) -> DenialItemRow | None:
        raise NotImplementedError

    async def notes(self, item_id: str) -> list[DenialNoteRow]:
        raise NotImplementedError

    async def audit(self, item_id: str) -> list[DenialAuditRow]:
        raise NotImplementedError

    def add_note(self, note: DenialNoteRow) -> None:
        self.uow.add(note)

    def add_audit(self, entry: DenialAuditRow) -> None:
        self.uow.add(entry)

    def add_packet(self, packet: AppealPacketRow) -> None:
        self.uow.add(packet)


class PatientRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def add_charge(self, charge: dict) -> None:
        self.uow.insert(PatientChargeRow, **charge)

    async def charges(self, tenant_id: str, patient_key: str) -> list[PatientChargeRow]:
        raise NotImplementedError

    async def payments(self, tenant_id: str, patient_key: str) -> list[PatientPaymentRow]:
        raise NotImplementedError

    async def plans(self, tenant_id: str, patient_key: str) -> list[PaymentPlanRow]:
        raise NotImplementedError

    def add_payment(self, payment: PatientPaymentRow) -> None:
        raise NotImplementedError

    def add_plan(self, plan: PaymentPlanRow) -> None:
        raise NotImplementedError


class KpiRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def add_fact(self, fact: dict) -> None:
        self.uow.insert(KpiFactRow, **fact)

    async def facts(self, tenant_id: str, *, until: date) -> list[ClaimFact]:
        raise NotImplementedError


# -- SQL --------------------------------------------------------------------------------


def _insert_ignoring_conflicts(session: AsyncSession, table, rows: list[dict]):
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return session.execute(insert(table).values(rows).on_conflict_do_nothing())


class SqlLedgerRepository(LedgerRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.session = session
        # (npi, tenant) pairs known to be stored in this unit of work: a batch of
        # `claim.submitted` asks once, its events again for nothing.
        self._known_payees: set[tuple[str, str]] = set()
        self._expected: dict[tuple[str, str], ExpectedClaim | None] = {}
        self._parked: dict[str, list[UnmatchedPayment]] = {}
        self._loaded_postings: set[str] = set()

    async def load_expected(self, keys: Iterable[tuple[str, str]]) -> None:
        wanted = set(keys) - set(self._expected)
        if not wanted:
            return
        rows = await self.session.execute(
            select(ExpectedClaim).where(ExpectedClaim.claim_id.in_({c for _, c in wanted}))
        )
        found = {(r.tenant_id, r.claim_id): r for r in rows.scalars()}
        self._expected |= {key: found.get(key) for key in wanted}

    async def expected(self, tenant_id: str, claim_id: str) -> ExpectedClaim | None:
        await self.load_expected([(tenant_id, claim_id)])
        return self._expected[(tenant_id, claim_id)]

    def expect(self, claim: ExpectedClaim) -> None:
        self._expected[(claim.tenant_id, claim.claim_id)] = claim
        self._staged_expected.append(claim)
        self.uow.add(claim)

    async def find_claims(self, claim_ids: Iterable[str]) -> list[ExpectedClaim]:
        ids = {c for c in claim_ids if c}
        if not ids:
            return []
        found = await self._claims_where(ExpectedClaim.claim_id.in_(ids))
        missing = ids - {claim_id for _, claim_id in found}
        keys = {claim_key(c) for c in missing} - {""}
        if keys:
            found |= await self._claims_where(ExpectedClaim.claim_key.in_(keys))
            keys -= {r.claim_key for r in found.values()}
        for key in sorted(k for k in keys if len(k) >= MIN_TRUNCATED_CLAIM_ID):
            # Payers that cut CLP01 short: the claims whose key starts with what they kept.
            found |= await self._claims_where(ExpectedClaim.claim_key.startswith(key), limit=10)
        return list(found.values())

    async def _claims_where(self, condition, *, limit: int | None = None):
        """Claims as read-only values: posting only reads them, and building ORM instances
        costs more per claim than the rest of the lookup."""
        query = select(*ExpectedClaim.__table__.columns).where(condition)
        rows = await self.session.execute(query if limit is None else query.limit(limit))
        claims = (ExpectedClaim.model_construct(**row._mapping) for row in rows)
        return {(c.tenant_id, c.claim_id): c for c in claims}

    async def original_claims(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        wanted = set(keys)
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(
                ExpectedClaim.tenant_id,
                ExpectedClaim.encounter_id,
                ExpectedClaim.original_claim_id,
                ExpectedClaim.created_at,
            )
            .where(ExpectedClaim.encounter_id.in_({e for _, e in wanted}))
            .order_by(ExpectedClaim.created_at)
        )
        originals: dict[tuple[str, str], str] = {}
        for tenant_id, encounter_id, original, _ in rows.all():
            originals.setdefault((tenant_id, encounter_id), original)
        return {k: v for k, v in originals.items() if k in wanted}

    async def payee_tenants(self, npis: Collection[str]) -> dict[str, set[str]]:
        if not npis:
            return {}
        rows = await self.session.execute(
            select(PayeeTenant.npi, PayeeTenant.tenant_id).where(PayeeTenant.npi.in_(set(npis)))
        )
        tenants: dict[str, set[str]] = {}
        for npi, tenant_id in rows.all():
            tenants.setdefault(npi, set()).add(tenant_id)
        return tenants

    async def register_payees(self, pairs: Collection[tuple[str, str]]) -> None:
        new = set(pairs) - self._known_payees
        if not new:
            return
        before = await self.payee_tenants({npi for npi, _ in new})
        new = {(npi, t) for npi, t in new if t not in before.get(npi, set())}
        if new:
            await _insert_ignoring_conflicts(
                self.session,
                PayeeTenant,
                [{"npi": npi, "tenant_id": t, "first_seen": _now()} for npi, t in sorted(new)],
            )
        # A payee nobody knew may have PLB entries and waiting payments no tenant could see:
        # they belong to the first tenant that bills under its NPI.
        for npi, tenant_id in sorted(new):
            if before.get(npi):
                continue
            for table in (ProviderAccountEntry, UnmatchedPayment, RemittanceFile):
                await self.session.execute(
                    update(table)
                    .where(table.payee_npi == npi, table.tenant_id.is_(None))
                    .values(tenant_id=tenant_id)
                )
            before[npi] = {tenant_id}
        self._known_payees.update(pairs)

    async def known_imports(
        self, sha256: str, keys: Iterable[PaymentKey]
    ) -> dict[str | PaymentKey, str]:
        known: dict[str | PaymentKey, str] = {}
        rows = await self.session.execute(
            select(RemittanceFile.file_id)
            .where(RemittanceFile.content_sha256 == sha256, RemittanceFile.status != "quarantined")
            .order_by(RemittanceFile.id)
            .limit(1)
        )
        if (file_id := rows.scalar()) is not None:
            known[sha256] = file_id
        keys = list(keys)
        if keys:
            rows = await self.session.execute(
                select(
                    RemittancePayment.payer,
                    RemittancePayment.trace_number,
                    RemittancePayment.file_id,
                ).where(
                    or_(
                        *(
                            and_(
                                RemittancePayment.payer == k.payer,
                                RemittancePayment.trace_number == k.trace_number,
                            )
                            for k in keys
                        )
                    )
                )
            )
            known |= {PaymentKey(p, t): f for p, t, f in rows.all()}
        return known

    async def load_postings(self, claim_ids: Iterable[str]) -> None:
        wanted = set(claim_ids) - self._loaded_postings
        if not wanted:
            return
        rows = await self.session.execute(
            select(Posting).where(Posting.claim_id.in_(wanted)).order_by(Posting.id)
        )
        for posting in rows.scalars():
            self._postings.setdefault((posting.tenant_id, posting.claim_id), []).append(posting)
        # Staged postings came after every stored one: keep them last.
        for postings in self._postings.values():
            postings.sort(key=lambda p: isinstance(p, dict))
        self._loaded_postings |= wanted

    async def parked_for(self, claim_keys: Iterable[str]) -> list[UnmatchedPayment]:
        keys = set(claim_keys)
        if wanted := keys - set(self._parked):
            rows = await self.session.execute(
                select(UnmatchedPayment)
                .where(
                    UnmatchedPayment.claim_key.in_(wanted),
                    UnmatchedPayment.status == "open",
                    UnmatchedPayment.kind == WAITING,
                )
                .order_by(UnmatchedPayment.id)
            )
            self._parked |= {key: [] for key in wanted}
            for row in rows.scalars():
                self._parked[row.claim_key].append(row)
        return sorted(
            (p for key in keys for p in self._parked[key] if p.status == "open"),
            key=lambda p: p.id or 0,
        )

    async def waiting_keys(self, *, limit: int) -> list[str]:
        """Keys of open payments waiting for a claim that has become known (the sweep),
        including CLP01s a payer cut short."""
        rows = await self.session.execute(
            select(UnmatchedPayment.claim_key)
            .where(UnmatchedPayment.status == "open", UnmatchedPayment.kind == WAITING)
            .distinct()
            .limit(limit)
        )
        return list(rows.scalars())

    async def cursor(self, source: str) -> EraCursor:
        cursor = await self.session.get(EraCursor, source, with_for_update=True)
        if cursor is None:
            cursor = EraCursor(source=source, last_seq=0)
            self.session.add(cursor)
        return cursor

    # -- read side (views) --------------------------------------------------------------

    async def postings(
        self, tenant_id: str, *, claim_id: str | None, after_id: int, limit: int
    ) -> list[Posting]:
        query = select(Posting).where(Posting.tenant_id == tenant_id, Posting.id > after_id)
        if claim_id:
            query = query.where(Posting.claim_id == claim_id)
        rows = await self.session.execute(query.order_by(Posting.id).limit(limit))
        return list(rows.scalars())

    async def lines_of(self, tenant_id: str, posting_keys: Collection[str]) -> list[PostingLine]:
        if not posting_keys:
            return []
        rows = await self.session.execute(
            select(PostingLine)
            .where(PostingLine.tenant_id == tenant_id, PostingLine.posting_key.in_(posting_keys))
            .order_by(PostingLine.id)
        )
        return list(rows.scalars())

    async def totals_by_status(
        self, tenant_id: str
    ) -> tuple[int, list[tuple[str, int, Decimal, Decimal, Decimal]]]:
        rows = await self.session.execute(
            select(
                Posting.status,
                func.count(),
                func.sum(Posting.paid),
                func.sum(Posting.patient_responsibility),
                func.sum(Posting.denied_amount),
            )
            .where(Posting.tenant_id == tenant_id)
            .group_by(Posting.status)
        )
        claims = await self.session.execute(
            select(func.count(func.distinct(Posting.claim_id))).where(
                Posting.tenant_id == tenant_id
            )
        )
        return claims.scalar_one(), [tuple(r) for r in rows.all()]

    async def unmatched(
        self,
        *,
        tenant_id: str | None,
        status: str | None,
        after_id: int,
        limit: int,
        every_tenant: bool = False,
    ) -> list[UnmatchedPayment]:
        query = select(UnmatchedPayment).where(UnmatchedPayment.id > after_id)
        if not every_tenant:
            query = query.where(UnmatchedPayment.tenant_id == tenant_id)
        if status:
            query = query.where(UnmatchedPayment.status == status)
        rows = await self.session.execute(query.order_by(UnmatchedPayment.id).limit(limit))
        return list(rows.scalars())

    async def unmatched_item(self, tenant_id: str, item_id: int) -> UnmatchedPayment | None:
        rows = await self.session.execute(
            select(UnmatchedPayment)
            .where(UnmatchedPayment.id == item_id, UnmatchedPayment.tenant_id == tenant_id)
            .with_for_update()
        )
        return rows.scalar()

    async def files(
        self,
        *,
        tenant_id: str | None,
        status: str | None,
        after_id: int,
        limit: int,
        every_tenant: bool = False,
    ) -> list[RemittanceFile]:
        query = select(RemittanceFile)
        if after_id:
            query = query.where(RemittanceFile.id < after_id)
        if not every_tenant:
            query = query.where(RemittanceFile.tenant_id == tenant_id)
        if status:
            query = query.where(RemittanceFile.status == status)
        rows = await self.session.execute(query.order_by(RemittanceFile.id.desc()).limit(limit))
        return list(rows.scalars())

    async def file(self, file_id: str, *, tenant_id: str | None = None) -> RemittanceFile | None:
        query = select(RemittanceFile).where(RemittanceFile.file_id == file_id)
        if tenant_id is not None:
            query = query.where(RemittanceFile.tenant_id == tenant_id)
        return (await self.session.execute(query.with_for_update())).scalar()

    async def provider_account(
        self, tenant_id: str, *, after_id: int, limit: int
    ) -> list[ProviderAccountEntry]:
        rows = await self.session.execute(
            select(ProviderAccountEntry)
            .where(ProviderAccountEntry.tenant_id == tenant_id, ProviderAccountEntry.id > after_id)
            .order_by(ProviderAccountEntry.id)
            .limit(limit)
        )
        return list(rows.scalars())

    async def provider_balance(self, tenant_id: str) -> list[tuple[str | None, str, Decimal]]:
        rows = await self.session.execute(
            select(
                ProviderAccountEntry.payer_id,
                ProviderAccountEntry.kind,
                func.sum(ProviderAccountEntry.amount),
            )
            .where(ProviderAccountEntry.tenant_id == tenant_id)
            .group_by(ProviderAccountEntry.payer_id, ProviderAccountEntry.kind)
        )
        return [tuple(r) for r in rows.all()]

    async def claims_of_tenant(
        self, tenant_id: str, claim_ids: Collection[str]
    ) -> dict[str, ExpectedClaim]:
        if not claim_ids:
            return {}
        rows = await self.session.execute(
            select(ExpectedClaim).where(
                ExpectedClaim.tenant_id == tenant_id, ExpectedClaim.claim_id.in_(claim_ids)
            )
        )
        return {r.claim_id: r for r in rows.scalars()}


@dataclass(frozen=True)
class DenialQuery:
    """The queue filters as the database applies them (one tenant, always)."""

    tenant_id: str
    statuses: tuple[str, ...] = ("open",)
    payer_id: str | None = None
    category: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    denied_on_or_after: date | None = None  # max age
    denied_on_or_before: date | None = None  # min age
    deadline_by: date | None = None
    assignee: str | None = None
    claim_id: str | None = None


class SqlDenialRepository(DenialRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.session = session

    async def items(self, query: DenialQuery, *, offset: int, limit: int) -> list[DenialItemRow]:
        conditions: list[Any] = [DenialItemRow.tenant_id == query.tenant_id]
        if query.statuses:
            conditions.append(DenialItemRow.status.in_(query.statuses))
        for column, value in (
            (DenialItemRow.payer_id, query.payer_id),
            (DenialItemRow.category, query.category),
            (DenialItemRow.assignee, query.assignee),
            (DenialItemRow.claim_id, query.claim_id),
        ):
            if value is not None:
                conditions.append(column == value)
        if query.min_amount is not None:
            conditions.append(DenialItemRow.denied_amount >= query.min_amount)
        if query.max_amount is not None:
            conditions.append(DenialItemRow.denied_amount <= query.max_amount)
        if query.denied_on_or_after is not None:
            conditions.append(DenialItemRow.denied_on >= query.denied_on_or_after)
        if query.denied_on_or_before is not None:
            conditions.append(DenialItemRow.denied_on <= query.denied_on_or_before)
        if query.deadline_by is not None:
            conditions.append(DenialItemRow.appeal_deadline <= query.deadline_by)
        rows = await self.session.execute(
            select(DenialItemRow)
            .where(*conditions)
            # Nearest appeal deadline first, then the most money: what a biller works first.
            .order_by(
                DenialItemRow.appeal_deadline.is_(None),
                DenialItemRow.appeal_deadline,
                DenialItemRow.denied_amount.desc(),
                DenialItemRow.item_id,
            )
            .offset(offset)
            .limit(limit)
        )
        return list(rows.scalars())

    async def get(self, tenant_id: str, item_id: str) -> DenialItemRow | None:
        rows = await self.session.execute(
            select(DenialItemRow)
            .where(DenialItemRow.item_id == item_id, DenialItemRow.tenant_id == tenant_id)
            .with_for_update()
        )
        return rows.scalar()

    async def notes(self, item_id: str) -> list[DenialNoteRow]:
        rows = await self.session.execute(
            select(DenialNoteRow).where(DenialNoteRow.item_id == item_id).order_by(DenialNoteRow.id)
        )
        return list(rows.scalars())

    async def audit(self, item_id: str) -> list[DenialAuditRow]:
        rows = await self.session.execute(
            select(DenialAuditRow)
            .where(DenialAuditRow.item_id == item_id)
            .order_by(DenialAuditRow.id)
        )
        return list(rows.scalars())

    async def counts(self, tenant_id: str) -> list[tuple[str, str, int, Decimal]]:
        rows = await self.session.execute(
            select(
                DenialItemRow.status,
                DenialItemRow.category,
                func.count(),
                func.sum(DenialItemRow.denied_amount),
            )
            .where(DenialItemRow.tenant_id == tenant_id)
            .group_by(DenialItemRow.status, DenialItemRow.category)
        )
        return [tuple(r) for r in rows.all()]


class SqlPatientRepository(PatientRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.session = session

    async def charges(self, tenant_id: str, patient_key: str) -> list[PatientChargeRow]:
        rows = await self.session.execute(
            select(PatientChargeRow)
            .where(
                PatientChargeRow.tenant_id == tenant_id, PatientChargeRow.patient_key == patient_key
            )
            .order_by(PatientChargeRow.id)
        )
        return list(rows.scalars())

    async def payments(self, tenant_id: str, patient_key: str) -> list[PatientPaymentRow]:
        rows = await self.session.execute(
            select(PatientPaymentRow)
            .where(
                PatientPaymentRow.tenant_id == tenant_id,
                PatientPaymentRow.patient_key == patient_key,
            )
            .order_by(PatientPaymentRow.received_on, PatientPaymentRow.payment_id)
        )
        return list(rows.scalars())

    async def plans(self, tenant_id: str, patient_key: str) -> list[PaymentPlanRow]:
        rows = await self.session.execute(
            select(PaymentPlanRow)
            .where(PaymentPlanRow.tenant_id == tenant_id, PaymentPlanRow.patient_key == patient_key)
            .order_by(PaymentPlanRow.created_at)
            .with_for_update()
        )
        return list(rows.scalars())

    def add_payment(self, payment: PatientPaymentRow) -> None:
        self.session.add(payment)

    def add_plan(self, plan: PaymentPlanRow) -> None:
        self.session.add(plan)

    async def balances(
        self, tenant_id: str, *, offset: int, limit: int
    ) -> list[tuple[str, Decimal, Decimal, date | None]]:
        """(patient key, owed, paid, oldest due date) per patient with any charge."""
        owed = (
            select(
                PatientChargeRow.patient_key.label("patient_key"),
                func.sum(PatientChargeRow.patient_owes).label("owed"),
                func.min(PatientChargeRow.due_since).label("since"),
            )
            .where(PatientChargeRow.tenant_id == tenant_id)
            .group_by(PatientChargeRow.patient_key)
            .subquery()
        )
        paid = (
            select(
                PatientPaymentRow.patient_key.label("patient_key"),
                func.sum(PatientPaymentRow.amount).label("paid"),
            )
            .where(PatientPaymentRow.tenant_id == tenant_id)
            .group_by(PatientPaymentRow.patient_key)
            .subquery()
        )
        rows = await self.session.execute(
            select(owed.c.patient_key, owed.c.owed, func.coalesce(paid.c.paid, 0), owed.c.since)
            .select_from(owed.outerjoin(paid, paid.c.patient_key == owed.c.patient_key))
            .order_by((owed.c.owed - func.coalesce(paid.c.paid, 0)).desc(), owed.c.patient_key)
            .offset(offset)
            .limit(limit)
        )
        return [tuple(r) for r in rows.all()]

    async def first_claim(self, tenant_id: str, patient_key: str) -> str | None:
        rows = await self.session.execute(
            select(PatientChargeRow.claim_id)
            .where(
                PatientChargeRow.tenant_id == tenant_id, PatientChargeRow.patient_key == patient_key
            )
            .order_by(PatientChargeRow.id.desc())
            .limit(1)
        )
        return rows.scalar()


_FACT_COLUMNS = (
    KpiFactRow.kind,
    KpiFactRow.tenant_id,
    KpiFactRow.claim_id,
    KpiFactRow.on_date,
    KpiFactRow.payer_id,
    KpiFactRow.amount,
    KpiFactRow.paid,
    KpiFactRow.contractual,
    KpiFactRow.denied,
    KpiFactRow.status,
    KpiFactRow.category,
)


class SqlKpiRepository(KpiRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.session = session

    async def facts(self, tenant_id: str, *, until: date) -> list[ClaimFact]:
        rows = await self.session.execute(
            select(*_FACT_COLUMNS)
            .where(KpiFactRow.tenant_id == tenant_id, KpiFactRow.on_date <= until)
            .order_by(KpiFactRow.id)
        )
        return [
            ClaimFact(
                kind=kind,
                tenant_id=tenant,
                claim_id=claim_id,
                on=on,
                payer_id=payer_id,
                amount=amount,
                paid=paid,
                contractual=contractual,
                denied=denied,
                status=status,
                category=category,
            )
            for kind, tenant, claim_id, on, payer_id, amount, paid, contractual, denied, status, category in rows.all()  # noqa: E501
        ]
