from dataclasses import replace
from datetime import date

import pytest

from claimflow_claims.adapters.x12.reader_999 import read_999
from claimflow_claims.adapters.x12.writer_837p import UnwritableClaim, write_837p
from claimflow_claims.domain import AckStatus, Subscriber
from claimflow_shared.events.models import SubscriberRelationship
from claimflow_shared.x12 import read_segments


def segments(text):
    return [list(segment.elements) for segment in read_segments(text)]


def with_id(text, segment_id, *qualifiers):
    return [
        elements
        for elements in segments(text)
        if elements[0] == segment_id and tuple(elements[1 : 1 + len(qualifiers)]) == qualifiers
    ]


@pytest.fixture
def write(envelope, submitter, receiver):
    def write(claims):
        return write_837p(claims, envelope=envelope, submitter=submitter, receiver=receiver)

    return write


@pytest.fixture
def dependent_claim(make):
    return make.claim(
        claim_id="CLM-CHILD",
        patient=make.patient(first_name="Sam", last_name="Lopez"),
        coverage=make.coverage(relationship=SubscriberRelationship.CHILD),
        subscriber=Subscriber(first_name="Maria", last_name="Lopez"),
    )


# --- pyx12, the implementation-guide oracle ------------------------------------------------


def test_single_claim_file_passes_pyx12(make, write, pyx12_validate):
    claim = make.claim(
        lines=[
            make.line("99213", modifiers=["25"], pointers=[1, 2]),
            make.line("20610", pointers=[2]),
            make.line("J3301", units=4, pointers=[2]),
        ]
    )
    verdict = pyx12_validate(write([claim]))
    assert verdict.ok, verdict.report()


def test_multi_claim_file_for_two_billing_providers_passes_pyx12(
    make, write, pyx12_validate, dependent_claim
):
    other = make.providers(billing_npi=make.npi("155555555"), billing_name="Bay Urgent Care")
    claims = [
        make.claim(claim_id="CLM-1"),
        make.claim(claim_id="CLM-2", providers=other, lines=[make.line("99284")]),
        make.claim(claim_id="CLM-3", lines=[make.line("97110", units=3), make.line("97140")]),
        dependent_claim,
    ]
    verdict = pyx12_validate(write(claims))
    assert verdict.ok, verdict.report()


def test_dependent_patient_file_passes_pyx12(write, pyx12_validate, dependent_claim):
    verdict = pyx12_validate(write([dependent_claim]))
    assert verdict.ok, verdict.report()


def test_replacement_claim_file_passes_pyx12(make, write, pyx12_validate):
    claim = make.claim(frequency_code="7", original_claim_number="PAYER-2025-000123")
    text = write([claim])
    verdict = pyx12_validate(text)
    assert verdict.ok, verdict.report()
    assert with_id(text, "CLM")[0][5] == "11:B:7"
    assert with_id(text, "REF", "F8") == [["REF", "F8", "PAYER-2025-000123"]]


def test_names_with_delimiters_and_accents_are_sanitised(make, write, pyx12_validate):
    claim = make.claim(
        patient=make.patient(first_name="José:Ana", last_name="O~Brien*Núñez"),
        providers=make.providers(billing_name="Harbor ^ Family * Medicine"),
    )
    text = write([claim])
    verdict = pyx12_validate(text)
    assert verdict.ok, verdict.report()
    [subscriber] = with_id(text, "NM1", "IL")
    assert subscriber[3:5] == ["O BRIEN NUNEZ", "JOSE ANA"]
    assert with_id(text, "NM1", "85")[0][3] == "HARBOR FAMILY MEDICINE"
    assert text.isascii()


def test_pyx12_helper_catches_a_broken_file(make, write, pyx12_validate):
    text = write([make.claim()])
    broken = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("N4*"))
    verdict = pyx12_validate(broken)
    assert not verdict.ok
    assert any("N4" in finding for finding in verdict.findings)


def test_pyx12_999_for_our_file_reads_as_accepted(make, write, pyx12_validate, envelope):
    verdict = pyx12_validate(write([make.claim()]))
    ack = read_999(verdict.ack_999)
    ts = ack.for_transaction(
        group_control_number=str(envelope.group_control_number), control_number="0001"
    )
    assert ts is not None and ts.status is AckStatus.ACCEPTED


