from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from payer_simulator.edi import X12Error
from payer_simulator.reader837 import ProblemScope, read_837

SAMPLE_NAMES = [
    "lfh-demo.ambulance.example5.837",
    "lfh-demo.autoaccident.837",
    "lfh-demo.cob.2ndary.example4.837",
    "lfh-demo.cob.example3.A.837",
    "lfh-demo.cob.example3.B.837",
    "lfh-demo.cob.example3.C.837",
    "lfh-demo.cob.example4.837",
    "lfh-demo.drug.example10.1.837",
    "lfh-demo.drug.example10.2.837",
    "lfh-demo.drug.example10.3.837",
    "lfh-demo.example1.837",
    "lfh-demo.example11.837",
    "lfh-demo.example12.837",
    "lfh-demo.example2.837",
    "lfh-demo.example6.837",
    "lfh-demo.example7.837",
    "lfh-demo.example8.837",
    "lfh-demo.example9.837",
]


def test_the_sample_folder_holds_the_eighteen_files_we_read(samples: Path):
    assert sorted(p.name for p in (samples / "837P").iterdir()) == sorted(SAMPLE_NAMES)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_public_837p_sample_reads_into_claims(samples: Path, name: str):
    interchange = read_837((samples / "837P" / name).read_text())

    assert interchange.claims, interchange.problems
    for claim in interchange.claims:
        assert claim.claim_id
        assert claim.total_charge > 0
        assert claim.billing_provider_npi and claim.payer_id and claim.member_id
        assert claim.service_lines
        assert all(line.procedure_code and line.service_date for line in claim.service_lines)
        assert claim.origin.interchange_control_number == "000000907"
        assert claim.origin.transaction_set_control_number


def test_sample_claim_fields_are_read_from_their_segments(samples: Path):
    interchange = read_837((samples / "837P" / "lfh-demo.example1.837").read_text())

    assert interchange.problems == []
    (claim,) = interchange.claims
    assert claim.claim_id == "26463774"
    assert claim.total_charge == Decimal("100.00")
    assert claim.frequency_code == "1"
    assert claim.place_of_service == "11"
    assert (claim.billing_provider_npi, claim.billing_provider_name) == (
        "1912301953",
        "BEN KILDARE SERVICE",
    )
    assert (claim.payer_id, claim.payer_name) == ("999996666", "KEY INSURANCE COMPANY")
    assert claim.member_id == "JS00111223333"
    assert (claim.patient_last_name, claim.patient_first_name) == ("SMITH", "TED")
    assert not claim.patient_is_subscriber
    first = claim.service_lines[0]
    assert (first.qualifier, first.procedure_code, first.charge, first.units) == (
        "HC",
        "99213",
        Decimal("40.00"),
        Decimal("1.00"),
    )
    assert first.service_date == date(2006, 10, 3)
    assert claim.line_charge_total == claim.total_charge
    origin = claim.origin
    assert (origin.interchange_control_number, origin.group_control_number) == ("000000907", "1")
    assert origin.transaction_set_control_number == "0021"


def test_modifiers_and_units_come_from_sv1(samples: Path):
    dme = read_837((samples / "837P" / "lfh-demo.example8.837").read_text()).claims[0]
    ambulance = read_837((samples / "837P" / "lfh-demo.ambulance.example5.837").read_text())

    assert dme.service_lines[0].modifiers == ("RR", "KH", "BR")
    assert ambulance.claims[0].service_lines[1].units == Decimal("21.00")


def test_other_payer_loops_do_not_replace_the_payer_the_claim_is_sent_to(samples: Path):
    claim = read_837((samples / "837P" / "lfh-demo.cob.example3.B.837").read_text()).claims[0]

    assert (claim.payer_id, claim.member_id) == ("567890", "222334444")
    assert claim.payer_responsibility == "S"


