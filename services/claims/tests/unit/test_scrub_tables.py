"""The scrubber's newer edits and the CMS-layout table loaders."""

from datetime import date
from decimal import Decimal

import pytest

from claimflow_claims.domain import RuleTableError, ScrubEdit, ScrubRules, Severity, scrub_claim
from claimflow_claims.domain.scrub_tables import parse_mue, parse_ncci_ptp
from claimflow_claims.domain.scrubber import PriorClaim, find_duplicate_claims
from claimflow_claims.domain.states import ClaimState
from claimflow_shared.events.models import Sex

TODAY = date(2025, 4, 1)

CMS_PTP = (
    "CPT only copyright 2024 American Medical Association. All rights reserved.\n"
    "\n"
    "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\t"
    "Deletion Date *=no data\tModifier 0=not allowed 1=allowed 9=not applicable\t"
    "PTP Edit Rationale\n"
    "99213\t36415\t\t20100101\t*\t0\tMisuse of column two code with column one code\n"
    "93000\t93005\t*\t19960101\t20201231\t9\tCPT Manual or CMS manual coding instructions\n"
)
CMS_MUE = (
    "HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale\n"
    "A4550,3,1 Line Edit,Clinical: Data\n"
    "97110,4,3 Date of Service Edit: Clinical,Clinical: Data\n"
)


def findings_of(claim, edit, *, rules=None, prior_claims=(), today=TODAY):
    found = scrub_claim(claim, today=today, rules=rules, prior_claims=prior_claims)
    return [f for f in found if f.edit is edit]


def test_cms_ptp_file_with_its_preamble_and_tabs_loads():
    pairs = parse_ncci_ptp(CMS_PTP)
    [pair] = pairs[("99213", "36415")]
    assert (pair.modifier_indicator, pair.effective, pair.deleted) == ("0", date(2010, 1, 1), None)
    [old] = pairs[("93000", "93005")]
    assert old.deleted == date(2020, 12, 31) and not old.in_force(date(2019, 1, 1))


def test_cms_mue_file_loads_line_and_date_of_service_edits():
    limits = parse_mue(CMS_MUE)
    assert limits["A4550"].per_line and limits["A4550"].max_units == 3
    assert not limits["97110"].per_line


def test_file_without_the_cms_header_is_refused():
    with pytest.raises(RuleTableError, match="Column 1"):
        parse_ncci_ptp("code1,code2\n99213,36415\n")


def test_real_cms_files_drop_in_for_the_shipped_tables(tmp_path, make):
    ptp, mue = tmp_path / "ptp.txt", tmp_path / "mue.csv"
    ptp.write_text(CMS_PTP)
    mue.write_text(CMS_MUE)
    rules = ScrubRules.load(ncci_ptp_file=ptp, mue_file=mue)
    claim = make.claim(lines=[make.line("99213"), make.line("36415")])
    assert len(findings_of(claim, ScrubEdit.NCCI_PTP, rules=rules)) == 1


def test_line_edit_mue_counts_each_line_on_its_own(make):
    rules = ScrubRules.load()
    two_lines = make.claim(
        lines=[make.line("A4550", units=3), make.line("A4550", units=3, modifiers=["RT"])]
    )
    assert findings_of(two_lines, ScrubEdit.MUE, rules=rules) == []
    one_line = make.claim(lines=[make.line("A4550", units=4)])
    [finding] = findings_of(one_line, ScrubEdit.MUE, rules=rules)
    assert "on one line" in finding.message


def test_procedure_without_a_supporting_diagnosis_fails_medical_necessity(make):
    claim = make.claim(lines=[make.line("93000")], diagnoses=("J069",))
    [finding] = findings_of(claim, ScrubEdit.MEDICAL_NECESSITY)
    assert finding.field == "lines[0].diagnosis_pointers" and "GA" in finding.hint


def test_procedure_pointing_at_a_covered_diagnosis_passes_medical_necessity(make):
    claim = make.claim(lines=[make.line("93000", pointers=[2])], diagnoses=("J069", "R079"))
    assert findings_of(claim, ScrubEdit.MEDICAL_NECESSITY) == []


def test_pregnancy_diagnosis_for_a_male_patient_is_an_age_sex_conflict(make):
    patient = make.patient().model_copy(update={"sex": Sex.MALE})
    claim = make.claim(patient=patient, diagnoses=("O800",))
    [finding] = findings_of(claim, ScrubEdit.AGE_SEX)
    assert finding.field == "diagnoses[0]" and "female" in finding.message


def test_newborn_diagnosis_for_an_adult_is_an_age_sex_conflict(make):
    claim = make.claim(diagnoses=("P599",))
    [finding] = findings_of(claim, ScrubEdit.AGE_SEX)
    assert "ages 0 to 0" in finding.message


