from decimal import Decimal

from claimflow_remittance.domain.era_reader import read_835
from claimflow_remittance.domain.matching import WorkItem
from claimflow_remittance.domain.reversals import (
    PostedClaim,
    ReversalPosting,
    pair_reversals,
    plan_reversal,
)

D = Decimal


def posted(posting_id, pcn="ICN1", paid="80.00", reversed_=False):
    return PostedClaim(posting_id, "C1", pcn, "1", D("100.00"), D(paid), D("20.00"), reversed_)


def claims_of(era, *body, total="0.00"):
    return read_835(era(*body, total=total)).claims


def test_reversal_is_linked_to_the_original_by_payer_claim_number(era):
    (reversal,) = claims_of(era, "CLP*C1*22*-100*-80*-20*12*ICN1", "CAS*PR*1*-20", total="-80")

    plan = plan_reversal(reversal, [posted("p-other", pcn="ICN0"), posted("p-1")])

    assert isinstance(plan, ReversalPosting)
    assert plan.reverses == "p-1"
    assert (plan.charge, plan.paid, plan.patient_responsibility) == (
        D("-100.00"),
        D("-80.00"),
        D("-20.00"),
    )
    assert plan.differences == ()


def test_reversal_carrying_the_original_in_ref_f8_is_linked_through_it(era):
    (reversal,) = claims_of(era, "CLP*C1*22*-100*-80*-20*12*ICN2", "REF*F8*ICN1")

    plan = plan_reversal(reversal, [posted("p-1")])

    assert isinstance(plan, ReversalPosting) and plan.reverses == "p-1"


def test_reversal_sent_with_positive_amounts_is_posted_negated(era):
    (reversal,) = claims_of(era, "CLP*C1*22*100*80*20*12*ICN1")

    plan = plan_reversal(reversal, [posted("p-1")])

    assert isinstance(plan, ReversalPosting)
    assert plan.paid == D("-80.00")


def test_partial_reversal_says_what_differs(era):
    (reversal,) = claims_of(era, "CLP*C1*22*-100*-50*-20*12*ICN1")

    plan = plan_reversal(reversal, [posted("p-1")])

    assert isinstance(plan, ReversalPosting)
    assert plan.differences == ("payment reverses 50.00 of 80.00",)


def test_reversal_never_undoes_an_already_reversed_posting(era):
    (reversal,) = claims_of(era, "CLP*C1*22*-100*-80*-20*12*ICN1")

    plan = plan_reversal(reversal, [posted("p-1", reversed_=True)])

    assert isinstance(plan, WorkItem)
    assert plan.kind == "reversal-without-original"
    assert plan.amount == D("-80.00")


def test_correction_after_a_reversal_is_paired_with_it(era):
    payments = claims_of(
        era,
        "CLP*C1*22*-100*-80*-20*12*ICN1",
        "CLP*C2*1*50*50**12*ICN7",
        "CLP*C1*1*100*90*10*12*ICN9",
    )

    (pair,) = pair_reversals(payments)

    assert pair.reversal.payer_claim_number == "ICN1"
    assert pair.correction is not None and pair.correction.payer_claim_number == "ICN9"


def test_reversal_without_a_correction_stands_alone(era):
    (pair,) = pair_reversals(claims_of(era, "CLP*C1*22*-100*-80*-20*12*ICN1"))

    assert pair.correction is None
