"""HL7 v2: DFT^P03 charges, ADT^A04/A08 registrations, and the ACK every message gets."""

from __future__ import annotations

from datetime import datetime

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message as hl7apy_parse

from claimflow_intake.domain.hl7 import (
    AckCode,
    MessageKind,
    Registration,
    answer,
    parse_message,
    read_message,
    registration_key,
    source_system_of,
    transient_failure_ack,
    unescape,
)
from services.intake.tests.unit.builders import (
    BILLING_NPI,
    RENDERING_NPI,
    TODAY,
    hl7_message,
    hl7_segment,
    hl7_segments,
)

NOW = datetime(2026, 10, 1, 12, 0, 5)


def _answer(message: str | bytes, registry, registration=None):
    return answer(
        message,
        registry=registry,
        source_system="hl7:ACMEHOSP",
        today=TODAY,
        now=NOW,
        registration=registration,
    )


def _ack(ack: str):
    """The ACK as hl7apy reads it, strictly validated against HL7 v2.5.1."""
    parsed = hl7apy_parse(ack, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert parsed.validate()
    return parsed


def _errors(ack: str) -> list[tuple[str, str, str]]:
    """(ERR-2 location, ERR-3 code, ERR-8 reason) of each ERR segment."""
    out = []
    for line in ack.split("\r"):
        if line.startswith("ERR|"):
            fields = line.split("|")
            out.append((fields[2], fields[3].split("^")[0], fields[8]))
    return out


def test_a_dft_p03_becomes_a_documented_encounter(registry):
    outcome, _ = _answer(hl7_message(hl7_segments()), registry)
    assert outcome.ack_code is AckCode.ACCEPT and outcome.kind is MessageKind.CHARGES
    e = outcome.encounter
    assert (e.source.system, e.source.document_id) == ("hl7:ACMEHOSP", "V-1001")
    assert (e.patient.mrn, e.patient.last_name, e.patient.first_name) == (
        "MRN0001",
        "Rivera",
        "Ava",
    )
    assert str(e.patient.birth_date) == "1980-02-29" and e.patient.sex == "F"
    assert e.patient.address.line2 == "Apt 3" and e.patient.address.state == "NC"
    [coverage] = e.coverages
    assert (coverage.payer.payer_id, coverage.member_id, coverage.group_number) == (
        "BCBS",
        "W123456789",
        "GRP-77",
    )
    assert coverage.relationship == "18"
    [diagnosis] = e.diagnoses
    assert diagnosis.code == "E11.9" and diagnosis.codings[0].system.value == "ICD-10-CM"
    [line] = e.procedures
    assert (line.code_system.value, line.code, line.modifiers, line.units) == (
        "CPT",
        "99213",
        ["25"],
        1,
    )
    assert line.diagnosis_sequences == [1]
    assert e.providers.rendering.npi == RENDERING_NPI and e.providers.billing.npi == BILLING_NPI
    assert str(e.period_start) == "2026-10-01" and e.encounter_class.value == "ambulatory"


def test_an_accepted_message_is_acked_aa_with_its_control_id(registry):
    _, ack = _answer(hl7_message(hl7_segments()), registry)
    parsed = _ack(ack)
    assert parsed.msa.msa_1.value == "AA" and parsed.msa.msa_2.value == "MSG0001"
    assert parsed.msh.msh_9.to_er7() == "ACK^P03^ACK"
    assert parsed.msh.msh_5.to_er7() == "EPIC" and parsed.msh.msh_6.to_er7() == "ACMEHOSP"


def test_a_future_birth_date_is_naked_naming_pid_7_without_the_value(registry):
    segments = hl7_segments()
    segments["PID"] = segments["PID"] | {7: "20310517"}
    outcome, ack = _answer(hl7_message(segments), registry)
    assert outcome.ack_code is AckCode.ERROR and outcome.encounter is None
    assert _errors(ack) == [("PID^1^7", "102", "birth date is in the future")]
    assert "2031" not in ack.split("\r", 1)[1]
    assert _ack(ack).msa.msa_1.value == "AE"


def test_a_missing_patient_identifier_is_a_required_field_error(registry):
    segments = hl7_segments()
    segments["PID"] = {k: v for k, v in segments["PID"].items() if k != 3}
    _, ack = _answer(hl7_message(segments), registry)
    assert ("PID^1^3", "101", "is required") in _errors(ack)


def test_an_unknown_payer_is_naked_at_in1_3(registry):
    segments = hl7_segments()
    segments["IN1"] = segments["IN1"] | {3: "ZZZ", 4: "Nowhere Health"}
    outcome, ack = _answer(hl7_message(segments), registry)
    assert outcome.ack_code is AckCode.ERROR
    [(where, code, reason)] = _errors(ack)
    assert (where, code) == ("IN1^1^3", "103") and "not a name or alias" in reason


def test_the_nth_repeated_segment_is_named_with_its_occurrence(registry):
    second = hl7_segment(
        "FT1", {1: "2", 4: "20261001", 6: "CG", 10: "x", 25: "36415^Venipuncture^C4"}
    )
    outcome, ack = _answer(hl7_message(hl7_segments(), second), registry)
    assert [p.location for p in outcome.problems] == ["FT1[2]-10"]
    assert _errors(ack)[0][0] == "FT1^2^10"


@pytest.mark.parametrize(
    ("change", "location", "code"),
    [
        ({9: "ORU^R01^ORU_R01"}, "MSH^1^9", "200"),
        ({12: "9.9"}, "MSH^1^12", "203"),
        ({11: "T"}, "MSH^1^11", "202"),
    ],
)
def test_what_intake_does_not_read_is_rejected_ar(change, location, code, registry):
    segments = hl7_segments()
    segments["MSH"] = segments["MSH"] | change
    outcome, ack = _answer(hl7_message(segments), registry)
    assert outcome.ack_code is AckCode.REJECT
    assert _errors(ack)[0][:2] == (location, code)
    assert _ack(ack).msa.msa_1.value == "AR"


@pytest.mark.parametrize("garbage", [b"", b"hello", b"MSH", b"PID|1||x", b"\x00\xff" * 10])
def test_what_is_not_hl7_still_gets_a_valid_ar(garbage, registry):
    outcome, ack = _answer(garbage, registry)
    assert outcome.ack_code is AckCode.REJECT
    assert _ack(ack).msa.msa_1.value == "AR"


def test_a_control_character_in_a_field_is_naked_at_that_field(registry):
    segments = hl7_segments()
    segments["PID"] = segments["PID"] | {5: "Riv\x07era^Ava"}
    outcome, _ = _answer(hl7_message(segments), registry)
    assert [(p.location, p.reason) for p in outcome.problems] == [
        ("PID-5", "contains a control character")
    ]


def test_a_credit_cancels_an_earlier_charge_of_the_same_code(registry):
    lab = hl7_segment("FT1", {1: "2", 4: "20261001", 6: "CG", 10: "1", 25: "36415^Venipuncture^C4"})
    credit = hl7_segment(
        "FT1", {1: "3", 4: "20261001", 6: "CD", 10: "1", 25: "36415^Venipuncture^C4"}
    )
    outcome, _ = _answer(hl7_message(hl7_segments(), lab, credit), registry)
    assert [p.code for p in outcome.encounter.procedures] == ["99213"]


def test_a_credit_without_its_charge_is_an_error(registry):
    credit = hl7_segment(
        "FT1", {1: "2", 4: "20261001", 6: "CD", 10: "1", 25: "36415^Venipuncture^C4"}
    )
    outcome, _ = _answer(hl7_message(hl7_segments(), credit), registry)
    assert outcome.ack_code is AckCode.ERROR
    assert outcome.problems[0].location == "FT1[2]-6"


def test_a_procedure_code_without_a_system_is_cpt_or_hcpcs_only_by_its_format(registry):
    segments = hl7_segments()
    segments["FT1"] = segments["FT1"] | {25: "J3301^Triamcinolone 10 mg", 10: "4"}
    local = hl7_segment(
        "FT1", {1: "2", 4: "20261001", 6: "CG", 7: "CDM-4471^Room supply^L", 10: "1"}
    )
    outcome, _ = _answer(hl7_message(segments, local), registry)
    first, second = outcome.encounter.procedures
    assert (first.code_system.value, first.code, first.units) == ("HCPCS", "J3301", 4)
    assert (second.code, second.text) == (None, "Room supply")


def test_a_pr1_after_a_charge_adds_its_procedure_coding(registry):
    charge = hl7_segment("FT1", {1: "2", 4: "20261001", 6: "CG", 7: "CDM-1^Knee scope^L", 10: "1"})
    pr1 = hl7_segment(
        "PR1", {1: "1", 3: "0SJC4ZZ^Inspection of right knee joint^I10P", 5: "20261001"}
    )
    outcome, _ = _answer(hl7_message(hl7_segments(), charge, pr1), registry)
    line = outcome.encounter.procedures[1]
    assert [(c.system.value, c.code) for c in line.codings] == [("ICD-10-PCS", "0SJC4ZZ")]
    assert line.code is None


def test_an_adt_registration_supplies_the_insurance_later_charges_lack(registry):
    adt = hl7_segments("ADT^A04^ADT_A01", FT1=None, DG1=None)
    outcome, ack = _answer(hl7_message(adt), registry)
    assert outcome.ack_code is AckCode.ACCEPT and outcome.kind is MessageKind.REGISTRATION
    assert _ack(ack).msh.msh_9.to_er7() == "ACK^A04^ACK"
    registration = Registration.from_json(outcome.registration.to_json())
    dft = hl7_message(hl7_segments(IN1=None))
    key = registration_key(parse_message(dft).message)
    assert key == registration.key
    charged, _ = _answer(dft, registry, registration=registration)
    assert charged.ack_code is AckCode.ACCEPT
    assert charged.encounter.coverages[0].member_id == "W123456789"


def test_charges_without_insurance_or_registration_are_naked_at_in1(registry):
    outcome, ack = _answer(hl7_message(hl7_segments(IN1=None)), registry)
    assert outcome.ack_code is AckCode.ERROR
    assert _errors(ack) == [
        ("IN1^1", "101", "no insurance: neither the message nor the patient's registration has IN1")
    ]


def test_an_a08_update_replaces_the_insurance_and_keeps_what_it_leaves_out(registry):
    first, _ = _answer(hl7_message(hl7_segments("ADT^A04^ADT_A01", FT1=None, DG1=None)), registry)
    update = hl7_segments("ADT^A08^ADT_A01", FT1=None, DG1=None)
    update["IN1"] = update["IN1"] | {3: "HUMANA", 4: "Humana", 36: "H7788"}
    update["PID"] = {1: "1", 3: "MRN0001^^^ACME^MR", 5: "Rivera^Ava"}
    second, _ = _answer(hl7_message(update), registry, registration=first.registration)
    registration = second.registration
    assert [i.payer_id for i in registration.insurance] == ["HUMANA"]
    assert registration.patient["birth_date"] == "1980-02-29"
    assert registration.patient["address"]["city"] == "Raleigh"


def test_a_registration_with_an_unknown_payer_is_naked(registry):
    adt = hl7_segments("ADT^A04^ADT_A01", FT1=None, DG1=None)
    adt["IN1"] = adt["IN1"] | {3: "ZZZ", 4: "Nowhere"}
    outcome, ack = _answer(hl7_message(adt), registry)
    assert outcome.ack_code is AckCode.ERROR and outcome.registration is None
    assert _errors(ack)[0][0] == "IN1^1^3"


def test_a_version_2_3_sender_gets_err_1_it_understands(registry):
    segments = hl7_segments()
    segments["MSH"] = segments["MSH"] | {12: "2.3"}
    segments["PID"] = segments["PID"] | {7: "20310517"}
    _, ack = _answer(hl7_message(segments), registry)
    err = next(line for line in ack.split("\r") if line.startswith("ERR"))
    assert err == "ERR|PID^1^7^102&Data type error&HL70357"
    assert "|2.3\r" in ack.split("\r")[0] + "\r"


def test_escape_sequences_are_read_and_separators_in_reasons_are_escaped(registry):
    segments = hl7_segments()
    segments["PID"] = segments["PID"] | {5: "O\\T\\Brien^Ava"}
    outcome, _ = _answer(hl7_message(segments), registry)
    assert outcome.encounter.patient.last_name == "O&Brien"
    assert (
        unescape("a\\F\\b\\S\\c\\X41\\", parse_message("MSH|^~\\&|").message.separators) == "a|b^cA"
    )


def test_line_feeds_and_latin_1_bytes_are_tolerated(registry):
    segments = hl7_segments()
    segments["PID"] = segments["PID"] | {5: "Ib\u00e1\u00f1ez^Jos\u00e9"}
    message = hl7_message(segments).replace("\r", "\n").encode("latin-1")
    outcome, _ = _answer(message, registry)
    assert outcome.ack_code is AckCode.ACCEPT
    assert outcome.encounter.patient.first_name == "Jos\u00e9"


def test_our_field_reading_agrees_with_hl7apy(registry):
    text = hl7_message(hl7_segments())
    ours = parse_message(text).message
    theirs = hl7apy_parse(text, find_groups=False)
    pid, ft1 = ours.first("PID"), ours.first("FT1")
    assert ours.value(pid, 5, 1) == theirs.pid.pid_5.xpn_1.to_er7()
    assert ours.value(pid, 7) == theirs.pid.pid_7.to_er7()
    assert ours.value(ft1, 25, 1) == theirs.ft1.ft1_25.ce_1.to_er7()
    assert ours.control_id == theirs.msh.msh_10.to_er7()


def test_read_message_reports_an_unsupported_message_without_mapping(registry):
    segments = hl7_segments()
    segments["MSH"] = segments["MSH"] | {9: "SIU^S12"}
    outcome = read_message(
        parse_message(hl7_message(segments)).message,
        registry=registry,
        source_system="x",
        today=TODAY,
    )
    assert outcome.ack_code is AckCode.REJECT and outcome.encounter is None


def test_the_source_system_is_the_sending_application_and_facility():
    message = parse_message(hl7_message(hl7_segments())).message
    assert source_system_of(message) == "hl7:EPIC/ACMEHOSP"


def test_a_transient_failure_is_answered_ar_so_the_sender_resends():
    ack = transient_failure_ack(hl7_message(hl7_segments()), now=NOW)
    parsed = _ack(ack)
    assert parsed.msa.msa_1.value == "AR" and parsed.msa.msa_2.value == "MSG0001"
    assert _errors(ack)[0][1] == "207"
