"""The 837I writer: type of bill, the stay, revenue lines, facility codes, and COB loops."""

from dataclasses import replace
from datetime import date, datetime, time
from decimal import Decimal

import pytest

from claimflow_claims.adapters.x12.writer_837i import write_837i
from claimflow_claims.adapters.x12.writer_837p import UnwritableClaim, write_837p
from claimflow_claims.domain import (
    AttendingProvider,
    InstitutionalDetails,
    OtherPayer,
    PriorAdjustment,
    PriorLinePayment,
    build_claim,
)
from claimflow_claims.domain.institutional import OccurrenceCode, PcsProcedure, ValueCode
from claimflow_shared.codes import AdjustmentGroup
from claimflow_shared.events.models import CoveragePriority
from claimflow_shared.x12 import read_segments


def segments(text):
    return [list(segment.elements) for segment in read_segments(text)]


def with_id(text, segment_id, *qualifiers):
    return [
        e
        for e in segments(text)
        if e[0] == segment_id and tuple(e[1 : 1 + len(qualifiers)]) == qualifiers
    ]


@pytest.fixture
def envelope_i(envelope):
    return replace(envelope, version="005010X223A2")


@pytest.fixture
def write(envelope_i, submitter, receiver):
    def write(claims):
        return write_837i(claims, envelope=envelope_i, submitter=submitter, receiver=receiver)

    return write


ATTENDING = AttendingProvider(
    npi="1234567893", first_name="Lee", last_name="Chen", taxonomy="207R00000X"
)


def inpatient_details(**changes):
    values = dict(
        facility_type="11",
        admission_type="1",
        admission_source="7",
        patient_status="01",
        admitted_at=datetime(2025, 3, 8, 22, 15),
        discharge_hour=time(11, 0),
        admitting_diagnosis="R079",
        present_on_admission=("Y", "N"),
        principal_procedure=PcsProcedure(code="02703ZZ", performed_on=date(2025, 3, 9)),
        other_procedures=(PcsProcedure(code="3E0234Z", performed_on=date(2025, 3, 9)),),
        occurrence_codes=(OccurrenceCode(code="11", on=date(2025, 3, 8)),),
        value_codes=(ValueCode(code="80", amount=Decimal("2")),),
        condition_codes=("07",),
        attending=ATTENDING,
        operating=AttendingProvider(npi="1234567893", first_name="Ana", last_name="Ruiz"),
    )
    return InstitutionalDetails(**{**values, **changes})


@pytest.fixture
def inpatient(make):
    coded = make.coded(
        lines=[make.line("93000", service_date=date(2025, 3, 9)), make.line("80053")],
        diagnoses=("I214", "E119"),
    ).model_copy(update={"period_start": date(2025, 3, 8), "period_end": date(2025, 3, 10)})
    return build_claim(
        claim_id="CLM-IP1",
        tenant_id="acme",
        encounter_id="e1",
        coded=coded,
        fee_schedule=make.fee_schedule,
        claim_type="837I",
        institutional=inpatient_details(),
    )


def test_inpatient_claim_passes_pyx12(write, inpatient, pyx12_validate):
    verdict = pyx12_validate(write([inpatient]))
    assert verdict.ok and not verdict.findings, verdict.report()


def test_type_of_bill_goes_in_clm05_with_the_facility_qualifier(write, inpatient):
    [clm] = with_id(write([inpatient]), "CLM")
    assert clm[5] == "11:A:1" and inpatient.type_of_bill == "0111"


def test_stay_dates_discharge_hour_and_admission_are_dated(write, inpatient):
    text = write([inpatient])
    assert with_id(text, "DTP", "434") == [["DTP", "434", "RD8", "20250308-20250310"]]
    assert with_id(text, "DTP", "435") == [["DTP", "435", "DT", "202503082215"]]
    assert with_id(text, "DTP", "096") == [["DTP", "096", "TM", "1100"]]
    assert with_id(text, "CL1") == [["CL1", "1", "7", "01"]]


def test_health_care_codes_carry_poa_admitting_pcs_occurrence_value_condition(write, inpatient):
    his = [e[1:] for e in with_id(write([inpatient]), "HI")]
    assert his == [
        ["ABK:I214:::::::Y"],
        ["ABJ:R079"],
        ["ABF:E119:::::::N"],
        ["BBR:02703ZZ:D8:20250309"],
        ["BBQ:3E0234Z:D8:20250309"],
        ["BH:11:D8:20250308"],
        ["BE:80:::2"],
        ["BG:07"],
    ]


def test_lines_carry_revenue_codes_and_the_stay_is_billed_in_days(write, inpatient):
    sv2 = with_id(write([inpatient]), "SV2")
    assert sv2[0][:2] == ["SV2", "0730"] and sv2[0][2] == "HC:93000"
    assert sv2[-1] == ["SV2", "0120", "", "3700", "DA", "2"]
    assert inpatient.total_charge == sum(line.charge for line in inpatient.lines)


def test_attending_and_operating_providers_are_named(write, inpatient):
    text = write([inpatient])
    assert with_id(text, "NM1", "71")[0][3:5] == ["CHEN", "LEE"]
    assert with_id(text, "PRV", "AT") == [["PRV", "AT", "PXC", "207R00000X"]]
    assert with_id(text, "NM1", "72")[0][3:5] == ["RUIZ", "ANA"]


