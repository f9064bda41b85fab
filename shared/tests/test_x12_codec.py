"""The shared X12 codec: tokenizer, element types, one text rule, envelopes and counts."""

import os
import random
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimflow_shared import x12
from claimflow_shared.x12 import Composite, Delimiters, Envelope, X12Error

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "x12-samples"
ISA = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       "
    "*250312*0930*^*00501*000000001*0*T*:~"
)


def sample_texts() -> list[str]:
    if not SAMPLES.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"public X12 samples missing at {SAMPLES}")
        pytest.skip("public X12 samples not available")
    files = sorted(p for p in SAMPLES.rglob("*") if p.is_file() and "LICENSE" not in p.name)
    return [p.read_text(encoding="utf-8", errors="replace") for p in files if p.suffix != ".md"]


# --- tokenizer ------------------------------------------------------------------------------


def test_delimiters_come_from_the_isa_header():
    text = ISA.replace("*", "|").replace(":~", ">!").replace("|^|", "|{|") + "GS|HC!"
    delims = x12.detect_delimiters(text)
    assert delims == Delimiters(element="|", component=">", repetition="{", segment="!")


@pytest.mark.parametrize(
    "text",
    ["ISA*00", "ISA" + "*" * 14, ISA[:105], ISA.replace(":~", ""), "ISA*" + "x" * 120, "ISAA" * 40],
)
def test_short_or_garbled_isa_raises_the_codecs_own_error(text):
    with pytest.raises(X12Error):
        list(x12.read_segments(text))


def test_isa16_without_a_terminator_is_reported_not_an_index_error():
    garbled = ISA.replace("*0*T*:~", "*0*T*") + " " * 30
    with pytest.raises(X12Error, match=r"ISA16|terminator"):
        x12.detect_delimiters(garbled)


def test_text_without_isa_or_segment_id_is_refused():
    with pytest.raises(X12Error):
        x12.detect_delimiters("hello world")


def test_segments_survive_line_breaks_and_a_bom():
    text = "\ufeff" + ISA + "\r\nGS*HC*A~\n\nST*837*0001~"
    ids = [s.id for s in x12.read_segments(text)]
    assert ids == ["ISA", "GS", "ST"]


def test_segment_reads_elements_components_and_repetitions_by_x12_number():
    [seg] = [s for s in x12.read_segments(ISA + "SV1*HC:99213:25*100*UN*1***1:2~") if s.id == "SV1"]
    assert seg.el(1) == "HC:99213:25" and seg.component(1, 2) == "99213"
    assert seg.component(1, 9) == "" and seg.el(99) == "" and seg.el(-1) == ""


# --- element types --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("100.00", "100"), ("40.50", "40.5"), ("0.25", "0.25"), ("0", "0"), ("-3.10", "-3.1")],
)
def test_amounts_drop_insignificant_zeros(value, expected):
    assert x12.amount(Decimal(value)) == expected


def test_amounts_are_bounded_in_digits():
    assert x12.amount(Decimal("9" * 16 + ".99")) == "9" * 16 + ".99"
    with pytest.raises(X12Error, match="18 digits"):
        x12.amount(Decimal("9" * 17 + ".99"))
    with pytest.raises(X12Error, match="finite"):
        x12.amount(Decimal("NaN"))


@pytest.mark.parametrize("raw", ["1_000", "1e3", "NaN", "Infinity", "١٢", "12,5", "", "-", "."])
def test_parsers_accept_ascii_decimals_only(raw):
    assert x12.parse_decimal(raw) is None


def test_parsers_read_amounts_quantities_dates_and_times():
    assert x12.parse_amount("89.935") == Decimal("89.94")
    assert x12.parse_decimal(".5") == Decimal("0.5")
    assert x12.parse_integer("0012") == 12 and x12.parse_integer("1.0") is None
    assert x12.parse_d8("20240229") == date(2024, 2, 29)
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in "20250101")
    assert x12.parse_d8("20230229") is None and x12.parse_d8(fullwidth) is None
    assert x12.parse_date_or_range("20250101-20250103") == (date(2025, 1, 1), date(2025, 1, 3))
    assert x12.parse_tm("0930") == time(9, 30) and x12.parse_tm("2561") is None


