"""The remittance ledger's repository: claims expected to be paid, 835 files, postings,
payments waiting for their claim, and the ERA download cursor."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from claimflow_remittance.adapters.tables import (
    EraCursor,
    ExpectedClaim,
    Posting,
    RemittanceFile,
    UnmatchedPayment,
)
from claimflow_shared.runtime.uow import UnitOfWork


class LedgerRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def load_expected(self, claim_ids: Iterable[str]) -> None:
        """Look up many expected claims at once, for `expected` to answer from."""

    async def expected(self, claim_id: str) -> ExpectedClaim | None:
        raise NotImplementedError

    def expect(self, claim: ExpectedClaim) -> None:
        raise NotImplementedError

    async def parked_for(self, claim_ids: Iterable[str]) -> dict[str, list[UnmatchedPayment]]:
        raise NotImplementedError

    def park(self, payment: UnmatchedPayment) -> None:
        raise NotImplementedError

    async def unpark(self, payments: list[UnmatchedPayment]) -> None:
        raise NotImplementedError

    def post(self, posting: Posting) -> None:
        self.uow.add(posting)

    async def file_known(self, *, source: str, source_ref: str, sha256: str) -> bool:
        raise NotImplementedError

    def add_file(self, file: RemittanceFile) -> None:
        self.uow.add(file)


class SqlLedgerRepository(LedgerRepository):
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.session = session
        self._expected: dict[str, ExpectedClaim | None] = {}
        self._parked: dict[str, list[UnmatchedPayment]] = {}

    async def load_expected(self, claim_ids: Iterable[str]) -> None:
        wanted = set(claim_ids) - set(self._expected)
        if not wanted:
            return
        rows = await self.session.execute(
            select(ExpectedClaim).where(ExpectedClaim.claim_id.in_(wanted))
        )
        found = {r.claim_id: r for r in rows.scalars()}
        self._expected |= {claim_id: found.get(claim_id) for claim_id in wanted}

    async def expected(self, claim_id: str) -> ExpectedClaim | None:
        await self.load_expected([claim_id])
        return self._expected[claim_id]

    def expect(self, claim: ExpectedClaim) -> None:
        self._expected[claim.claim_id] = claim
        self.uow.add(claim)

    async def parked_for(self, claim_ids: Iterable[str]) -> dict[str, list[UnmatchedPayment]]:
        ids = set(claim_ids)
        if wanted := ids - set(self._parked):
            rows = await self.session.execute(
                select(UnmatchedPayment)
                .where(UnmatchedPayment.claim_id.in_(wanted))
                .order_by(UnmatchedPayment.id)
            )
            self._parked |= {claim_id: [] for claim_id in wanted}
            for row in rows.scalars():
                self._parked[row.claim_id].append(row)
        return {claim_id: self._parked[claim_id] for claim_id in ids if self._parked[claim_id]}

    def park(self, payment: UnmatchedPayment) -> None:
        self.uow.add(payment)

    async def unpark(self, payments: list[UnmatchedPayment]) -> None:
        for payment in payments:
            self._parked[payment.claim_id] = [
                p for p in self._parked.get(payment.claim_id, []) if p.id != payment.id
            ]
        if payments:
            await self.session.execute(
                delete(UnmatchedPayment).where(UnmatchedPayment.id.in_([p.id for p in payments]))
            )

    async def matchable_parked(self, *, limit: int) -> list[str]:
        """Claim ids of parked payments whose claim has become known (the sweep)."""
        rows = await self.session.execute(
            select(UnmatchedPayment.claim_id)
            .join(ExpectedClaim, ExpectedClaim.claim_id == UnmatchedPayment.claim_id)
            .distinct()
            .limit(limit)
        )
        return list(rows.scalars())

    async def file_known(self, *, source: str, source_ref: str, sha256: str) -> bool:
        rows = await self.session.execute(
            select(RemittanceFile.id)
            .where(
                (RemittanceFile.content_sha256 == sha256)
                | ((RemittanceFile.source == source) & (RemittanceFile.source_ref == source_ref))
            )
            .limit(1)
        )
        return rows.first() is not None

    async def cursor(self, source: str) -> EraCursor:
        cursor = await self.session.get(EraCursor, source, with_for_update=True)
        if cursor is None:
            cursor = EraCursor(source=source, last_seq=0)
            self.session.add(cursor)
        return cursor

    async def postings(
        self, tenant_id: str, *, claim_id: str | None, after_id: int, limit: int
    ) -> list[Posting]:
        query = select(Posting).where(Posting.tenant_id == tenant_id, Posting.id > after_id)
        if claim_id:
            query = query.where(Posting.claim_id == claim_id)
        rows = await self.session.execute(query.order_by(Posting.id).limit(limit))
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

    async def unmatched(self, *, limit: int) -> list[UnmatchedPayment]:
        rows = await self.session.execute(
            select(UnmatchedPayment).order_by(UnmatchedPayment.id).limit(limit)
        )
        return list(rows.scalars())

    async def files(self, *, limit: int) -> list[RemittanceFile]:
        rows = await self.session.execute(
            select(RemittanceFile).order_by(RemittanceFile.id.desc()).limit(limit)
        )
        return list(rows.scalars())
