import os
from datetime import date
from pathlib import Path

import pytest

from claimflow_coding.domain.hcpcs import hcpcs_code, hcpcs_codes, hcpcs_modifier
from claimflow_coding.domain.procedures import check_procedure
from claimflow_shared.codes import ProcedureCodeSystem

# shared/ sits beside the repository (and at /work/shared on the development machines).
_SHARED = [Path(__file__).resolve().parents[4].parent / "shared", Path("/work/shared")]
CMS_FILE = next(
    (p / "data/hcpcs/HCPC2026_JAN_ANWEB_01122026.txt" for p in _SHARED if p.exists()),
    _SHARED[0] / "data/hcpcs/HCPC2026_JAN_ANWEB_01122026.txt",
)


def test_codes_and_modifiers_from_the_cms_file():
    assert len(hcpcs_codes()) == 8623
    assert hcpcs_code("g0008").short.startswith("Admin influenza")
    assert hcpcs_modifier("LT").short == "Left side"


def test_active_on_respects_added_and_termination_dates():
    entry = hcpcs_code("J1100")
    assert entry.active_on(date(2026, 1, 15))
    assert not entry.active_on(date(1970, 1, 1))


def test_check_procedure_knows_every_cms_hcpcs_code():
    assert check_procedure(ProcedureCodeSystem.HCPCS, "A0428").ok
    assert not check_procedure(ProcedureCodeSystem.HCPCS, "A0000").ok


def test_packaged_table_has_every_code_record_of_the_cms_file():
    if not CMS_FILE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("the shared CMS HCPCS file is missing in CI")
        pytest.skip("shared CMS HCPCS file not present")
    codes = {
        line[:5].strip()
        for line in CMS_FILE.read_text(encoding="latin-1").splitlines()
        if len(line) > 10 and line[10] == "3"
    }
    assert codes == {entry.code for entry in hcpcs_codes()}
