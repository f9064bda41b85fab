"""Posting 835s through the service layer, over the in-memory unit of work: per line, denials
to the queue, reversals, crossovers, PLBs, duplicates, held and unreadable files, and the
tenant a payment may post to."""

from __future__ import annotations

from decimal import Decimal

from claimflow_remittance.adapters.tables import (
    DenialItemRow,
    KpiFactRow,
    PatientChargeRow,
    Posting,
    PostingLine,
    ProviderAccountEntry,
    RemittanceFile,
)
from claimflow_remittance.ledger import import_835
from services.remittance.tests.unit.builders import (
    OTHER_NPI,
    Clp,
    denied_clp,
    era,
    paid_clp,
    partial_clp,
    submitted,
)
from services.remittance.tests.unit.test_handlers import deliver, upload

D = Decimal


async def download(uow, text: str, seq: int = 1):
    return await import_835(
        uow=uow,
        source="clearinghouse",
        source_ref=str(seq),
        content=text,
        received_by="clearinghouse:clearinghouse",
    )


async def test_a_paid_claim_posts_every_line_against_the_submitted_line_it_pays(uow):
    await deliver(uow, submitted("C1-1"))

    result = await upload(uow, era(paid_clp("C1-1")))

    assert [(p.claim_id, p.status, p.paid) for p in result.posted] == [
        ("C1-1", "paid", D("120.00"))
    ]
    [posting] = uow.staged(Posting)
    # Allowed = paid + the patient's share: what the contract lets the provider collect.
    assert (posting["allowed"], posting["patient_responsibility"], posting["contractual"]) == (
        D("150.00"),
        D("30.00"),
        D("50.00"),
    )
    lines = uow.staged(PostingLine)
    assert [(ln["code"], ln["line_numbers"], ln["match"]) for ln in lines] == [
        ("99213", [1], "exact"),
        ("36415", [2], "exact"),
    ]
    assert lines[0]["adjustments"] == [
        {"group": "CO", "carc": "45", "amount": "30.00"},
        {"group": "PR", "carc": "2", "amount": "30.00"},
    ]
    assert (lines[0]["contractual"], lines[0]["patient_responsibility"]) == (D("30"), D("30"))
    [received] = uow.events("remittance.received")
    assert [line.submitted_line_numbers for line in received.payload.lines] == [[1], [2]]
    assert received.tenant_id == "t1" and received.encounter_id == "EC1-1"
    assert uow.events("claim.denied") == []


async def test_the_patients_share_becomes_patient_balance_due_and_a_statement_line(uow):
    await deliver(uow, submitted("C2-1"))

    await upload(uow, era(paid_clp("C2-1")))

    [due] = uow.events("patient.balance-due")
    assert (due.payload.amount, due.payload.insurance_paid) == (D("30.00"), D("120.00"))
    assert due.payload.service_date.isoformat() == "2024-01-10"
    assert [(r.group.value, r.carc) for r in due.payload.reasons] == [("PR", "2")]
    [charge] = uow.staged(PatientChargeRow)
    assert (charge["patient_owes"], charge["claim_id"]) == (D("30.00"), "C2-1")
    assert charge["patient_key"].startswith("P") and "MRN" not in charge["patient_key"]


async def test_a_line_denial_is_a_partial_denial_in_the_queue_with_its_line(uow):
    await deliver(uow, submitted("C3-1"))

    result = await upload(uow, era(partial_clp("C3-1")))

    assert result.posted[0].status == "partially-paid"
    [denied] = uow.events("claim.denied")
    assert denied.payload.partial and denied.payload.denied_lines == [2]
    assert (denied.payload.category, denied.payload.denied_amount) == ("bundling", D("50.00"))
    assert denied.payload.appeal_deadline is not None
    [item] = uow.staged(DenialItemRow)
    assert (item["category"], item["carcs"], item["rarcs"]) == ("bundling", ["97"], ["M15"])
    assert item["denied_event_id"] == denied.event_id


async def test_a_claim_denied_in_full_with_clp02_1_is_a_denial_with_category_and_action(uow):
    await deliver(uow, submitted("C4-1"))

    result = await upload(uow, era(denied_clp("C4-1")))

    assert result.posted[0].status == "denied"
    [denied] = uow.events("claim.denied")
    p = denied.payload
    assert (p.category, p.action, p.partial) == ("medical-necessity", "appeal", False)
    assert p.denied_amount == D("200.00") and p.rarcs == ["N115"]
    assert p.denied_lines == [1, 2]
    facts = [f for f in uow.staged(KpiFactRow) if f["kind"] == "remitted"]
    assert (facts[0]["status"], facts[0]["category"]) == ("denied", "medical-necessity")