def test_pyx12_999_for_a_broken_file_reads_as_rejected_with_the_segment(
    make, write, pyx12_validate
):
    text = write([make.claim()])
    broken = text.replace("DMG*D8*19800615*F~", "DMG*D8*19801315*F~")
    ack = read_999(pyx12_validate(broken).ack_999)
    [ts] = ack.transaction_sets
    assert ts.status is AckStatus.REJECTED
    [error] = ts.segment_errors
    assert error.segment_id == "DMG"
    assert [e.error_code for e in error.element_errors] == ["8"]
    assert any("invalid date" in reason for reason in ts.reasons())


# --- structure ----------------------------------------------------------------------------


def test_header_names_the_guide_the_submitter_and_the_receiver(make, write, envelope):
    text = write([make.claim()])
    assert with_id(text, "GS")[0][1] == "HC"
    assert with_id(text, "GS")[0][8] == "005010X222A1"
    assert with_id(text, "ST")[0] == ["ST", "837", "0001", "005010X222A1"]
    bht = with_id(text, "BHT")[0]
    assert bht[1:3] == ["0019", "00"] and bht[4:7] == ["20250312", "0930", "CH"]
    assert with_id(text, "NM1", "41")[0][-2:] == ["46", "CLAIMFLOW"]
    assert with_id(text, "PER")[0] == [
        "PER", "IC", "BILLING DESK", "TE", "6175550100", "EM", "edi@claimflow.example"
    ]  # fmt: skip
    assert with_id(text, "NM1", "40")[0][-2:] == ["46", "CLEARHOUSE"]


def test_claims_of_one_billing_provider_share_one_2000a_loop(make, write):
    other = make.providers(billing_npi=make.npi("155555555"), billing_name="Bay Urgent Care")
    claims = [
        make.claim(claim_id="CLM-1"),
        make.claim(claim_id="CLM-2", providers=other),
        make.claim(claim_id="CLM-3"),
    ]
    text = write(claims)
    hls = with_id(text, "HL")
    billing_levels = [hl for hl in hls if hl[3] == "20"]
    assert len(billing_levels) == 2
    order = [e[1] for e in segments(text) if e[0] == "CLM"]
    assert order == ["CLM-1", "CLM-3", "CLM-2"]
    # Each subscriber level points at its own billing provider level.
    parents = [hl[2] for hl in hls if hl[3] == "22"]
    assert parents == [billing_levels[0][1], billing_levels[0][1], billing_levels[1][1]]


def test_subscriber_who_is_the_patient_has_no_patient_level(make, write):
    text = write([make.claim()])
    assert [hl[3:] for hl in with_id(text, "HL")] == [["20", "1"], ["22", "0"]]
    assert with_id(text, "SBR")[0][1:4] == ["P", "18", "GRP-77"]
    assert with_id(text, "SBR")[0][9] == "CI"
    assert with_id(text, "DMG")[0] == ["DMG", "D8", "19800615", "F"]
    assert with_id(text, "PAT") == []


def test_dependent_gets_a_patient_level_under_the_subscriber(write, dependent_claim):
    text = write([dependent_claim])
    hls = with_id(text, "HL")
    assert [hl[3:] for hl in hls] == [["20", "1"], ["22", "1"], ["23", "0"]]
    assert hls[2][2] == hls[1][1]
    assert with_id(text, "SBR")[0][2] == ""
    assert with_id(text, "NM1", "IL")[0][3:5] == ["LOPEZ", "MARIA"]
    assert with_id(text, "PAT") == [["PAT", "19"]]
    assert with_id(text, "NM1", "QC")[0][3:5] == ["LOPEZ", "SAM"]
    # Only the patient's demographics are sent; the subscriber's stay out of 2010BA.
    assert len(with_id(text, "DMG")) == 1


def test_dependent_without_a_known_subscriber_cannot_be_written(make, write):
    claim = make.claim(coverage=make.coverage(relationship=SubscriberRelationship.SPOUSE))
    with pytest.raises(UnwritableClaim, match="CLM-1001"):
        write([claim])


