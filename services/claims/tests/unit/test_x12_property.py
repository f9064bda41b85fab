"""Property: every interchange we write passes pyx12 with zero errors, over generated claims
of both types (COB, replacement, void, dependents, awkward names), many claims a file."""

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow_claims.adapters.x12.writer_837i import write_837i
from claimflow_claims.adapters.x12.writer_837p import write_837p
from claimflow_shared.x12 import Envelope, read_segments
from services.claims.tests.unit.claim_factory import generate_claims

CLAIMS_PER_FILE = 100
FILES_PER_TYPE = 10  # 1,000 claims of each type
WRITERS = {
    "837P": (write_837p, "005010X222A1"),
    "837I": (write_837i, "005010X223A2"),
}


@pytest.mark.parametrize("claim_type", ["837P", "837I"])
@settings(
    max_examples=FILES_PER_TYPE,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(min_value=0, max_value=2**31))
def test_generated_interchanges_pass_pyx12_with_zero_errors(
    claim_type, seed, submitter, receiver, pyx12_validate
):
    writer, guide = WRITERS[claim_type]
    claims = generate_claims(seed, CLAIMS_PER_FILE, claim_type)
    envelope = Envelope(
        sender_id="CLAIMFLOW",
        receiver_id="CLEARHOUSE",
        interchange_control_number=seed % 999_999_999 + 1,
        group_control_number=seed % 999_999_999 + 1,
        functional_id="HC",
        version=guide,
        created_at=datetime(2025, 5, 1, 8, 0),
    )
    text = writer(claims, envelope=envelope, submitter=submitter, receiver=receiver)
    verdict = pyx12_validate(text)
    assert verdict.ok and not verdict.findings, verdict.report()
    clm = [s for s in read_segments(text) if s.id == "CLM"]
    assert sorted(s.el(1) for s in clm) == sorted(c.claim_id for c in claims)
