from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from claimflow_claims.domain import (
    RuleTableError,
    ScrubEdit,
    ScrubRules,
    Severity,
    Subscriber,
    is_clean,
    scrub_claim,
)
from claimflow_claims.domain.scrubber import add_months
from claimflow_shared.events.models import SubscriberRelationship

TODAY = date(2025, 4, 1)


def findings_of(claim, edit, *, today=TODAY, rules=None):
    return [f for f in scrub_claim(claim, today=today, rules=rules) if f.edit is edit]


def test_well_formed_claim_passes_every_edit(make):
    claim = make.claim(
        lines=[make.line("99213", modifiers=["25"], pointers=[1, 2]), make.line("20610")],
        diagnoses=("M1711", "J069"),
    )
    assert scrub_claim(claim, today=TODAY) == []


# --- NPI -----------------------------------------------------------------------------------


def test_billing_npi_with_a_wrong_check_digit_is_an_error(make):
    claim = make.claim()
    billing = claim.providers.billing.model_copy(update={"npi": "1234567890"})
    claim = claim.model_copy(
        update={"providers": claim.providers.model_copy(update={"billing": billing})}
    )
    [finding] = findings_of(claim, ScrubEdit.NPI)
    assert finding.field == "providers.billing.npi"
    assert finding.severity is Severity.ERROR


def test_rendering_npi_that_is_not_ten_digits_is_an_error(make):
    claim = make.claim()
    rendering = claim.providers.rendering.model_copy(update={"npi": "12345"})
    claim = claim.model_copy(
        update={"providers": claim.providers.model_copy(update={"rendering": rendering})}
    )
    assert [f.field for f in findings_of(claim, ScrubEdit.NPI)] == ["providers.rendering.npi"]


def test_invalid_facility_npi_is_an_error(make):
    claim = make.claim()
    claim = claim.model_copy(
        update={"providers": claim.providers.model_copy(update={"facility_npi": "1234567894"})}
    )
    assert [f.field for f in findings_of(claim, ScrubEdit.NPI)] == ["providers.facility_npi"]


# --- diagnosis pointers ----------------------------------------------------------------------


def test_pointer_beyond_the_claims_diagnoses_is_an_error(make):
    claim = make.claim(lines=[make.line("99213", pointers=[1, 3])], diagnoses=["J069", "R051"])
    [finding] = findings_of(claim, ScrubEdit.DIAGNOSIS_POINTER)
    assert finding.field == "lines[0].diagnosis_pointers"
    assert "diagnosis 3" in finding.message


def test_repeated_pointer_is_an_error(make):
    claim = make.claim(lines=[make.line("99213", pointers=[1, 1])])
    [finding] = findings_of(claim, ScrubEdit.DIAGNOSIS_POINTER)
    assert "repeats" in finding.message


def test_more_than_four_pointers_is_an_error(make):
    claim = make.claim(diagnoses=["J069", "R051", "R509", "R0602", "R52"])
    line = claim.lines[0].model_copy(update={"diagnosis_pointers": [1, 2, 3, 4, 5]})
    claim = claim.model_copy(update={"lines": (line,)})
    [finding] = findings_of(claim, ScrubEdit.DIAGNOSIS_POINTER)
    assert "at most 4" in finding.message


def test_line_without_pointers_is_an_error(make):
    claim = make.claim()
    claim = claim.model_copy(
        update={"lines": (claim.lines[0].model_copy(update={"diagnosis_pointers": []}),)}
    )
    [finding] = findings_of(claim, ScrubEdit.DIAGNOSIS_POINTER)
    assert "no diagnosis" in finding.message


# --- subscriber and payer --------------------------------------------------------------------


def test_dependent_without_subscriber_name_is_an_error(make):
    child = make.coverage(relationship=SubscriberRelationship.CHILD)
    [finding] = findings_of(make.claim(coverage=child), ScrubEdit.SUBSCRIBER)
    assert finding.field == "subscriber"


def test_dependent_with_subscriber_name_passes(make):
    child = make.coverage(relationship=SubscriberRelationship.CHILD)
    claim = make.claim(coverage=child, subscriber=Subscriber(first_name="Maria", last_name="Lopez"))
    assert scrub_claim(claim, today=TODAY) == []


def test_blank_member_id_is_an_error(make):
    claim = make.claim()
    claim = claim.model_copy(
        update={"coverage": claim.coverage.model_copy(update={"member_id": " "})}
    )
    assert [f.field for f in findings_of(claim, ScrubEdit.SUBSCRIBER)] == ["coverage.member_id"]


def test_blank_payer_id_is_an_error(make):
    claim = make.claim()
    payer = claim.coverage.payer.model_copy(update={"payer_id": ""})
    claim = claim.model_copy(
        update={"coverage": claim.coverage.model_copy(update={"payer": payer})}
    )
    assert [f.field for f in findings_of(claim, ScrubEdit.PAYER)] == ["coverage.payer.payer_id"]