def test_dates_and_times_are_written_in_x12_shapes():
    assert x12.d8(date(2025, 3, 1)) == "20250301" and x12.d6(date(2025, 3, 1)) == "250301"
    assert x12.rd8(date(2025, 3, 1), date(2025, 3, 2)) == "20250301-20250302"
    assert x12.tm(datetime(2025, 1, 1, 7, 5, 9)) == "0705"
    assert x12.tm(datetime(2025, 1, 1, 7, 5, 9), seconds=True) == "070509"


def test_one_text_rule_transliterates_and_blanks_delimiters():
    assert x12.text("José:Ana ~O'Brien*  Núñez^") == "Jose Ana O'Brien Nunez"
    assert x12.text("smith\tjr\x00", upper=True) == "SMITH JR"
    assert x12.text("a" * 70, max_length=60) == "a" * 60
    assert x12.text("漢字") == ""


@given(st.text())
def test_sanitised_text_never_holds_a_delimiter_or_non_ascii(value):
    cleaned = x12.text(value)
    assert cleaned.isascii() and not set(cleaned) & Delimiters().as_set()
    assert cleaned == cleaned.strip()


def test_composites_drop_trailing_empty_components():
    assert Composite("HC", "99213", "", "") == ("HC", "99213")
    assert x12.render([["SV1", Composite("HC", "99213", "25"), "100"]], newline=False) == (
        "SV1*HC:99213:25*100~"
    )


# --- writing --------------------------------------------------------------------------------


def envelope(**changes):
    values = {
        "sender_id": "CLAIMFLOW",
        "receiver_id": "PAYER",
        "interchange_control_number": 42,
        "group_control_number": 42,
        "functional_id": "HC",
        "version": "005010X222A1",
        "created_at": datetime(2025, 3, 12, 9, 30),
    }
    return Envelope(**{**values, **changes})


def test_render_refuses_an_element_holding_a_delimiter():
    with pytest.raises(X12Error, match="delimiter"):
        x12.render([["NM1", "IL", "O*BRIEN"]])


def test_interchange_counts_segments_sets_and_groups():
    bodies = [[["ST", "837", "0001"], ["BHT", "0019"]], [["ST", "837", "0002"]]]
    text = x12.write_interchange(envelope(), bodies)
    segs = [s.elements for s in x12.read_segments(text)]
    assert segs[0][13] == "000000042" and segs[1][6] == "42"
    assert ["SE", "3", "0001"] in [list(s) for s in segs]
    assert ["SE", "2", "0002"] in [list(s) for s in segs]
    assert list(segs[-2]) == ["GE", "2", "42"] and list(segs[-1]) == ["IEA", "1", "000000042"]
    assert len(text.splitlines()[0]) == 106


def test_repeated_transaction_control_numbers_are_refused():
    with pytest.raises(X12Error, match="repeats"):
        x12.wrap_interchange(envelope(), [[["ST", "837", "0001"]], [["ST", "837", "0001"]]])


@pytest.mark.parametrize(
    "changes",
    [{"interchange_control_number": 0}, {"group_control_number": 10**9}, {"usage": "X"}],
)
def test_envelopes_with_impossible_control_numbers_are_refused(changes):
    with pytest.raises(X12Error):
        envelope(**changes)


def test_transaction_control_numbers_have_four_digits_at_least():
    assert x12.transaction_control_number(7) == "0007"
    assert x12.transaction_control_number(123456) == "123456"


# --- fuzz -----------------------------------------------------------------------------------


def _mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 8)):
        if not chars:
            break
        at = rng.randrange(len(chars))
        match rng.randrange(5):
            case 0:
                del chars[at : at + rng.randint(1, 40)]
            case 1:
                chars.insert(at, rng.choice("*:^~\n\r>|\ufeff ISA0é\x00"))
            case 2:
                chars[at] = rng.choice("*:^~A9 ")
            case 3:
                chars = chars[: rng.randint(0, len(chars))]
            case _:
                chars[at:at] = chars[: rng.randint(0, 120)]
    return "".join(chars)


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_mutated_public_samples_raise_nothing_but_x12error(seed):
    rng = random.Random(seed)
    texts = sample_texts()
    mutated = _mutate(rng.choice(texts), rng)
    try:
        for segment in x12.read_segments(mutated):
            segment.id, segment.el(3), segment.components(1), segment.component(2, 2)
    except X12Error:
        pass
