"""The loops 837P (005010X222A1) and 837I (005010X223A2) share: header, billing provider,
subscriber, patient, and coordination of benefits (2320/2330A/2330B, 2430)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby

from claimflow_claims.domain.model import (
    Claim,
    OtherPayer,
    PriorAdjustment,
    PriorLinePayment,
    ServiceLine,
)
from claimflow_shared import x12
from claimflow_shared.events.models import Address, BillingProvider, CoveragePriority
from claimflow_shared.x12 import Composite, Envelope, SegmentElements

Segments = list[SegmentElements]
FUNCTIONAL_ID = "HC"
# The guides recommend at most 5000 claims (CLM) per transaction set.
MAX_CLAIMS_PER_TRANSACTION = 5000
MAX_CAS_TRIPLETS = 6

PAYER_RESPONSIBILITY = {
    CoveragePriority.PRIMARY: "P",
    CoveragePriority.SECONDARY: "S",
    CoveragePriority.TERTIARY: "T",
}


class UnwritableClaim(ValueError):
    """A claim lacks something the 837 cannot go without; the message names claim and field."""


@dataclass(frozen=True)
class Submitter:
    """Loop 1000A: who sends the file (our ETIN at the clearinghouse) and whom to call."""

    name: str
    identifier: str
    contact_name: str
    phone: str
    email: str | None = None


@dataclass(frozen=True)
class Receiver:
    """Loop 1000B: the clearinghouse or payer receiving the file."""

    name: str
    identifier: str


def required(value: object, what: str, claim_id: str | None = None, **rules: object) -> str:
    cleaned = x12.text(value, **rules)  # type: ignore[arg-type]
    if not cleaned:
        owner = f"claim {claim_id}: " if claim_id else ""
        raise UnwritableClaim(f"{owner}{what} is empty once delimiters are removed")
    return cleaned


def name(value: object, what: str, claim_id: str | None = None, max_length: int = 60) -> str:
    return required(value, what, claim_id, upper=True, max_length=max_length)


def nm1(
    entity: str,
    entity_type: str,
    last_or_organization: str,
    first: str = "",
    *,
    id_qualifier: str = "",
    identifier: str = "",
) -> list[SegmentElements]:
    return [
        [
            "NM1",
            entity,
            entity_type,
            last_or_organization,
            first,
            "",
            "",
            "",
            id_qualifier,
            identifier,
        ]
    ]


def address(where: Address, claim_id: str | None = None) -> Segments:
    n3 = ["N3", name(where.line1, "address line 1", claim_id, 55)]
    if where.line2 and x12.text(where.line2):
        n3.append(x12.text(where.line2, upper=True, max_length=55))
    city = name(where.city, "city", claim_id, 30)
    return [n3, ["N4", city, where.state, x12.digits(where.postal_code)]]


def write_transactions(
    claims: Sequence[Claim],
    *,
    envelope: Envelope,
    submitter: Submitter,
    receiver: Receiver,
    guide: str,
    claim_type: str,
    claim_loops: Callable[[Claim], Segments],
    line_breaks: bool,
    first_transaction_number: int = 1,
) -> str:
    """One interchange: one transaction set per 5000 claims (ST02 counting up from
    `first_transaction_number`), 2000A per billing provider."""
    if not claims:
        raise ValueError(f"an {claim_type} interchange needs at least one claim")
    if envelope.functional_id != FUNCTIONAL_ID or envelope.version != guide:
        raise ValueError(
            f"{claim_type} envelopes use functional id {FUNCTIONAL_ID} and version {guide}, "
            f"got {envelope.functional_id} / {envelope.version}"
        )
    wrong = [c.claim_id for c in claims if c.claim_type != claim_type]
    if wrong:
        raise UnwritableClaim(f"claim {wrong[0]}: is not an {claim_type} claim")
    transactions = [
        _transaction(
            claims[start : start + MAX_CLAIMS_PER_TRANSACTION],
            x12.transaction_control_number(first_transaction_number + index),
            envelope=envelope,
            submitter=submitter,
            receiver=receiver,
            guide=guide,
            claim_loops=claim_loops,
        )
        for index, start in enumerate(range(0, len(claims), MAX_CLAIMS_PER_TRANSACTION))
    ]
    return x12.write_interchange(envelope, transactions, line_breaks=line_breaks)


def _transaction(
    claims: Sequence[Claim],
    control: str,
    *,
    envelope: Envelope,
    submitter: Submitter,
    receiver: Receiver,
    guide: str,
    claim_loops: Callable[[Claim], Segments],
) -> Segments:
    created = envelope.created_at
    per: list[SegmentElements] = [
        "PER",
        "IC",
        name(submitter.contact_name, "submitter contact"),
        "TE",
        x12.digits(submitter.phone),
    ]
    if submitter.email:
        per += ["EM", x12.text(submitter.email, max_length=256)]
    segments: Segments = [
        ["ST", "837", control, guide],
        [
            "BHT",
            "0019",
            "00",
            f"{envelope.interchange_control_number:09d}{control}",
            x12.d8(created.date()),
            x12.tm(created),
            "CH",
        ],
        *nm1(
            "41",
            "2",
            name(submitter.name, "submitter name"),
            id_qualifier="46",
            identifier=required(submitter.identifier, "submitter id", max_length=80),
        ),
        per,
        *nm1(
            "40",
            "2",
            name(receiver.name, "receiver name"),
            id_qualifier="46",
            identifier=required(receiver.identifier, "receiver id", max_length=80),
        ),
    ]
    hl = HierarchyCounter()
    for (billing, taxonomy), group in groupby(
        sorted(claims, key=_billing_order(claims)), key=_billing_key
    ):
        billing_hl = hl.next()
        segments.append(["HL", billing_hl, "", "20", "1"])
        if taxonomy:
            segments.append(["PRV", "BI", "PXC", x12.text(taxonomy)])
        segments += billing_provider(billing)
        for claim in group:
            segments += subscriber_and_patient(claim, billing_hl, hl)
            segments += claim_loops(claim)
    return segments


def _billing_key(claim: Claim) -> tuple[BillingProvider, str | None]:
    providers = claim.providers
    # When the billing provider also rendered the care, its taxonomy goes on 2000A PRV.
    same = providers.rendering.npi == providers.billing.npi
    return providers.billing, providers.rendering.taxonomy if same else None


def _billing_order(claims: Sequence[Claim]) -> Callable[[Claim], int]:
    """Claims grouped per billing provider, groups in order of first appearance."""
    first: dict[tuple[BillingProvider, str | None], int] = {}
    for index, claim in enumerate(claims):
        first.setdefault(_billing_key(claim), index)
    return lambda claim: first[_billing_key(claim)]


class HierarchyCounter:
    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        self._last += 1
        return str(self._last)


def billing_provider(billing: BillingProvider) -> Segments:
    return [
        *nm1(
            "85",
            "2",
            name(billing.name, "billing provider name"),
            id_qualifier="XX",
            identifier=billing.npi,
        ),
        *address(billing.address),
        ["REF", "EI", billing.tax_id],
    ]


def subscriber_and_patient(claim: Claim, billing_hl: str, hl: HierarchyCounter) -> Segments:
    """2000B/2010BA/2010BB and, for a dependent, 2000C/2010CA."""
    coverage, patient, cid = claim.coverage, claim.patient, claim.claim_id
    dependent = not claim.patient_is_subscriber
    if dependent and claim.subscriber is None:
        raise UnwritableClaim(
            f"claim {cid}: the patient is a dependent but the subscriber is unknown"
        )
    if claim.frequency_code in {"7", "8"} and not claim.original_claim_number:
        raise UnwritableClaim(
            f"claim {cid}: frequency {claim.frequency_code} needs the payer's claim number "
            "of the original claim"
        )
    subscriber_hl = hl.next()
    segments: Segments = [
        ["HL", subscriber_hl, billing_hl, "22", "1" if dependent else "0"],
        [
            "SBR",
            PAYER_RESPONSIBILITY[coverage.priority],
            "" if dependent else "18",
            x12.text(coverage.group_number or "", max_length=50),
            "",
            "",
            "",
            "",
            "",
            claim.claim_filing_indicator,
        ],
    ]
    if dependent:
        assert claim.subscriber is not None
        first, last = claim.subscriber.first_name, claim.subscriber.last_name
    else:
        first, last = patient.first_name, patient.last_name
    segments += nm1(
        "IL",
        "1",
        name(last, "subscriber last name", cid),
        x12.text(first, upper=True, max_length=35),
        id_qualifier="MI",
        identifier=required(coverage.member_id, "member id", cid, max_length=80),
    )
    # 2010BA carries address and demographics only when the subscriber is the patient.
    if not dependent:
        segments += address(patient.address, cid)
        segments.append(["DMG", "D8", x12.d8(patient.birth_date), patient.sex.value])
    payer = coverage.payer
    segments += nm1(
        "PR",
        "2",
        name(payer.name, "payer name", cid),
        id_qualifier="PI",
        identifier=required(payer.payer_id, "payer id", cid, max_length=80),
    )
    if dependent:
        segments += [
            ["HL", hl.next(), subscriber_hl, "23", "0"],
            ["PAT", coverage.relationship.value],
            *nm1(
                "QC",
                "1",
                name(patient.last_name, "patient last name", cid),
                x12.text(patient.first_name, upper=True, max_length=35),
            ),
            *address(patient.address, cid),
            ["DMG", "D8", x12.d8(patient.birth_date), patient.sex.value],
        ]
    return segments


def cas(group: str, adjustments: Sequence[PriorAdjustment]) -> Segments:
    """CAS segments of one group code, at most six reason/amount/quantity triplets each."""
    segments: Segments = []
    for start in range(0, len(adjustments), MAX_CAS_TRIPLETS):
        segment: list[SegmentElements] = ["CAS", group]
        for item in adjustments[start : start + MAX_CAS_TRIPLETS]:
            quantity = x12.quantity(item.quantity) if item.quantity is not None else ""
            segment += [item.carc, x12.amount(item.amount), quantity]
        segments.append(segment)
    return segments


def cas_by_group(adjustments: Sequence[PriorAdjustment]) -> Segments:
    groups: dict[str, list[PriorAdjustment]] = {}
    for item in adjustments:
        groups.setdefault(item.group.value, []).append(item)
    return [segment for group, items in groups.items() for segment in cas(group, items)]


def other_payers(claim: Claim) -> Segments:
    """Loop 2320 with 2330A (other subscriber) and 2330B (other payer), once per other payer."""
    segments: Segments = []
    for other in claim.other_payers:
        segments += _other_payer(claim, other)
    return segments


def _other_payer(claim: Claim, other: OtherPayer) -> Segments:
    cid = claim.claim_id
    coverage = other.coverage
    own = coverage.relationship.value == "18"
    if not own and other.subscriber is None:
        raise UnwritableClaim(
            f"claim {cid}: other payer {coverage.payer.payer_id}: the other policy's "
            "subscriber is unknown"
        )
    segments: Segments = [
        [
            "SBR",
            PAYER_RESPONSIBILITY[coverage.priority],
            coverage.relationship.value,
            x12.text(coverage.group_number or "", max_length=50),
            "",
            "",
            "",
            "",
            "",
            other.claim_filing_indicator,
        ],
        *cas_by_group(other.claim_adjustments),
    ]
    if other.paid is not None:
        segments.append(["AMT", "D", x12.amount(other.paid)])
    if other.remaining_patient_liability is not None:
        segments.append(["AMT", "EAF", x12.amount(other.remaining_patient_liability)])
    segments.append(["OI", "", "", "Y", "", "", "Y"])
    if own:
        first, last = claim.patient.first_name, claim.patient.last_name
    else:
        assert other.subscriber is not None
        first, last = other.subscriber.first_name, other.subscriber.last_name
    segments += nm1(
        "IL",
        "1",
        name(last, "other subscriber last name", cid),
        x12.text(first, upper=True, max_length=35),
        id_qualifier="MI",
        identifier=required(coverage.member_id, "other subscriber member id", cid, max_length=80),
    )
    segments += nm1(
        "PR",
        "2",
        name(coverage.payer.name, "other payer name", cid),
        id_qualifier="PI",
        identifier=required(coverage.payer.payer_id, "other payer id", cid, max_length=80),
    )
    # DTP*573 belongs here when the other payer adjudicated and lines are not reported in 2430.
    if other.adjudicated_on is not None and not other.line_payments:
        segments.append(["DTP", "573", "D8", x12.d8(other.adjudicated_on)])
    if other.payer_claim_number:
        segments.append(["REF", "F8", required(other.payer_claim_number, "other payer ICN")])
    return segments


def line_adjudications(
    claim: Claim,
    line: ServiceLine,
    svd: Callable[[str, PriorLinePayment, ServiceLine], SegmentElements],
) -> Segments:
    """Loop 2430 for one of our lines: what each earlier payer paid and adjusted on it."""
    segments: Segments = []
    for other in claim.other_payers:
        for payment in other.line_payments:
            if payment.line_number != line.line_number:
                continue
            payer_id = required(other.coverage.payer.payer_id, "other payer id", claim.claim_id)
            segments.append(svd(payer_id, payment, line))
            segments += cas_by_group(payment.adjustments)
            segments.append(["DTP", "573", "D8", x12.d8(payment.adjudicated_on)])
            if payment.remaining_patient_liability is not None:
                segments.append(["AMT", "EAF", x12.amount(payment.remaining_patient_liability)])
    return segments


def line_control_number(line: ServiceLine) -> SegmentElements:
    """REF*6R: our line number, which the payer echoes on the 835 line that pays it."""
    return ["REF", "6R", str(line.line_number)]


def procedure(line: ServiceLine) -> Composite:
    """SV101 / SV202 / SVD03: HC (CPT and HCPCS share it), the code, up to four modifiers."""
    return Composite("HC", x12.text(line.code or ""), *(x12.text(m) for m in line.modifiers))


def chunks(values: Sequence[Composite], size: int) -> Iterator[list[Composite]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])
