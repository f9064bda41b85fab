from decimal import Decimal

from claimflow_remittance.domain.crossover import secondary_claim_needed
from claimflow_remittance.domain.era_reader import read_835


def first_claim(era, *body, total="80.00"):
    remittance = read_835(era(*body, total=total))
    return remittance, remittance.claims[0]


def test_claim_forwarded_by_the_payer_awaits_the_crossover(era):
    remittance, clp = first_claim(era, "CLP*C1*19*100*80*20*MB*ICN1", "CAS*PR*2*20")

    needed = secondary_claim_needed(remittance, clp)

    assert needed is not None
    assert needed.action == "await-crossover"
    assert needed.primary_paid == Decimal("80.00")
    assert needed.patient_responsibility == Decimal("20.00")
    assert needed.claim_adjustments[0].reason == "2"


def test_crossover_carrier_named_in_nm1_tt_awaits_the_crossover(era):
    remittance, clp = first_claim(
        era, "CLP*C1*1*100*80*20*MB*ICN1", "CAS*PR*2*20", "NM1*TT*2*MEDIGAP PLAN*****PI*MG1"
    )

    needed = secondary_claim_needed(remittance, clp)

    assert needed is not None and needed.action == "await-crossover"
    assert needed.crossover_carrier is not None
    assert needed.crossover_carrier.id == "MG1"


def test_medicare_remark_ma18_means_the_claim_was_sent_on(era):
    remittance, clp = first_claim(era, "CLP*C1*1*100*80*20*MB*ICN1", "CAS*PR*2*20", "MOA***MA18")

    needed = secondary_claim_needed(remittance, clp)

    assert needed is not None and needed.action == "await-crossover"


def test_moa_adjudication_with_secondary_coverage_starts_a_secondary_claim(era):
    remittance, clp = first_claim(era, "CLP*C1*1*100*80*20*MB*ICN1", "CAS*PR*2*20", "MOA***MA01")

    needed = secondary_claim_needed(remittance, clp, has_secondary_coverage=True)

    assert needed is not None
    assert needed.action == "submit-secondary"
    assert "MOA" in needed.reason


def test_no_secondary_coverage_and_no_forwarding_needs_nothing(era):
    remittance, clp = first_claim(era, "CLP*C1*1*100*80*20*MB*ICN1", "CAS*PR*2*20")

    assert secondary_claim_needed(remittance, clp) is None


def test_fully_paid_claim_needs_no_secondary_even_with_coverage(era):
    remittance, clp = first_claim(era, "CLP*C1*1*80*80**MB*ICN1")

    assert secondary_claim_needed(remittance, clp, has_secondary_coverage=True) is None


def test_reversal_and_denial_never_start_a_secondary_claim(era):
    for status in ("22", "4"):
        remittance, clp = first_claim(era, f"CLP*C1*{status}*100*0*0*MB*ICN1", total="0")
        assert secondary_claim_needed(remittance, clp, has_secondary_coverage=True) is None


def test_secondary_sample_claims_processed_as_secondary_need_nothing_more(sample_text):
    remittance = read_835(sample_text("lfh-secondary-payment.835"))

    assert [secondary_claim_needed(remittance, c) for c in remittance.claims] == [None, None]
