from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from claimflow_remittance.domain.era_reader import read_835
from claimflow_remittance.domain.matching import (
    ClaimIndex,
    ClaimMatch,
    SubmittedClaim,
    SubmittedLine,
    WorkItem,
    match_lines,
)

DAY = date(2024, 1, 10)


def line(number, code, *modifiers, charge="100", units="1", day=DAY, control=None):
    return SubmittedLine(
        number, code, tuple(modifiers), Decimal(units), day, Decimal(charge), control
    )


def claim(claim_id="CLM-2024-0001", *lines, tenant="t1"):
    total = sum((ln.charge for ln in lines), Decimal())
    return SubmittedClaim(tenant, claim_id, total, tuple(lines))


def payment(era, *body, clp01="CLM-2024-0001", total="100.00"):
    (clp,) = read_835(era(f"CLP*{clp01}*1*{total}*{total}**12*PCN1", *body, total=total)).claims
    return clp


def test_clp01_matches_the_tenants_claim_exactly(era):
    index = ClaimIndex([claim("CLM-2024-0001"), claim("CLM-2024-0002")])

    found = index.find(payment(era))

    assert isinstance(found, ClaimMatch)
    assert (found.claim.claim_id, found.method) == ("CLM-2024-0001", "exact")


def test_clp01_upper_cased_without_dashes_still_matches(era):
    index = ClaimIndex([claim("clm-2024-0001")])

    found = index.find(payment(era, clp01="CLM20240001"))

    assert isinstance(found, ClaimMatch) and found.method == "normalised"


def test_clp01_cut_short_by_the_payer_matches_when_only_one_claim_fits(era):
    index = ClaimIndex([claim("ABCDEFGHIJKLMNOPQRS1"), claim("ZZZZZZZZZZZZZZZZZZZ2")])

    found = index.find(payment(era, clp01="ABCDEFGHIJKLMN"))

    assert isinstance(found, ClaimMatch) and found.method == "truncated"


def test_clp01_cut_short_that_fits_two_claims_goes_to_the_work_queue(era):
    index = ClaimIndex([claim("ABCDEFGHIJKLMNOP-1"), claim("ABCDEFGHIJKLMNOP-2")])

    found = index.find(payment(era, clp01="ABCDEFGHIJKLMN"))

    assert isinstance(found, WorkItem)
    assert found.kind == "ambiguous-claim"


def test_claim_of_another_tenant_is_not_in_this_tenants_index_and_is_queued(era):
    this_tenant = ClaimIndex([claim("CLM-2024-0009", tenant="t1")])

    found = this_tenant.find(payment(era))

    assert isinstance(found, WorkItem)
    assert found.kind == "unmatched-claim"
    assert found.amount == Decimal("100.00")
    assert found.position > 0


def test_short_clp01_is_never_matched_by_prefix(era):
    index = ClaimIndex([claim("CLM-2024-0001")])

    found = index.find(payment(era, clp01="CLM"))

    assert isinstance(found, WorkItem)


def test_line_control_number_beats_code_and_date(era):
    submitted = claim(
        "CLM-2024-0001", line(1, "99213", control="L1"), line(2, "99213", control="L2")
    )
    clp = payment(era, "SVC*HC:99213*100*100", "DTM*472*20240110", "REF*6R*L2")

    (match,) = match_lines(clp, submitted).matched

    assert (match.line_numbers, match.method) == ((2,), "control-number")


def test_line_with_same_code_modifiers_and_date_matches_exactly(era):
    submitted = claim("CLM-2024-0001", line(1, "99213", "25"), line(2, "93000"))
    clp = payment(era, "SVC*HC:93000*100*100", "DTM*472*20240110")

    matching = match_lines(clp, submitted)

    assert [(m.line_numbers, m.method) for m in matching.matched] == [((2,), "exact")]
    assert matching.unpaid_line_numbers == (1,)