async def test_a_reversal_undoes_the_earlier_posting_and_the_corrected_payment_posts(uow):
    await deliver(uow, submitted("C5-1"))
    await upload(uow, era(paid_clp("C5-1", payer_claim_number="PCN5")))
    reversal = paid_clp("C5-1", status="22", payer_claim_number="PCN5", sign=-1)
    corrected = Clp(
        "C5-1",
        payer_claim_number="PCN5B",
        extra=["REF*F8*PCN5"],
        lines=[
            ("99213", "150.00", "110.00", [("CO", "45", "10.00"), ("PR", "2", "30.00")]),
            ("36415", "50.00", "30.00", [("CO", "45", "20.00")]),
        ],
    )

    result = await upload(uow, era(reversal, corrected))

    original, undo, repaid = uow.staged(Posting)
    assert original["reversed_by"] == undo["posting_key"]
    assert undo["reverses"] == original["posting_key"]
    assert (undo["status"], undo["paid"], undo["charge"]) == ("reversed", D("-120.00"), D("-200"))
    assert (repaid["status"], repaid["paid"]) == ("paid", D("140.00"))
    assert repaid["original_payer_claim_number"] == "PCN5"
    assert sum(p["paid"] for p in uow.staged(Posting)) == D("140.00")
    assert [p.status for p in result.posted] == ["reversed", "paid"]
    statuses = [e.payload.status for e in uow.events("remittance.received")]
    assert statuses == ["paid", "reversed", "paid"]
    owed = sum(c["patient_owes"] for c in uow.staged(PatientChargeRow))
    assert owed == D("30.00")  # +30 posted, -30 reversed, +30 repaid


async def test_a_reversal_without_its_original_posts_and_asks_a_person(uow):
    await deliver(uow, submitted("C6-1"))
    reversal = paid_clp("C6-1", status="22", payer_claim_number="NOPE", sign=-1)

    result = await upload(uow, era(reversal, paid_clp("C6-1", payer_claim_number="X2")))

    assert [u.kind for u in result.unmatched] == ["reversal-without-original"]
    assert uow.staged(Posting)[0]["reverses"] is None


async def test_a_crossover_tells_claims_the_payer_forwarded_the_claim(uow):
    await deliver(uow, submitted("C7-1"))
    crossed = paid_clp(
        "C7-1", status="19", extra=["NM1*TT*2*MEDIGAP PLAN*****PI*MGAP1"], remarks=["MA18"]
    )

    await upload(uow, era(crossed))

    [received] = uow.events("remittance.received")
    crossover = received.payload.crossover
    assert (crossover.action, crossover.carrier_name, crossover.carrier_id) == (
        "await-crossover",
        "MEDIGAP PLAN",
        "MGAP1",
    )
    assert uow.staged(Posting)[0]["crossover"] == "await-crossover"


async def test_plb_interest_and_recoupment_post_to_the_provider_account(uow):
    await deliver(uow, submitted("C8-1"))

    result = await upload(uow, era(paid_clp("C8-1"), plb=[("L6", "-4.25"), ("WO", "10")]))

    entries = uow.staged(ProviderAccountEntry)
    assert [(e["reason"], e["kind"], e["amount"]) for e in entries] == [
        ("L6", "interest", D("4.25")),
        ("WO", "offset", D("-10.00")),
    ]
    assert all(e["tenant_id"] == "t1" for e in entries)
    assert result.status == "posted" and len(result.provider_adjustments) == 2


async def test_the_same_835_imported_twice_posts_nothing_the_second_time(uow):
    await deliver(uow, submitted("C9-1"))
    text = era(paid_clp("C9-1"), trace="EFT900")

    first = await upload(uow, text)
    again = await upload(uow, text)
    re_enveloped = await upload(uow, text.replace("000000001", "000000777"))
    other_content = era(paid_clp("C9-1", payer_claim_number="OTHER"), trace="EFT900")
    same_trace = await upload(uow, other_content)

    assert first.status == "posted"
    assert [r.status for r in (again, re_enveloped, same_trace)] == ["duplicate"] * 3
    assert "imported before" in again.duplicate_reason
    assert "trace EFT900" in same_trace.duplicate_reason
    assert len(uow.staged(Posting)) == 1
    assert len(uow.events("remittance.received")) == 1