def test_outpatient_visit_names_reasons_for_visit_and_no_admission(make, write, pyx12_validate):
    details = InstitutionalDetails(
        facility_type="13", admission_type="1", reason_for_visit=("R079",), attending=ATTENDING
    )
    claim = make.claim(claim_id="CLM-ED").model_copy(
        update={"claim_type": "837I", "institutional": details}
    )
    claim = claim.model_copy(
        update={
            "lines": tuple(line.model_copy(update={"revenue_code": "0450"}) for line in claim.lines)
        }
    )
    text = write([claim])
    assert with_id(text, "HI", "APR:R079")
    assert with_id(text, "DTP", "435") == [] and with_id(text, "CL1") == [["CL1", "1", "", "01"]]
    verdict = pyx12_validate(text)
    assert verdict.ok and not verdict.findings, verdict.report()


def test_void_names_the_payers_claim_number(write, inpatient):
    void = inpatient.model_copy(update={"frequency_code": "8", "original_claim_number": "ICN77"})
    text = write([void])
    assert with_id(text, "CLM")[0][5] == "11:A:8"
    assert with_id(text, "REF", "F8") == [["REF", "F8", "ICN77"]]


def test_replacement_without_the_payers_claim_number_cannot_be_written(write, inpatient):
    with pytest.raises(UnwritableClaim, match="payer's claim number"):
        write([inpatient.model_copy(update={"frequency_code": "7"})])


def test_professional_claims_are_refused_by_the_837i_writer(make, write):
    with pytest.raises(UnwritableClaim, match="not an 837I"):
        write([make.claim()])


def test_institutional_claims_are_refused_by_the_837p_writer(
    inpatient, envelope, submitter, receiver
):
    with pytest.raises(UnwritableClaim, match="not an 837P"):
        write_837p([inpatient], envelope=envelope, submitter=submitter, receiver=receiver)


# --- coordination of benefits -------------------------------------------------------------


def primary_paid(make, claim, *, by_line: bool):
    line = claim.lines[0]
    return OtherPayer(
        coverage=make.coverage(payer_id="PRI01", priority=CoveragePriority.PRIMARY),
        claim_filing_indicator="MB",
        payer_claim_number="ICN-PRI-1",
        paid=Decimal("60.00"),
        adjudicated_on=date(2025, 4, 2),
        claim_adjustments=()
        if by_line
        else (
            PriorAdjustment(group=AdjustmentGroup.CONTRACTUAL, carc="45", amount=Decimal("38.00")),
        ),
        line_payments=(
            PriorLinePayment(
                line_number=line.line_number,
                paid=Decimal("60.00"),
                adjustments=(
                    PriorAdjustment(
                        group=AdjustmentGroup.CONTRACTUAL, carc="45", amount=Decimal("30.00")
                    ),
                    PriorAdjustment(
                        group=AdjustmentGroup.PATIENT_RESPONSIBILITY,
                        carc="2",
                        amount=Decimal("8.00"),
                    ),
                ),
                adjudicated_on=date(2025, 4, 2),
            ),
        )
        if by_line
        else (),
    )


def secondary(make, *, by_line: bool):
    claim = make.claim(
        coverage=make.coverage(payer_id="SEC01", priority=CoveragePriority.SECONDARY)
    )
    return claim.model_copy(update={"other_payers": (primary_paid(make, claim, by_line=by_line),)})


@pytest.mark.parametrize("by_line", [True, False])
def test_secondary_837p_with_the_primarys_payment_passes_pyx12(
    make, by_line, envelope, submitter, receiver, pyx12_validate
):
    text = write_837p(
        [secondary(make, by_line=by_line)],
        envelope=envelope,
        submitter=submitter,
        receiver=receiver,
    )
    verdict = pyx12_validate(text)
    assert verdict.ok and not verdict.findings, verdict.report()


def test_secondary_claim_reports_the_primary_in_2320_2330_and_2430(
    make, envelope, submitter, receiver
):
    text = write_837p(
        [secondary(make, by_line=True)], envelope=envelope, submitter=submitter, receiver=receiver
    )
    sbr = with_id(text, "SBR")
    assert [s[1] for s in sbr] == ["S", "P"] and sbr[1][9] == "MB"
    assert with_id(text, "AMT", "D") == [["AMT", "D", "60"]]
    assert with_id(text, "OI") == [["OI", "", "", "Y", "", "", "Y"]]
    assert with_id(text, "NM1", "PR")[1][-2:] == ["PI", "PRI01"]
    assert with_id(text, "REF", "F8") == [["REF", "F8", "ICN-PRI-1"]]
    assert with_id(text, "SVD") == [["SVD", "PRI01", "60", "HC:99213", "", "1"]]
    assert with_id(text, "CAS") == [["CAS", "CO", "45", "30"], ["CAS", "PR", "2", "8"]]
    assert with_id(text, "DTP", "573") == [["DTP", "573", "D8", "20250402"]]


def test_claim_level_only_adjudication_dates_the_other_payer_in_2330b(
    make, envelope, submitter, receiver
):
    text = write_837p(
        [secondary(make, by_line=False)], envelope=envelope, submitter=submitter, receiver=receiver
    )
    assert with_id(text, "SVD") == []
    assert with_id(text, "CAS") == [["CAS", "CO", "45", "38"]]
    assert with_id(text, "DTP", "573") == [["DTP", "573", "D8", "20250402"]]
