"""The 837P writer: professional claims as an ASC X12 005010X222A1 interchange."""

from __future__ import annotations

from collections.abc import Sequence

from claimflow_claims.adapters.x12.claim837 import (
    FUNCTIONAL_ID,
    Receiver,
    Segments,
    Submitter,
    UnwritableClaim,
    line_adjudications,
    line_control_number,
    name,
    nm1,
    other_payers,
    procedure,
    required,
    write_transactions,
)
from claimflow_claims.domain.model import Claim, PriorLinePayment, ServiceLine
from claimflow_shared import x12
from claimflow_shared.x12 import Composite, Envelope

IMPLEMENTATION_GUIDE = "005010X222A1"
MAX_DIAGNOSES = 12
MAX_LINES = 50

__all__ = [
    "FUNCTIONAL_ID",
    "IMPLEMENTATION_GUIDE",
    "Receiver",
    "Submitter",
    "UnwritableClaim",
    "write_837p",
]


def write_837p(
    claims: Sequence[Claim],
    *,
    envelope: Envelope,
    submitter: Submitter,
    receiver: Receiver,
    line_breaks: bool = True,
    first_transaction_number: int = 1,
) -> str:
    """One interchange holding `claims`, grouped under one 2000A loop per billing provider."""
    return write_transactions(
        claims,
        envelope=envelope,
        submitter=submitter,
        receiver=receiver,
        guide=IMPLEMENTATION_GUIDE,
        claim_type="837P",
        claim_loops=_claim,
        line_breaks=line_breaks,
        first_transaction_number=first_transaction_number,
    )


def _claim(claim: Claim) -> Segments:
    cid = claim.claim_id
    # HI holds at most 12 diagnoses and loop 2400 repeats at most 50 times.
    if not 1 <= len(claim.diagnoses) <= MAX_DIAGNOSES or not 1 <= len(claim.lines) <= MAX_LINES:
        raise UnwritableClaim(
            f"claim {cid}: needs 1-12 diagnoses and 1-50 service lines, has "
            f"{len(claim.diagnoses)} and {len(claim.lines)}"
        )
    segments: Segments = [
        [
            "CLM",
            required(cid, "claim id", cid, max_length=38),
            x12.amount(claim.total_charge),
            "",
            "",
            Composite(claim.place_of_service, "B", claim.frequency_code),
            "Y",
            "A",
            "Y",
            "Y",
        ]
    ]
    if claim.frequency_code in {"7", "8"}:
        segments.append(["REF", "F8", required(claim.original_claim_number, "payer ICN", cid)])
    segments.append(
        [
            "HI",
            *(
                Composite("ABK" if position == 0 else "ABF", x12.text(code))
                for position, code in enumerate(claim.diagnoses)
            ),
        ]
    )
    rendering = claim.providers.rendering
    if rendering.npi != claim.providers.billing.npi:
        segments += nm1(
            "82",
            "1",
            name(rendering.last_name, "rendering last name", cid),
            x12.text(rendering.first_name, upper=True, max_length=35),
            id_qualifier="XX",
            identifier=rendering.npi,
        )
        if rendering.taxonomy:
            segments.append(["PRV", "PE", "PXC", x12.text(rendering.taxonomy)])
    segments += other_payers(claim)
    for number, line in enumerate(claim.lines, start=1):
        if not line.code:
            raise UnwritableClaim(f"claim {cid}: line {line.line_number} has no procedure code")
        segments += [
            ["LX", str(number)],
            [
                "SV1",
                procedure(line),
                x12.amount(line.charge),
                "UN",
                x12.quantity(line.units),
                "",
                "",
                Composite(*(str(p) for p in line.diagnosis_pointers)),
            ],
            ["DTP", "472", "D8", x12.d8(line.service_date)],
            line_control_number(line),
            *line_adjudications(claim, line, _svd),
        ]
    return segments


def _svd(payer_id: str, payment: PriorLinePayment, line: ServiceLine) -> list[x12.Element]:
    return [
        "SVD",
        payer_id,
        x12.amount(payment.paid),
        procedure(line),
        "",
        x12.quantity(payment.paid_units),
    ]