async def test_a_transaction_out_of_balance_is_held_and_nothing_of_it_posts(uow):
    await deliver(uow, submitted("C10-1"))
    text = era(paid_clp("C10-1")).replace("BPR*I*120*", "BPR*I*125*")

    result = await upload(uow, text)

    assert result.status == "held" and result.posted == []
    assert [(h.claim_id, h.reason.split(":")[0]) for h in result.held] == [
        ("C10-1", "file-out-of-balance")
    ]
    assert any(p["kind"] == "file-out-of-balance" for p in result.problems)
    [file] = uow.staged(RemittanceFile)
    assert (file["status"], file["held_transactions"]) == ("held", [0])


async def test_an_upload_naming_another_tenants_claim_is_unmatched_and_says_nothing(uow):
    await deliver(uow, submitted("C11-1", tenant="owner"))

    theirs = await upload(uow, era(paid_clp("C11-1")), tenant="intruder")
    unknown = await upload(uow, era(paid_clp("C99-1")), tenant="intruder")

    assert uow.staged(Posting) == []
    assert theirs.unmatched[0].reason == unknown.unmatched[0].reason
    assert theirs.unmatched[0].kind == unknown.unmatched[0].kind == "unmatched-claim"
    assert uow.ledger.waiting[0].tenant_id == "intruder"


async def test_a_downloaded_835_posts_only_to_claims_billed_under_its_payee_npi(uow):
    await deliver(uow, submitted("C12-1", tenant="a", npi="1234567893"))
    await deliver(uow, submitted("C13-1", tenant="b", npi=OTHER_NPI))

    result = await download(uow, era(paid_clp("C12-1"), paid_clp("C13-1", payer_claim_number="P2")))

    assert [p.claim_id for p in result.posted] == ["C12-1"]
    assert result.tenant_id == "a"
    assert [(u.claim_id, u.kind) for u in result.unmatched] == [("C13-1", "unmatched-claim")]
    assert uow.ledger.waiting[0].tenant_id == "a"  # the payee's tenant sees it, not b


async def test_a_downloaded_835_for_an_unknown_payee_waits_for_operators(uow):
    result = await download(uow, era(paid_clp("C14-1"), payee_npi=OTHER_NPI))

    assert result.tenant_id is None
    assert uow.ledger.waiting[0].tenant_id is None and uow.ledger.waiting[0].payee_npi == OTHER_NPI


async def test_payers_that_drop_dashes_or_cut_clp01_short_still_match(uow):
    await deliver(uow, submitted("CABCDEF123456789-1"))

    result = await upload(uow, era(paid_clp("cabcdef123456789")))

    assert [p.claim_id for p in result.posted] == ["cabcdef123456789"]
    assert uow.staged(Posting)[0]["tenant_id"] == "t1"


async def test_a_line_paying_no_submitted_line_goes_to_the_queue_with_the_claim_posted(uow):
    await deliver(uow, submitted("C15-1"))
    # A code never billed, on a charge no billed line has (a payer adding a line, or an error).
    clp = Clp("C15-1", lines=[("99213", "150.00", "150.00", []), ("80053", "75.00", "75.00", [])])

    result = await upload(uow, era(clp))

    assert result.posted[0].status == "paid"
    assert [(u.kind, u.amount) for u in result.unmatched] == [("unmatched-line", D("75.00"))]
    assert [ln["line_numbers"] for ln in uow.staged(PostingLine)] == [[1], []]


async def test_a_file_that_is_not_x12_is_quarantined_with_its_error(uow):
    result = await download(uow, "this is not an 835 at all")

    assert result.status == "quarantined" and result.error.startswith("not an 835")
    [file] = uow.staged(RemittanceFile)
    assert (file["status"], file["error"]) == ("quarantined", result.error)


async def test_a_claim_the_payer_split_in_two_posts_each_part_to_its_own_lines(uow):
    await deliver(uow, submitted("C16-1"))
    visit = Clp("C16-1", payer_claim_number="SPLIT-A", lines=[("99213", "150.00", "150.00", [])])
    lab = Clp("C16-1", payer_claim_number="SPLIT-B", lines=[("36415", "50.00", "50.00", [])])

    result = await upload(uow, era(visit, lab))

    assert [(p.payer_claim_number, p.status) for p in result.posted] == [
        ("SPLIT-A", "paid"),
        ("SPLIT-B", "paid"),
    ]
    assert [ln["line_numbers"] for ln in uow.staged(PostingLine)] == [[1], [2]]
    assert result.unmatched == []


async def test_a_line_whose_modifiers_the_payer_dropped_still_matches_its_line(uow):
    await deliver(uow, submitted("C17-1", modifiers=[["25"], []]))

    await upload(uow, era(paid_clp("C17-1")))

    assert [ln["match"] for ln in uow.staged(PostingLine)] == ["dropped-modifiers", "exact"]
