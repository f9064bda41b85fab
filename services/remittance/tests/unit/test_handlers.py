"""What the remittance service does with `claim.submitted` and `claim.rejected`, over the
in-memory unit of work."""

from __future__ import annotations

from decimal import Decimal

from claimflow_remittance import handlers
from claimflow_remittance.adapters.tables import KpiFactRow, Posting
from claimflow_remittance.ledger import import_835
from services.remittance.tests.unit.builders import era, paid_clp, rejected, submitted


async def deliver(uow, event, *, handle=handlers.on_claim_submitted, load=handlers.load_submitted):
    uow.cause = event
    await load(uow=uow, events=[event])
    await handle(uow=uow, event=event)
    uow.cause = None


async def upload(uow, text: str, *, tenant: str = "t1"):
    return await import_835(
        uow=uow,
        source="upload",
        source_ref=f"{tenant}:{len(uow.staged(Posting))}:{hash(text)}",
        content=text,
        received_by="tenant:biller",
        tenant_id=tenant,
    )


async def test_a_submitted_claim_is_expected_with_its_lines_and_counted_as_submitted(uow):
    await deliver(uow, submitted("C100-1"))

    claim = await uow.ledger.expected("t1", "C100-1")
    assert claim is not None
    assert [line["code"] for line in claim.lines] == ["99213", "36415"]
    assert claim.billing_npi == "1234567893" and claim.original_claim_id == "C100-1"
    assert ("1234567893", "t1") in uow.ledger.payees
    facts = uow.staged(KpiFactRow)
    assert [(f["kind"], f["claim_id"], f["amount"]) for f in facts] == [
        ("submitted", "C100-1", Decimal("200.00"))
    ]
    assert "claim:C1001" in uow.locks


async def test_a_second_claim_submitted_for_a_known_claim_changes_nothing(uow):
    await deliver(uow, submitted("C100-1"))
    await deliver(uow, submitted("C100-1"))

    assert len(uow.staged(KpiFactRow)) == 1


async def test_a_payment_that_arrived_before_its_claim_posts_when_the_claim_arrives(uow):
    result = await upload(uow, era(paid_clp("C200-1")))
    assert [u.kind for u in result.unmatched] == ["unmatched-claim"]
    assert uow.staged(Posting) == []

    await deliver(uow, submitted("C200-1"))

    [posting] = uow.staged(Posting)
    assert (posting["claim_id"], posting["status"], posting["paid"]) == (
        "C200-1",
        "paid",
        Decimal("120.00"),
    )
    assert uow.ledger.waiting[0].status == "posted"
    [received] = uow.events("remittance.received")
    assert received.causation_id == uow.ledger.claims[("t1", "C200-1")].submitted_event_id


async def test_a_payment_uploaded_by_one_tenant_never_posts_to_another_tenants_claim(uow):
    await upload(uow, era(paid_clp("C300-1")), tenant="t1")

    await deliver(uow, submitted("C300-1", tenant="t2"))

    assert uow.staged(Posting) == []
    assert uow.ledger.waiting[0].status == "open"


async def test_a_replacement_claim_counts_toward_the_encounters_original_claim(uow):
    await deliver(uow, submitted("C400-1", encounter_id="E400"))
    await deliver(uow, submitted("C400-7", encounter_id="E400", frequency="7"))

    claim = await uow.ledger.expected("t1", "C400-7")
    assert claim.original_claim_id == "C400-1"
    facts = [(f["kind"], f["claim_id"]) for f in uow.staged(KpiFactRow)]
    assert facts == [("submitted", "C400-1"), ("resubmitted", "C400-1")]


async def test_a_rejection_is_a_kpi_fact_of_the_original_claim(uow):
    await deliver(uow, submitted("C500-1"))
    await deliver(
        uow, rejected("C500-1"), handle=handlers.on_claim_rejected, load=handlers.load_rejected
    )

    kinds = [(f["kind"], f["claim_id"], f["payer_id"]) for f in uow.staged(KpiFactRow)]
    assert kinds[-1] == ("rejected", "C500-1", "ACME1")


async def test_a_scrubber_rejection_before_any_submission_is_still_counted(uow):
    await deliver(
        uow,
        rejected("C600-1", stage="scrubber"),
        handle=handlers.on_claim_rejected,
        load=handlers.load_rejected,
    )

    [fact] = uow.staged(KpiFactRow)
    assert (fact["kind"], fact["claim_id"], fact["payer_id"]) == ("rejected", "C600-1", None)