def test_billing_provider_needs_a_nine_digit_zip(make):
    providers = make.providers()
    billing = providers.billing.model_copy(update={"address": make.address(postal_code="02110")})
    claim = make.claim(providers=providers.model_copy(update={"billing": billing}))
    [finding] = findings_of(claim, ScrubEdit.BILLING_PROVIDER_ADDRESS)
    assert finding.field == "providers.billing.address.postal_code"


def test_replacement_claim_must_name_the_original_claim(make):
    claim = make.claim(frequency_code="7")
    assert [f.field for f in findings_of(claim, ScrubEdit.ORIGINAL_CLAIM)] == [
        "original_claim_number"
    ]
    fixed = claim.model_copy(update={"original_claim_number": "PAYER-CLAIM-9"})
    assert findings_of(fixed, ScrubEdit.ORIGINAL_CLAIM) == []


# --- MUE -------------------------------------------------------------------------------------


def test_units_over_the_mue_limit_are_an_error(make):
    claim = make.claim(lines=[make.line("97110", units=7)])
    [finding] = findings_of(claim, ScrubEdit.MUE)
    assert finding.field == "lines[0].units"
    assert "7 units of 97110" in finding.message and "limit of 6" in finding.message


def test_units_at_the_mue_limit_pass(make):
    assert findings_of(make.claim(lines=[make.line("97110", units=6)]), ScrubEdit.MUE) == []


def test_mue_adds_up_units_of_one_code_on_one_day(make):
    claim = make.claim(
        lines=[make.line("97110", units=4), make.line("97110", units=3, modifiers=["GP"])]
    )
    assert len(findings_of(claim, ScrubEdit.MUE)) == 1


def test_mue_counts_each_date_of_service_separately(make):
    claim = make.claim(
        lines=[
            make.line("97110", units=4, service_date=date(2025, 3, 10)),
            make.line("97110", units=4, service_date=date(2025, 3, 11)),
        ]
    )
    assert findings_of(claim, ScrubEdit.MUE) == []


def test_payer_specific_mue_table_overrides_the_default(make):
    strict = replace(ScrubRules.load(), mue={"97110": 2})
    claim = make.claim(lines=[make.line("97110", units=3)])
    assert len(findings_of(claim, ScrubEdit.MUE, rules=strict)) == 1


# --- NCCI procedure-to-procedure -------------------------------------------------------------


def test_em_visit_bundled_into_a_procedure_is_an_error_without_modifier_25(make):
    claim = make.claim(lines=[make.line("20610"), make.line("99213")])
    [finding] = findings_of(claim, ScrubEdit.NCCI_PTP)
    assert finding.field == "lines[1].code"
    assert "99213" in finding.message and "20610" in finding.message


def test_modifier_25_on_the_em_visit_lets_the_pair_through(make):
    claim = make.claim(lines=[make.line("20610"), make.line("99213", modifiers=["25"])])
    assert findings_of(claim, ScrubEdit.NCCI_PTP) == []


def test_modifier_59_does_not_bypass_a_pair_for_an_em_visit(make):
    claim = make.claim(lines=[make.line("20610"), make.line("99213", modifiers=["59"])])
    assert len(findings_of(claim, ScrubEdit.NCCI_PTP)) == 1


@pytest.mark.parametrize("modifier", ["59", "XE", "XS", "XP", "XU"])
def test_distinct_service_modifier_on_column_two_procedure_lets_the_pair_through(make, modifier):
    claim = make.claim(lines=[make.line("11102"), make.line("12001", modifiers=[modifier])])
    assert findings_of(claim, ScrubEdit.NCCI_PTP) == []


def test_modifier_25_does_not_bypass_a_pair_for_a_procedure(make):
    claim = make.claim(lines=[make.line("11102"), make.line("12001", modifiers=["25"])])
    assert len(findings_of(claim, ScrubEdit.NCCI_PTP)) == 1


def test_modifier_on_the_column_one_line_does_not_bypass_the_pair(make):
    claim = make.claim(lines=[make.line("11102", modifiers=["59"]), make.line("12001")])
    assert len(findings_of(claim, ScrubEdit.NCCI_PTP)) == 1


def test_indicator_zero_pair_is_an_error_even_with_modifier_59(make):
    claim = make.claim(
        claim_lines=[make.claim_line("93000"), make.claim_line("93010", number=2, modifiers=["59"])]
    )
    [finding] = findings_of(claim, ScrubEdit.NCCI_PTP)
    assert "no modifier allows the pair" in finding.message


def test_pair_on_different_dates_is_not_an_ncci_conflict(make):
    claim = make.claim(
        lines=[
            make.line("20610", service_date=date(2025, 3, 10)),
            make.line("99213", service_date=date(2025, 3, 11)),
        ]
    )
    assert findings_of(claim, ScrubEdit.NCCI_PTP) == []


def test_deleted_pair_applies_only_to_services_before_its_deletion(make):
    # The sample pair 29125/97140 was deleted at the end of 2012.
    def claim_on(day):
        lines = [make.line("29125", service_date=day), make.line("97140", service_date=day)]
        return make.claim(lines=lines)

    assert (
        len(findings_of(claim_on(date(2011, 6, 1)), ScrubEdit.NCCI_PTP, today=date(2011, 7, 1)))
        == 1
    )
    assert findings_of(claim_on(date(2025, 3, 10)), ScrubEdit.NCCI_PTP) == []