def test_claim_segment_carries_place_of_service_and_frequency(make, write):
    text = write([make.claim(lines=[make.line("99213"), make.line("36415")])])
    assert with_id(text, "CLM")[0] == [
        "CLM",
        "CLM-1001",
        "107.5",
        "",
        "",
        "11:B:1",
        "Y",
        "A",
        "Y",
        "Y",
    ]


def test_first_diagnosis_is_principal_and_the_rest_are_secondary(make, write):
    text = write([make.claim(diagnoses=["J069", "R051", "R509"])])
    assert with_id(text, "HI")[0] == ["HI", "ABK:J069", "ABF:R051", "ABF:R509"]


def test_service_line_carries_modifiers_charge_units_pointers_and_date(make, write):
    claim = make.claim(
        lines=[make.line("97110", modifiers=["GP", "59"], units=2, pointers=[2, 1])],
        diagnoses=["M545", "M6281"],
    )
    text = write([claim])
    assert with_id(text, "LX") == [["LX", "1"]]
    assert with_id(text, "SV1")[0] == ["SV1", "HC:97110:GP:59", "82", "UN", "2", "", "", "2:1"]
    assert with_id(text, "DTP", "472")[0] == ["DTP", "472", "D8", "20250310"]


def test_rendering_provider_is_named_when_not_the_billing_provider(make, write):
    text = write([make.claim()])
    [rendering] = with_id(text, "NM1", "82")
    assert rendering[3:5] == ["CHEN", "LEE"] and rendering[-2:] == ["XX", make.npi("198765432")]
    assert with_id(text, "PRV") == [["PRV", "PE", "PXC", "207Q00000X"]]


def test_billing_provider_who_rendered_the_care_has_no_rendering_loop(make, write):
    providers = make.providers(rendering_npi="1234567893")
    text = write([make.claim(providers=providers)])
    assert with_id(text, "NM1", "82") == []
    assert with_id(text, "PRV") == [["PRV", "BI", "PXC", "207Q00000X"]]


def test_billing_provider_loop_has_npi_address_and_tax_id(make, write):
    text = write([make.claim()])
    assert with_id(text, "NM1", "85")[0][-2:] == ["XX", "1234567893"]
    assert ["N4", "BOSTON", "MA", "021101234"] in segments(text)
    assert with_id(text, "REF", "EI") == [["REF", "EI", "041234567"]]


def test_segment_count_in_se_matches_the_transaction(make, write):
    text = write([make.claim(), make.claim(claim_id="CLM-2")])
    elements = segments(text)
    start = next(i for i, e in enumerate(elements) if e[0] == "ST")
    end = next(i for i, e in enumerate(elements) if e[0] == "SE")
    assert elements[end][1] == str(end - start + 1)


def test_file_without_line_breaks_is_one_line(make, envelope, submitter, receiver):
    text = write_837p(
        [make.claim()], envelope=envelope, submitter=submitter, receiver=receiver, line_breaks=False
    )
    assert "\n" not in text and text.endswith("~")


def test_envelope_for_another_transaction_is_refused(make, envelope, submitter, receiver):
    wrong = replace(envelope, version="005010X223A2")
    with pytest.raises(ValueError, match="005010X222A1"):
        write_837p([make.claim()], envelope=wrong, submitter=submitter, receiver=receiver)


def test_empty_claim_list_is_refused(envelope, submitter, receiver):
    with pytest.raises(ValueError, match="at least one claim"):
        write_837p([], envelope=envelope, submitter=submitter, receiver=receiver)


def test_service_dates_are_written_as_d8(make, write):
    claim = make.claim(lines=[make.line("99213", service_date=date(2025, 1, 2))])
    assert with_id(write([claim]), "DTP", "472")[0][3] == "20250102"


def test_claim_id_keeps_its_case_so_acknowledgments_match_it(make, write):
    text = write([make.claim(claim_id="clm-2025-a1")])
    assert with_id(text, "CLM")[0][1] == "clm-2025-a1"


def test_claim_with_more_than_twelve_diagnoses_cannot_be_written(make, write):
    claim = make.claim().model_copy(update={"diagnoses": ("J069",) * 13})
    with pytest.raises(UnwritableClaim, match="1-12 diagnoses"):
        write([claim])
