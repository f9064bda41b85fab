from datetime import date, datetime
from decimal import Decimal

import pytest

from claimflow_remittance.domain.denial_queue import (
    BillPatient,
    DenialActionError,
    DenialFilter,
    DenialNotFound,
    FileAppeal,
    ResubmitCorrected,
    WriteOff,
    act,
    add_note,
    assign,
    denial_item,
    filter_queue,
    find_item,
)
from claimflow_shared.codes import AdjustmentGroup
from claimflow_shared.events import ClaimDenied, RemittanceAdjustment

D = Decimal
NOW = datetime(2024, 3, 10, 9, 30)


def denied(claim_id="C1", carc="50", amount="100.00", category="medical-necessity", appeal=True):
    return ClaimDenied(
        claim_id=claim_id,
        payer_claim_number="ICN1",
        adjustments=[
            RemittanceAdjustment(group=AdjustmentGroup("CO"), carc=carc, amount=D(amount))
        ],
        rarcs=["N130"],
        denied_amount=D(amount),
        category=category,
        recommended_action="Appeal with clinical documentation",
        appealable=appeal,
    )


def item(item_id="d1", tenant="t1", payer="P1", on=date(2024, 3, 1), indicator="CI", **kw):
    return denial_item(
        item_id=item_id,
        tenant_id=tenant,
        denied=denied(**kw),
        denied_on=on,
        payer_id=payer,
        payer_name="ACME",
        filing_indicator=indicator,
        suggested_action="appeal",
    )


def test_item_from_claim_denied_carries_reasons_and_the_payers_appeal_deadline():
    found = item(indicator="MB")

    assert found.carcs == ("50",)
    assert found.rarcs == ("N130",)
    assert found.appeal_deadline == date(2024, 6, 29)
    assert found.status == "open"


def test_unappealable_denial_has_no_deadline():
    assert item(carc="29", category="timely-filing", appeal=False).appeal_deadline is None


def test_queue_filters_by_tenant_payer_category_amount_age_and_deadline():
    items = [
        item("a", amount="500.00"),
        item("b", tenant="t2"),
        item("c", payer="P2"),
        item("d", carc="97", category="bundling"),
        item("e", amount="20.00"),
        item("f", on=date(2024, 1, 2)),
        item("g", indicator="MB"),
    ]
    today = date(2024, 3, 10)

    def ids(**kw):
        return [i.item_id for i in filter_queue(items, DenialFilter("t1", **kw), today=today)]

    assert "b" not in ids()
    assert ids(payer_id="P2") == ["c"]
    assert ids(category="bundling") == ["d"]
    assert ids(min_amount=D("100.01")) == ["a"]
    assert ids(max_amount=D("50")) == ["e"]
    assert ids(min_age_days=60) == ["f"]
    assert set(ids(max_age_days=9)) == {"a", "c", "d", "e", "g"}
    # Medicare's 120 days (g, due 29 June) end before f's 180 days from 2 January (30 June).
    assert ids(deadline_by=date(2024, 7, 1)) == ["g", "f"]
    assert ids()[:2] == ["g", "f"]


def test_larger_denials_come_first_among_equal_deadlines():
    items = [item("small", amount="10.00"), item("large", amount="900.00")]

    assert [i.item_id for i in filter_queue(items, DenialFilter("t1"), today=date(2024, 3, 2))] == [
        "large",
        "small",
    ]


def test_another_tenants_item_is_not_found():
    with pytest.raises(DenialNotFound):
        find_item([item(tenant="t2")], tenant_id="t1", item_id="d1")


def test_assign_and_note_are_audited_with_who_and_when():
    noted = add_note(assign(item(), to="ana", by="lead", at=NOW), text="chart requested",
                     by="ana", at=NOW)  # fmt: skip

    assert noted.assignee == "ana"
    assert [n.text for n in noted.notes] == ["chart requested"]
    assert [(a.what, a.by) for a in noted.audit] == [("assigned", "lead"), ("noted", "ana")]
    assert noted.audit[0].detail == "from nobody to ana"
    assert DenialFilter("t1", assignee="ana").admits(noted, date(2024, 3, 10))


def test_correct_and_resubmit_asks_claims_for_a_frequency_7_claim():
    outcome = act(item(), "correct-and-resubmit", by="ana", at=NOW, reason="added modifier 25")

    assert outcome.command == ResubmitCorrected("C1", "ICN1", "added modifier 25", "7")
    assert outcome.item.status == "resubmitted"
    assert outcome.item.audit[-1].what == "correct-and-resubmit"
    assert outcome.audit == outcome.item.audit[-1]


def test_appeal_before_the_deadline_files_an_appeal():
    outcome = act(item(), "appeal", by="ana", at=NOW, reason="records show necessity")

    assert outcome.command == FileAppeal("C1", date(2024, 8, 28), 1, "records show necessity")
    assert outcome.item.status == "appealed"


def test_appeal_after_the_deadline_is_refused_naming_the_field():
    late = datetime(2024, 9, 1, 8, 0)

    with pytest.raises(DenialActionError) as error:
        act(item(), "appeal", by="ana", at=late)

    assert error.value.field == "appeal_deadline"


def test_unappealable_denial_cannot_be_appealed():
    with pytest.raises(DenialActionError, match="appealable"):
        act(item(carc="29", category="timely-filing", appeal=False), "appeal", by="a", at=NOW)


def test_write_off_needs_a_reason_and_defaults_to_the_denied_amount():
    with pytest.raises(DenialActionError, match="reason"):
        act(item(), "write-off", by="ana", at=NOW)

    outcome = act(item(), "write-off", by="ana", at=NOW, reason="small balance")

    assert outcome.command == WriteOff("C1", D("100.00"), "small balance")
    assert "100.00 written off" in outcome.item.audit[-1].detail


def test_bill_patient_for_part_of_the_denial_with_a_waiver():
    outcome = act(
        item(), "bill-patient", by="ana", at=NOW, reason="signed waiver on file", amount=D("40")
    )

    assert outcome.command == BillPatient("C1", D("40.00"), "signed waiver on file")
    assert outcome.item.status == "billed-to-patient"


def test_amount_above_the_denial_is_refused():
    with pytest.raises(DenialActionError, match="amount"):
        act(item(), "write-off", by="a", at=NOW, reason="x", amount=D("100.01"))


def test_closed_item_takes_no_second_action():
    done = act(item(), "write-off", by="ana", at=NOW, reason="small balance").item

    with pytest.raises(DenialActionError, match="status"):
        act(done, "appeal", by="ana", at=NOW)