def test_unknown_taxonomy_is_an_error(make):
    providers = make.providers(taxonomy="999Z00000X")
    [finding] = findings_of(make.claim(providers=providers), ScrubEdit.TAXONOMY)
    assert finding.field == "providers.rendering.taxonomy"


def prior(claim, **changes):
    values = dict(
        claim_id="OLD-1",
        patient_mrn=claim.patient.mrn,
        payer_id=claim.coverage.payer.payer_id,
        billing_npi=claim.providers.billing.npi,
        state=ClaimState.ACCEPTED,
        service_dates=frozenset(line.service_date for line in claim.lines),
        procedure_codes=frozenset(line.code for line in claim.lines),
        total_charge=claim.total_charge,
        payer_claim_number="ICN-1",
    )
    return PriorClaim(**{**values, **changes})


def test_same_services_already_billed_are_a_duplicate_claim(make):
    claim = make.claim()
    [finding] = findings_of(claim, ScrubEdit.DUPLICATE_CLAIM, prior_claims=[prior(claim)])
    assert "OLD-1" in finding.message and "frequency 7" in finding.hint


@pytest.mark.parametrize(
    "changes",
    [
        {"state": ClaimState.VOIDED},
        {"state": ClaimState.REJECTED},
        {"claim_id": "CLM-1001"},
        {"payer_id": "OTHER"},
        {"service_dates": frozenset({date(2025, 1, 1)})},
        {"procedure_codes": frozenset({"99999"})},
    ],
)
def test_claims_that_are_not_the_same_services_on_file_are_not_duplicates(make, changes):
    claim = make.claim()
    assert find_duplicate_claims(claim, [prior(claim, **changes)]) == []


def test_void_of_an_original_the_payer_does_not_have_on_file_is_an_error(make):
    claim = make.claim(frequency_code="8", original_claim_number="ICN-1")
    sent = prior(claim, state=ClaimState.SUBMITTED)
    [finding] = findings_of(claim, ScrubEdit.FREQUENCY, prior_claims=[sent])
    assert finding.field == "frequency_code"


def test_replacing_an_original_another_replacement_took_the_place_of_is_an_error(make):
    claim = make.claim(frequency_code="7", original_claim_number="ICN-1")
    corrected = prior(claim, state=ClaimState.CORRECTED)
    [finding] = findings_of(claim, ScrubEdit.FREQUENCY, prior_claims=[corrected])
    assert finding.field == "original_claim_number" and "replacement" in finding.hint


def test_void_of_a_paid_original_passes(make):
    claim = make.claim(frequency_code="8", original_claim_number="ICN-1")
    paid = prior(claim, state=ClaimState.PAID)
    assert findings_of(claim, ScrubEdit.FREQUENCY, prior_claims=[paid]) == []
    assert findings_of(claim, ScrubEdit.DUPLICATE_CLAIM, prior_claims=[paid]) == []


def test_payer_timely_filing_days_replace_the_twelve_month_default(make):
    coverage = make.coverage(payer_id="SIMPAYER1")
    claim = make.claim(coverage=coverage, lines=[make.line("99213", service_date=date(2024, 9, 1))])
    [finding] = findings_of(claim, ScrubEdit.TIMELY_FILING)
    assert "180 days" in finding.message and finding.severity is Severity.ERROR


def test_payer_override_downgrades_an_edit_to_a_warning(make):
    providers = make.providers()
    billing = providers.billing.model_copy(update={"address": make.address(postal_code="02110")})
    providers = providers.model_copy(update={"billing": billing})
    default = make.claim(providers=providers)
    lenient = make.claim(providers=providers, coverage=make.coverage(payer_id="SIMPAYER1"))
    [strict] = findings_of(default, ScrubEdit.BILLING_PROVIDER_ADDRESS)
    [relaxed] = findings_of(lenient, ScrubEdit.BILLING_PROVIDER_ADDRESS)
    assert (strict.severity, relaxed.severity) == (Severity.ERROR, Severity.WARNING)


def test_institutional_claim_needs_revenue_codes_on_every_line(make):
    from claimflow_claims.domain import AttendingProvider, InstitutionalDetails

    details = InstitutionalDetails(
        facility_type="13",
        attending=AttendingProvider(npi="1234567893", first_name="A", last_name="B"),
    )
    claim = make.claim().model_copy(update={"claim_type": "837I", "institutional": details})
    [finding] = findings_of(claim, ScrubEdit.INSTITUTIONAL)
    assert finding.field == "lines[0].revenue_code"
    assert claim.total_charge > Decimal(0)
