"""The claim lifecycle on a real database, with the payer simulator as the clearinghouse:
charge, scrub, submit, acknowledgments, 835 verdicts, corrections, voids, the next payer."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from claimflow_claims import commands
from claimflow_shared.events.models import (
    ClaimDenied,
    DenialAction,
    DenialWorked,
    LineCorrection,
    RemittanceAdjustment,
)
from claimflow_shared.x12 import read_segments
from services.claims.tests.integration.lifecycle_support import (
    TENANT,
    coded_encounter,
    coded_visit,
    days_ago,
    envelope,
    pyx12_errors,
)


async def paid_claim(harness, encounter_id="E0001", **visit):
    await harness.coded(coded_visit(**visit), encounter_id)
    await harness.submit_all()
    await harness.remit()
    return (await harness.claims(encounter_id))[0]


async def command(harness, fn, **kwargs):
    async with harness.uows(principal="tenant:biller") as uow:
        return await fn(uow, tenant_id=TENANT, principal="tenant:biller", **kwargs)


async def test_a_clean_837p_claim_is_submitted_accepted_and_paid(harness):
    await harness.coded(coded_encounter(1), "E0001")
    [record] = await harness.claims("E0001")
    assert record.state == "scrubbed"
    assert await harness.submit_all() == 1
    record = await harness.claim(record.claim_id)
    assert record.state == "accepted" and record.payer_claim_number
    [accepted] = await harness.published("claim.accepted")
    assert accepted["payload"]["accepted_by"] == "277CA"
    assert accepted["payload"]["payer_claim_number"] == record.payer_claim_number
    await harness.remit()
    record = await harness.claim(record.claim_id)
    assert record.state in {"paid", "partially_paid"}


async def test_a_facility_encounter_goes_out_as_an_837i_and_is_paid(harness):
    facility = coded_visit(
        lines=[("99284", 1, [], [1]), ("93000", 1, [], [1]), ("71046", 1, [], [1])],
        diagnoses=["R07.9"],
        facility=True,
        encounter_class="emergency",
        place_of_service="23",
    )
    await harness.coded(facility, "E0002")
    [record] = await harness.claims("E0002")
    assert (record.claim_type, record.state) == ("837I", "scrubbed")
    await harness.submit_all()
    [sent] = harness.simulator.received
    assert any(s.id == "SV2" and s.el(1) == "0450" for s in read_segments(sent))
    [submitted] = await harness.published("claim.submitted")
    assert submitted["payload"]["claim_type"] == "837I"
    assert submitted["payload"]["type_of_bill"] == "0131"
    assert [line["revenue_code"] for line in submitted["payload"]["lines"]] == [
        "0450",
        "0730",
        "0320",
    ]
    await harness.remit()
    assert (await harness.claim(record.claim_id)).state in {"paid", "partially_paid"}


async def test_a_synthetic_batch_is_sent_per_claim_type_and_payer_and_every_file_passes_pyx12(
    harness, tmp_path
):
    for n in range(40):
        await harness.coded(coded_encounter(n, seed=11), f"E{n:04d}")
    await harness.submit_all()
    files = harness.simulator.received
    kinds = Counter(
        (next(s.el(3) for s in read_segments(f) if s.id == "ST"), f.count("CLM*")) for f in files
    )
    guides = {guide for guide, _ in kinds}
    assert guides == {"005010X222A1", "005010X223A2"}
    for text in files:
        assert pyx12_errors(text, tmp_path) == []
        payers = {s.el(9) for s in read_segments(text) if s.id == "NM1" and s.el(1) == "PR"}
        assert len(payers) == 1, "one payer per interchange"
    await harness.remit()
    states = Counter()
    for n in range(40):
        states.update(r.state for r in await harness.claims(f"E{n:04d}"))
    assert states["paid"] + states["partially_paid"] >= 30, states


async def test_control_numbers_are_never_reused_across_submitter_restarts(harness):
    from claimflow_claims.submission import ClaimSubmitter

    seen_isa, seen_st = set(), set()
    for round_ in range(3):
        for n in range(3):
            await harness.coded(coded_encounter(round_ * 10 + n, seed=5), f"E{round_}{n:03d}")
        # A new submitter object: what a restarted (or another) replica starts from.
        harness.submitter = ClaimSubmitter(
            uows=harness.uows,
            clearinghouse=harness.simulator,
            settings=harness.submitter.settings,
        )
        await harness.submit_all()
    for text in harness.simulator.received:
        segments = list(read_segments(text))
        isa13 = next(s.el(13) for s in segments if s.id == "ISA")
        assert isa13 not in seen_isa
        seen_isa.add(isa13)
        for st in (s.el(2) for s in segments if s.id == "ST"):
            assert st not in seen_st
            seen_st.add(st)
    assert len(seen_isa) >= 3


def _variant(edit: str):
    today = date.today()
    cases = {
        "taxonomy": dict(taxonomy="999Z00000X"),
        "diagnosis-pointer": dict(lines=[("99213", 1, [], [4])]),
        "subscriber": dict(relationship="19"),
        "billing-provider-address": dict(billing_postal="27601", payer_id="SIMPAYER2"),
        "mue": dict(lines=[("36415", 3, [], [1])]),
        "ncci-ptp": dict(lines=[("99284", 1, [], [1]), ("99283", 1, [], [1])]),
        "medical-necessity": dict(lines=[("93000", 1, [], [1])], diagnoses=["J06.9"]),
        "age-sex": dict(diagnoses=["N40.0"], sex="F"),
        "service-date": dict(service_date=today + timedelta(days=2)),
        "timely-filing": dict(service_date=today - timedelta(days=400)),
        "duplicate-line": dict(lines=[("97110", 1, [], [1]), ("97110", 1, [], [1])]),
        "charges": dict(lines=[("99499", 1, [], [1])]),
        "institutional": dict(facility=True, encounter_class="inpatient", place_of_service="21"),
    }
    return cases[edit]


EDITS = [
    "taxonomy",
    "diagnosis-pointer",
    "subscriber",
    "billing-provider-address",
    "mue",
    "ncci-ptp",
    "medical-necessity",
    "age-sex",
    "service-date",
    "timely-filing",
    "duplicate-line",
    "charges",
    "institutional",
]


@pytest.mark.parametrize("edit", EDITS)
async def test_each_scrubber_edit_holds_the_claim_with_its_edit_code(harness, edit):
    await harness.coded(coded_visit(**_variant(edit)), "E0100")
    [record] = await harness.claims("E0100")
    assert record.state == "held"
    errors = {f["edit"] for f in record.findings if f["severity"] == "error"}
    assert edit in errors
    [held] = await harness.published("claim.held")
    assert held["payload"]["stage"] == "scrubber"
    finding = next(f for f in held["payload"]["findings"] if f["edit"] == edit)
    assert finding["message"] and finding["hint"]
    assert await harness.submit_all() == 0, "a held claim is not sent"


async def test_a_claim_billing_services_already_on_file_is_held_as_a_duplicate(harness):
    await harness.coded(coded_visit(mrn="MRN-DUP"), "E0200")
    await harness.coded(coded_visit(mrn="MRN-DUP"), "E0201")
    [first], [second] = await harness.claims("E0200"), await harness.claims("E0201")
    assert first.state == "scrubbed" and second.state == "held"
    assert {f["edit"] for f in second.findings} == {"duplicate-claim"}


async def test_a_held_claim_corrected_is_scrubbed_again_and_sent(harness):
    await harness.coded(coded_visit(**_variant("mue")), "E0300")
    [record] = await harness.claims("E0300")
    corrected = await command(
        harness,
        commands.correct_claim,
        claim_id=record.claim_id,
        corrections=[LineCorrection(line_number=1, units=1)],
        reason="two extra units keyed by mistake",
    )
    assert corrected.claim_id == record.claim_id and corrected.state == "scrubbed"
    assert await harness.submit_all() == 1
    assert (await harness.claim(record.claim_id)).state == "accepted"


async def test_a_released_claim_the_payer_rejects_lands_as_claim_rejected(harness):
    await harness.coded(coded_visit(**_variant("service-date")), "E0400")
    [record] = await harness.claims("E0400")
    await command(
        harness, commands.release, claim_id=record.claim_id, reason="date confirmed by the doctor"
    )
    await harness.submit_all()
    record = await harness.claim(record.claim_id)
    assert record.state == "rejected"
    scrubber, rejected = await harness.published("claim.rejected")
    assert (scrubber["payload"]["stage"], scrubber["payload"]["codes"]) == (
        "scrubber",
        ["service-date"],
    )
    assert rejected["payload"]["stage"] == "277CA"
    assert any(code.startswith("A7:187") for code in rejected["payload"]["codes"])
    assert not await harness.published("claim.submitted")


async def test_a_corrected_claim_replaces_the_original_with_its_payer_claim_number(harness):
    original = await paid_claim(harness, lines=[("97110", 2, [], [1])], diagnoses=["M54.50"])
    assert original.state in {"paid", "partially_paid"}
    replacement = await command(
        harness,
        commands.correct_claim,
        claim_id=original.claim_id,
        corrections=[LineCorrection(line_number=1, units=3)],
        reason="three units were documented",
    )
    assert replacement.frequency_code == "7" and replacement.original_claim_id == original.claim_id
    assert (await harness.claim(original.claim_id)).state == "corrected"
    await harness.submit_all()
    [sent] = harness.simulator.received[-1:]
    refs = [s.el(2) for s in read_segments(sent) if s.id == "REF" and s.el(1) == "F8"]
    assert refs == [original.payer_claim_number]
    remitted = await harness.remit()
    assert {r.status for r in remitted if r.claim_id == original.claim_id} == {"reversed"}
    replacement = await harness.claim(replacement.claim_id)
    assert replacement.state in {"paid", "partially_paid"}
    assert (await harness.claim(original.claim_id)).state == "corrected"


async def test_a_void_cancels_the_claim_once_the_payer_reverses_it(harness):
    original = await paid_claim(harness)
    void = await command(
        harness, commands.void, claim_id=original.claim_id, reason="billed the wrong patient"
    )
    assert void.frequency_code == "8"
    assert (await harness.claim(original.claim_id)).state == "voided"
    await harness.submit_all()
    assert (await harness.claim(void.claim_id)).state == "accepted"
    remitted = await harness.remit()
    assert [r.status for r in remitted] == ["reversed"]
    assert (await harness.claim(void.claim_id)).state == "closed"
    assert (await harness.claim(original.claim_id)).state == "voided"


async def test_a_claim_never_sent_is_cancelled_where_it_stands(harness):
    await harness.coded(coded_visit(**_variant("mue")), "E0500")
    [record] = await harness.claims("E0500")
    cancelled = await command(harness, commands.void, claim_id=record.claim_id, reason="dup")
    assert cancelled.claim_id == record.claim_id and cancelled.state == "voided"
    assert len(await harness.claims("E0500")) == 1


def _two_coverages(mrn: str) -> list[dict]:
    """A Medicare-like plan first and a supplemental (Medigap-like) plan after it."""
    return [
        {
            "payer": {"payer_id": "SIMPAYER2", "name": "SIMULATED MEDICARE ADV"},
            "member_id": f"P{mrn}",
            "priority": "primary",
        },
        {
            "payer": {"payer_id": "SIMMEDIGAP", "name": "SIMULATED MEDIGAP CARRIER"},
            "member_id": f"S{mrn}",
            "priority": "secondary",
        },
    ]


async def test_the_patients_share_after_the_primary_pays_is_billed_to_the_secondary(
    harness, tmp_path
):
    primary = await paid_claim(
        harness,
        lines=[("99214", 1, [], [1]), ("80053", 1, [], [1]), ("36415", 1, [], [1])],
        diagnoses=["E11.9", "I10"],
        coverages=_two_coverages("SEC01"),
        mrn="MRNSEC01",
    )
    assert primary.state in {"paid", "partially_paid"}
    claims = await harness.claims("E0001")
    secondary = next(c for c in claims if c.payer_responsibility == "secondary")
    assert secondary.payer_id == "SIMMEDIGAP" and secondary.original_claim_id == primary.claim_id
    assert secondary.state == "scrubbed"
    await harness.submit_all()
    sent = harness.simulator.received[-1]
    assert pyx12_errors(sent, tmp_path) == []
    segments = list(read_segments(sent))
    assert any(s.id == "SBR" and s.el(1) == "S" for s in segments)
    assert any(s.id == "AMT" and s.el(1) == "D" for s in segments), "primary's payment (2320)"
    assert any(s.id == "NM1" and s.el(1) == "PR" and s.el(9) == "SIMPAYER2" for s in segments)
    remitted = await harness.remit()
    [as_secondary] = [r for r in remitted if r.claim_id == secondary.claim_id]
    assert as_secondary.status_code == "2"
    assert as_secondary.paid > 0
    assert (await harness.claim(secondary.claim_id)).state in {"paid", "partially_paid"}


async def test_a_crossover_is_left_to_the_payer(harness):
    from claimflow_claims import handlers
    from claimflow_shared.events.models import PaymentInfo, RemittanceReceived

    await harness.coded(coded_visit(coverages=_two_coverages("XO1"), mrn="MRNXO1"), "E0600")
    await harness.submit_all()
    [record] = await harness.claims("E0600")
    crossover = RemittanceReceived(
        claim_id=record.claim_id,
        payer_claim_number=record.payer_claim_number,
        status_code="19",
        status="paid",
        total_charge=record.total_charge,
        paid=record.total_charge - 20,
        patient_responsibility=20,
        payment=PaymentInfo(method="ACH", trace_number="T1", payment_date=days_ago(0)),
        remittance_file_id="f1",
    )
    await harness.handle(
        handlers.on_remittance_received,
        handlers.lock_and_load,
        envelope(crossover, encounter_id="E0600"),
    )
    assert [c.claim_id for c in await harness.claims("E0600")] == [record.claim_id]
    assert (await harness.claim(record.claim_id)).state == "paid"


async def _denied(harness, encounter_id: str):
    from claimflow_claims import handlers

    await harness.coded(coded_visit(mrn=f"MRN{encounter_id}"), encounter_id)
    await harness.submit_all()
    [record] = await harness.claims(encounter_id)
    denial = ClaimDenied(
        claim_id=record.claim_id,
        payer_claim_number=record.payer_claim_number,
        adjustments=[RemittanceAdjustment(group="CO", carc="16", amount=record.total_charge)],
        denied_amount=record.total_charge,
        category="missing-information",
        recommended_action="correct and resubmit",
    )
    await harness.handle(
        handlers.on_claim_denied,
        handlers.lock_and_load,
        envelope(denial, encounter_id=encounter_id),
    )
    record = await harness.claim(record.claim_id)
    assert record.state == "denied" and record.denial["category"] == "missing-information"
    return record


async def _work(harness, record, action: DenialAction, **extra):
    from claimflow_claims import handlers

    worked = DenialWorked(
        claim_id=record.claim_id,
        action=action,
        payer_claim_number=record.payer_claim_number,
        reason="worked in the denial queue",
        worked_by="tenant:biller",
        **extra,
    )
    await harness.handle(
        handlers.on_denial_worked,
        handlers.lock_and_load_with_fees,
        envelope(worked, encounter_id=record.encounter_id),
    )


async def test_a_denial_worked_as_correct_and_resubmit_sends_a_frequency_7_claim(harness):
    record = await _denied(harness, "E0700")
    await _work(
        harness,
        record,
        DenialAction.CORRECT_AND_RESUBMIT,
        corrections=[LineCorrection(line_number=1, modifiers=["25"])],
    )
    claims = await harness.claims("E0700")
    replacement = next(c for c in claims if c.frequency_code == "7")
    assert replacement.state == "scrubbed"
    assert (await harness.claim(record.claim_id)).state == "corrected"
    await harness.submit_all()
    assert (await harness.claim(replacement.claim_id)).state == "accepted"


@pytest.mark.parametrize(
    ("action", "state"),
    [
        (DenialAction.APPEAL, "appealed"),
        (DenialAction.WRITE_OFF, "closed"),
        (DenialAction.BILL_PATIENT, "closed"),
    ],
)
async def test_a_worked_denial_is_appealed_or_closed(harness, action, state):
    record = await _denied(harness, "E0800")
    await _work(harness, record, action)
    assert (await harness.claim(record.claim_id)).state == state


async def test_every_step_is_audited_and_published_once(harness):
    original = await paid_claim(harness)
    replacement = await command(
        harness,
        commands.correct_claim,
        claim_id=original.claim_id,
        corrections=[LineCorrection(line_number=1, modifiers=["25"])],
        reason="modifier missing",
    )
    async with harness.uows() as uow:
        trail = await uow.claims.audit_trail(TENANT, original.claim_id)
    assert [(a.from_state, a.to_state) for a in trail][:5] == [
        (None, "created"),
        ("created", "scrubbed"),
        ("scrubbed", "submitted"),
        ("submitted", "submitted"),
        ("submitted", "accepted"),
    ]
    assert trail[-1].actor == "tenant:biller" and trail[-1].to_state == "corrected"
    assert all(a.actor and a.reason for a in trail)
    published = [
        (e["payload"]["claim_id"], t["event"], t["actor"])
        for e in await harness.published("claim.state-changed")
        for t in e["payload"]["transitions"]
    ]
    # The other steps are announced by claim.submitted / claim.accepted / remittance.received.
    assert published == [(original.claim_id, "replacement_sent", "tenant:biller")]
    assert replacement.state == "scrubbed"


async def test_batches_wait_for_more_claims_until_the_oldest_has_waited_long_enough(harness):
    harness.submitter.settings.submit_max_wait_s = 3600
    harness.submitter.settings.submit_batch_size = 2
    await harness.coded(coded_visit(mrn="MRNB1"), "E0901")
    assert await harness.submit_all() == 0, "one claim waits for a fuller batch"
    await harness.coded(
        coded_visit(mrn="MRNB2", lines=[("99214", 1, [], [1])], diagnoses=["I10"]), "E0902"
    )
    assert await harness.submit_all() == 1
    [sent] = harness.simulator.received
    assert sent.count("CLM*") == 2


async def test_an_imported_fee_schedule_prices_the_tenants_claims_for_that_payer(harness):
    csv = "code_system,code,modifier,unit_price,effective_date\nCPT,99213,,150.00,2020-01-01\n"
    async with harness.uows(principal="tenant:admin") as uow:
        await commands.import_fee_schedule(
            uow, tenant_id=TENANT, payer_id="SIMPAYER1", name="2026", text=csv, principal="a"
        )
    await harness.coded(coded_visit(mrn="MRNFEE"), "E1000")
    [record] = await harness.claims("E1000")
    assert str(record.total_charge) == "150.00"


async def test_a_fee_schedule_with_problems_changes_nothing_and_names_each(harness):
    csv = "code_system,code,modifier,unit_price\nCPT,99213,,abc\nXYZ,1,,1.00\n"
    with pytest.raises(commands.InvalidFeeSchedule) as refused:
        async with harness.uows() as uow:
            await commands.import_fee_schedule(
                uow, tenant_id=TENANT, payer_id="*", name="bad", text=csv, principal="a"
            )
    assert [(p.line, p.column) for p in refused.value.problems] == [
        (2, "unit_price"),
        (3, "code_system"),
    ]


async def test_a_file_drop_clearinghouse_is_asked_again_until_it_answers(harness, tmp_path):
    from claimflow_claims.adapters.clearinghouse import ClearinghouseAway
    from claimflow_claims.adapters.filedrop import FileDropClearinghouse
    from payer_simulator.clearinghouse import answer_file_drop

    outbox, inbox = tmp_path / "out", tmp_path / "in"
    harness.submitter.clearinghouse = FileDropClearinghouse(outbox, inbox)
    harness.submitter.settings.submit_max_attempts = 2
    await harness.coded(coded_visit(mrn="MRNDROP"), "E2000")
    for _ in range(3):  # more than submit_max_attempts: waiting is not failing
        with pytest.raises(ClearinghouseAway):
            await harness.submitter.submit_once()
    [dropped] = list(outbox.iterdir())
    [record] = await harness.claims("E2000")
    assert record.state == "scrubbed" and record.submission_file == dropped.name
    answered = answer_file_drop(
        store=harness.simulator.store,
        settings=harness.simulator.settings,
        pickup=outbox,
        dropoff=inbox,
    )
    assert answered == [dropped.name]
    assert await harness.submitter.submit_once()
    assert (await harness.claim(record.claim_id)).state == "accepted"
    assert list(outbox.iterdir()) == [dropped], "the same file, never a second one"