def test_line_whose_modifiers_the_payer_dropped_still_matches(era):
    submitted = claim("CLM-2024-0001", line(1, "20610", "RT", "59"))
    clp = payment(era, "SVC*HC:20610:RT*100*100", "DTM*472*20240110")

    (match,) = match_lines(clp, submitted).matched

    assert (match.line_numbers, match.method) == ((1,), "dropped-modifiers")


def test_bundled_lines_match_through_the_original_code_in_svc06(era):
    submitted = claim("CLM-2024-0001", line(1, "80053", charge="60"), line(2, "85025", charge="40"))
    clp = payment(
        era,
        "SVC*HC:80050*60*60**1*HC:80053",
        "DTM*472*20240110",
        "SVC*HC:80050*40*0**1*HC:85025",
        "DTM*472*20240110",
        "CAS*CO*97*40",
        total="60.00",
    )

    matching = match_lines(clp, submitted)

    assert [(m.line_numbers, m.method) for m in matching.matched] == [
        ((1,), "original-code"),
        ((2,), "original-code"),
    ]
    assert matching.unmatched == ()


def test_one_line_split_by_the_payer_into_two_svcs_is_marked_split(era):
    submitted = claim("CLM-2024-0001", line(1, "99215", charge="100"))
    clp = payment(
        era,
        "SVC*HC:99214*100*70**1*HC:99215",
        "DTM*472*20240110",
        "CAS*CO*45*30",
        "SVC*HC:36415*0*0**1*HC:99215",
        "DTM*472*20240110",
        total="70.00",
    )

    matching = match_lines(clp, submitted)

    assert [(m.line_numbers, m.split) for m in matching.matched] == [((1,), True), ((1,), True)]


def test_identical_lines_paid_as_one_svc_are_merged(era):
    submitted = claim("CLM-2024-0001", line(1, "97110", charge="50"), line(2, "97110", charge="50"))
    clp = payment(era, "SVC*HC:97110*100*100**2", "DTM*472*20240110")

    (match,) = match_lines(clp, submitted).matched

    assert (match.line_numbers, match.method) == ((1, 2), "merged")


def test_svc_for_a_service_we_never_billed_goes_to_the_work_queue(era):
    submitted = claim("CLM-2024-0001", line(1, "99213", charge="90"))
    clp = payment(era, "SVC*HC:71045*100*100", "DTM*472*20240110")

    matching = match_lines(clp, submitted)

    (item,) = matching.unmatched
    assert item.kind == "unmatched-line"
    assert "71045" in item.reason
    assert item.amount == Decimal("100.00")
    assert matching.matched == ()


def test_line_on_another_date_is_not_matched_by_code(era):
    submitted = claim("CLM-2024-0001", line(1, "99213", charge="90"))
    clp = payment(era, "SVC*HC:99213*100*100", "DTM*472*20240111")

    assert match_lines(clp, submitted).unmatched


def test_line_recoded_without_svc06_matches_the_only_line_of_that_day_and_charge(era):
    submitted = claim("CLM-2024-0001", line(1, "90471", charge="25"), line(2, "99213"))
    clp = payment(era, "SVC*HC:G0008*25*25", "DTM*472*20240110", total="25.00")

    (match,) = match_lines(clp, submitted).matched

    assert (match.line_numbers, match.method) == ((1,), "charge-and-date")


def test_submitted_claim_is_built_from_a_claim_submitted_payload():
    event = SimpleNamespace(
        claim_id="C1",
        total_charge=Decimal("10.00"),
        payer=SimpleNamespace(payer_id="ACME1", name="ACME"),
        lines=[
            SimpleNamespace(
                line_number=1,
                code="99213",
                modifiers=["25"],
                units=2,
                service_date=DAY,
                charge=Decimal("10.00"),
            )
        ],
    )

    submitted = SubmittedClaim.from_event("t1", event)

    assert submitted.payer_id == "ACME1"
    assert submitted.lines == (line(1, "99213", "25", charge="10.00", units="2"),)