def test_stray_component_separator_is_reported_and_still_read(samples: Path):
    interchange = read_837((samples / "837P" / "lfh-demo.example6.837").read_text())

    (claim,) = interchange.claims
    assert claim.service_lines[0].procedure_code == "98940"
    assert claim.frequency_code == "1"
    found = {(p.segment_id, p.element_position, p.element_code) for p in interchange.problems}
    assert ("SV1", 1, "7") in found and ("CLM", 5, "7") in found


def test_generated_837_reads_without_problems_and_passes_pyx12(make, pyx12_check):
    text = make.x837([make.spec("C-1"), make.spec("C-2", billing_npi=make.other_clinic_npi)])

    interchange = read_837(text)
    verdict = pyx12_check(text)

    assert interchange.problems == []
    assert [c.claim_id for c in interchange.claims] == ["C-1", "C-2"]
    assert interchange.claims[0].service_lines[1].modifiers == ("QW",)
    assert verdict.ok, verdict.explain()


@pytest.mark.parametrize(
    "text",
    ["", "hello world", '{"claim": 1}', "ISA*00*short~", "<xml/>"],
    ids=["empty", "prose", "json", "short-isa", "xml"],
)
def test_text_that_is_not_x12_raises(text):
    with pytest.raises(X12Error):
        read_837(text)


def test_x12_without_an_837_raises(samples: Path):
    with pytest.raises(X12Error, match="837"):
        read_837((samples / "835" / "lfh-managed-care.835").read_text())


def test_truncated_file_reports_each_missing_trailer(make):
    text = make.x837([make.spec("C-1")])
    truncated = text[: text.index("SE*")]

    interchange = read_837(truncated)

    scopes = {(p.scope, p.code) for p in interchange.problems}
    assert (ProblemScope.TRANSACTION, "2") in scopes  # SE missing
    assert (ProblemScope.GROUP, "3") in scopes  # GE missing
    assert any(p.scope is ProblemScope.INTERCHANGE for p in interchange.problems)
    assert [c.claim_id for c in interchange.claims] == ["C-1"]


def test_wrong_segment_count_and_bad_amount_are_reported_with_their_position(make):
    text = make.x837([make.spec("C-1", charges=("12.x0",), total="12.x0")])
    text = text.replace("SE*", "SE*9", 1)

    interchange = read_837(text)

    problems = interchange.problems
    assert any(p.scope is ProblemScope.TRANSACTION and p.code == "4" for p in problems)
    bad = [p for p in problems if p.scope is ProblemScope.SEGMENT]
    assert {(p.segment_id, p.element_position, p.element_code) for p in bad} == {
        ("CLM", 2, "6"),
        ("SV1", 2, "6"),
    }
    clm = next(p for p in bad if p.segment_id == "CLM")
    assert clm.claim_id == "C-1" and clm.loop_id == "2300"
    lines = text.split("~\n")
    st_index = next(i for i, seg in enumerate(lines) if seg.startswith("ST*"))
    assert lines[st_index + clm.position - 1].startswith("CLM*")


def test_claim_without_service_lines_is_reported(make):
    text = make.x837([make.spec("C-1")])
    cut = text.index("LX*1")
    text = text[:cut] + text[text.index("SE*") :]

    interchange = read_837(text)

    assert any(p.segment_id == "CLM" and p.code == "I7" for p in interchange.problems)


def test_every_public_837i_sample_reads_its_institutional_service_lines(samples: Path):
    folder = samples / "837I"
    if not folder.is_dir():
        pytest.skip(f"no 837I samples at {folder}")
    for path in sorted(folder.iterdir()):
        interchange = read_837(path.read_text())
        assert not [p for p in interchange.problems if p.scope is ProblemScope.GROUP], path.name
        assert interchange.claims, path.name
        for claim in interchange.claims:
            assert claim.claim_type == "837I"
            assert claim.service_lines, path.name
            assert all(line.revenue_code.isdigit() for line in claim.service_lines), path.name
            assert sum(line.charge for line in claim.service_lines) == claim.total_charge
            assert claim.diagnoses and claim.statement_from is not None
