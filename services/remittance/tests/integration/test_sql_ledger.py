"""The ledger's SQL: what one unit of work committed, the next one finds."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from claimflow_remittance.adapters.tables import (
    Posting,
    ProviderAccountEntry,
    RemittanceFile,
    UnmatchedPayment,
)
from claimflow_remittance.ledger import sweep_parked
from services.remittance.tests.integration.conftest import deliver, download, outbox, upload
from services.remittance.tests.unit.builders import OTHER_NPI, era, paid_clp, submitted

D = Decimal


async def rows(db, table, *where):
    async with db.sessions() as session:
        return list((await session.execute(select(table).where(*where))).scalars())


async def test_a_reversal_in_a_later_file_marks_the_stored_original_reversed(db, uows):
    await deliver(uows, submitted("C1-1"))
    await upload(uows, era(paid_clp("C1-1", payer_claim_number="PCN1")))

    await upload(
        uows,
        era(
            paid_clp("C1-1", status="22", payer_claim_number="PCN1", sign=-1),
            paid_clp("C1-1", payer_claim_number="PCN1B", extra=["REF*F8*PCN1"]),
        ),
    )

    original, reversal, repaid = await rows(db, Posting)
    assert original.reversed_by == reversal.posting_key
    assert reversal.reverses == original.posting_key and reversal.paid == D("-120.00")
    assert repaid.status == "paid" and repaid.reversed_by is None
    received = await outbox(db, "remittance.received")
    assert [e["payload"]["status"] for e in received] == ["paid", "reversed", "paid"]


async def test_a_waiting_payment_posts_in_the_transaction_that_learns_its_claim(db, uows):
    await upload(uows, era(paid_clp("C2-1")))
    [waiting] = await rows(db, UnmatchedPayment)
    assert (waiting.status, waiting.kind, waiting.tenant_id) == ("open", "unmatched-claim", "t1")

    await deliver(uows, submitted("C2-1"))

    [waiting] = await rows(db, UnmatchedPayment)
    assert waiting.status == "posted" and waiting.resolved_by
    [posting] = await rows(db, Posting)
    assert (posting.claim_id, posting.paid) == ("C2-1", D("120.00"))


async def test_the_sweep_posts_a_payment_whose_clp01_the_payer_cut_short(db, uows):
    await upload(uows, era(paid_clp("CABCDEF1234567")))  # the claim is CABCDEF123456789-1
    await deliver(uows, submitted("CABCDEF123456789-1"))
    assert await rows(db, Posting) == []  # its own arrival cannot find a shortened id

    async with uows() as uow:
        posted = await sweep_parked(uow)

    assert posted == 1
    [posting] = await rows(db, Posting)
    assert posting.tenant_id == "t1"


async def test_what_an_unknown_payee_was_paid_belongs_to_the_first_tenant_billing_as_it(db, uows):
    await download(uows, era(paid_clp("C3-1"), payee_npi=OTHER_NPI, plb=[("L6", "-2.50")]), seq=1)
    [entry] = await rows(db, ProviderAccountEntry)
    assert entry.tenant_id is None

    await deliver(uows, submitted("C3-1", tenant="clinic", npi=OTHER_NPI))

    [entry] = await rows(db, ProviderAccountEntry)
    assert (entry.tenant_id, entry.amount) == ("clinic", D("2.50"))
    [file] = await rows(db, RemittanceFile)
    assert file.tenant_id == "clinic"  # the tenant now sees the file its payment came in
    [posting] = await rows(db, Posting)
    assert posting.tenant_id == "clinic"


async def test_the_same_payment_in_another_file_is_a_duplicate_in_the_database(db, uows):
    await deliver(uows, submitted("C4-1"))
    first = await upload(uows, era(paid_clp("C4-1"), trace="EFT-4"), ref="a")

    again = await download(
        uows, era(paid_clp("C4-1", payer_claim_number="Z"), trace="EFT-4"), seq=9
    )

    assert (first.status, again.status) == ("posted", "duplicate")
    assert len(await rows(db, Posting)) == 1
    files = await rows(db, RemittanceFile)
    assert [(f.status, f.duplicate_of) for f in files] == [
        ("posted", None),
        ("duplicate", first.file_id),
    ]
