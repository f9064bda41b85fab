"""Domain value types validate themselves."""

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from claimflow_shared.codes import (
    CptCode,
    HcpcsCode,
    Icd10CmCode,
    Money,
    Npi,
    money,
    npi_check_digit,
)


class Sample(BaseModel):
    amount: Money | None = None
    icd: Icd10CmCode | None = None
    cpt: CptCode | None = None
    hcpcs: HcpcsCode | None = None
    npi: Npi | None = None


def test_money_keeps_two_places_and_serialises_as_a_string():
    sample = Sample(amount="125.5")
    assert sample.amount == Decimal("125.50")
    assert sample.model_dump_json().startswith('{"amount":"125.50"')


def test_money_rejects_fractions_of_a_cent():
    with pytest.raises(ValidationError, match="more than two decimal places"):
        Sample(amount="1.005")


def test_money_rounding_is_half_up():
    assert money(Decimal("2.675")) == Decimal("2.68")


def test_icd10cm_codes_are_normalised_without_the_dot():
    assert Sample(icd="e11.9").icd == "E119"


def test_special_purpose_u_codes_such_as_covid_19_are_codes():
    assert Sample(icd="U07.1").icd == "U071"


@pytest.mark.parametrize("bad", ["E1", "12345", "E11.9999999", "1E1.0"])
def test_malformed_icd10cm_codes_are_rejected(bad):
    with pytest.raises(ValidationError, match="ICD-10-CM"):
        Sample(icd=bad)


def test_cpt_and_hcpcs_formats():
    assert Sample(cpt="99213", hcpcs="j1100").hcpcs == "J1100"
    with pytest.raises(ValidationError, match="CPT"):
        Sample(cpt="J1100")
    with pytest.raises(ValidationError, match="HCPCS"):
        Sample(hcpcs="99213")


def test_npi_check_digit_follows_the_cms_luhn_rule():
    assert npi_check_digit("123456789") == 3
    assert Sample(npi="1234567893").npi == "1234567893"
    with pytest.raises(ValidationError, match="check digit"):
        Sample(npi="1234567890")