def test_ncci_table_with_an_unknown_modifier_indicator_is_refused(tmp_path):
    ptp = tmp_path / "ptp.txt"
    ptp.write_text(
        "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\t"
        "Deletion Date *=no data\tModifier 0=not allowed 1=allowed 9=not applicable\t"
        "PTP Edit Rationale\n20610\t99213\t\t20140101\t*\t2\tStandards\n"
    )
    with pytest.raises(RuleTableError, match="modifier indicator"):
        ScrubRules.load(ncci_ptp_file=ptp)


# --- timely filing and dates -----------------------------------------------------------------


def test_service_more_than_twelve_months_old_is_past_timely_filing(make):
    claim = make.claim(lines=[make.line("99213", service_date=date(2024, 3, 31))])
    [finding] = findings_of(claim, ScrubEdit.TIMELY_FILING, today=date(2025, 4, 1))
    assert finding.severity is Severity.ERROR
    assert finding.field == "lines[0].service_date"


def test_service_exactly_twelve_months_old_can_still_be_filed_but_warns(make):
    claim = make.claim(lines=[make.line("99213", service_date=date(2024, 4, 1))])
    [finding] = findings_of(claim, ScrubEdit.TIMELY_FILING, today=date(2025, 4, 1))
    assert finding.severity is Severity.WARNING
    assert is_clean([finding])


def test_recent_service_has_no_timely_filing_finding(make):
    claim = make.claim(lines=[make.line("99213", service_date=date(2025, 3, 10))])
    assert findings_of(claim, ScrubEdit.TIMELY_FILING) == []


def test_filing_deadline_of_a_leap_day_service_is_the_end_of_february():
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)


def test_service_dated_in_the_future_is_an_error(make):
    claim = make.claim(lines=[make.line("99213", service_date=date(2025, 4, 2))])
    [finding] = findings_of(claim, ScrubEdit.SERVICE_DATE, today=date(2025, 4, 1))
    assert "future" in finding.message


# --- duplicates and charges ------------------------------------------------------------------


def test_identical_lines_on_the_same_day_are_duplicates(make):
    claim = make.claim(
        lines=[make.line("97110", modifiers=["GP"]), make.line("97110", modifiers=["GP"])]
    )
    [finding] = findings_of(claim, ScrubEdit.DUPLICATE_LINE)
    assert finding.field == "lines[1]"
    assert "repeats line 1" in finding.message


def test_modifier_order_does_not_hide_a_duplicate(make):
    claim = make.claim(
        lines=[
            make.line("97110", modifiers=["GP", "59"]),
            make.line("97110", modifiers=["59", "GP"]),
        ]
    )
    assert len(findings_of(claim, ScrubEdit.DUPLICATE_LINE)) == 1


def test_same_code_with_different_modifiers_is_not_a_duplicate(make):
    claim = make.claim(
        lines=[make.line("97110", modifiers=["GP"]), make.line("97110", modifiers=["GP", "59"])]
    )
    assert findings_of(claim, ScrubEdit.DUPLICATE_LINE) == []


def test_total_that_is_not_the_sum_of_lines_is_an_error(make):
    claim = make.claim(total_charge=Decimal("1.00"))
    [finding] = findings_of(claim, ScrubEdit.CHARGES)
    assert finding.field == "total_charge"


def test_zero_charge_line_is_an_error(make):
    claim = make.claim(claim_lines=[make.claim_line("99213", charge="0.00")])
    assert [f.field for f in findings_of(claim, ScrubEdit.CHARGES)] == ["lines[0].charge"]


def test_claim_without_diagnoses_breaks_the_claim_limits(make):
    claim = make.claim().model_copy(update={"diagnoses": ()})
    assert [f.field for f in findings_of(claim, ScrubEdit.CLAIM_LIMITS)] == ["diagnoses"]


def test_claim_with_more_than_fifty_lines_breaks_the_claim_limits(make):
    line = make.claim_line("97110")
    lines = tuple(line.model_copy(update={"line_number": n}) for n in range(1, 52))
    claim = make.claim(claim_lines=lines)
    assert [f.field for f in findings_of(claim, ScrubEdit.CLAIM_LIMITS)] == ["lines"]


# --- the verdict ---------------------------------------------------------------------------


def test_one_error_makes_the_claim_unclean(make):
    findings = scrub_claim(make.claim(lines=[make.line("97110", units=9)]), today=TODAY)
    assert not is_clean(findings)


def test_every_finding_says_which_edit_and_field_it_comes_from(make):
    claim = make.claim(
        lines=[make.line("20610"), make.line("99213", pointers=[9], units=2)],
        diagnoses=("M1711", "J069"),
    )
    findings = scrub_claim(claim, today=TODAY)
    assert {f.edit for f in findings} == {
        ScrubEdit.NCCI_PTP,
        ScrubEdit.DIAGNOSIS_POINTER,
        ScrubEdit.MUE,
    }
    assert all(f.field and f.message and f.hint for f in findings)
