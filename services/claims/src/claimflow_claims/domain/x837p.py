"""The 837P writer: professional claims as an ASC X12 005010X222A1 interchange."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from claimflow_claims.domain.model import Claim
from claimflow_shared.events.models import Address, BillingProvider, CoveragePriority
from claimflow_shared.x12 import Delimiters, Envelope, render, wrap_interchange

IMPLEMENTATION_GUIDE = "005010X222A1"
FUNCTIONAL_ID = "HC"
# The guide recommends at most 5000 claims (CLM) per transaction set.
MAX_CLAIMS_PER_TRANSACTION = 5000

_PAYER_RESPONSIBILITY = {
    CoveragePriority.PRIMARY: "P",
    CoveragePriority.SECONDARY: "S",
    CoveragePriority.TERTIARY: "T",
}
# SV101-1: CPT and HCPCS Level II codes share the HC qualifier.
_PROCEDURE_QUALIFIER = "HC"


class UnwritableClaim(ValueError):
    """A claim lacks something the 837P cannot go without; the message names the claim."""


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


def write_837p(
    claims: list[Claim],
    *,
    envelope: Envelope,
    submitter: Submitter,
    receiver: Receiver,
    line_breaks: bool = True,
) -> str:
    """One interchange holding `claims`, grouped under one 2000A loop per billing provider."""
    if not claims:
        raise ValueError("an 837P interchange needs at least one claim")
    if envelope.functional_id != FUNCTIONAL_ID or envelope.version != IMPLEMENTATION_GUIDE:
        raise ValueError(
            f"837P envelopes use functional id {FUNCTIONAL_ID} and version "
            f"{IMPLEMENTATION_GUIDE}, got {envelope.functional_id} / {envelope.version}"
        )
    delims = Delimiters()
    writer = _SegmentWriter(delims)
    transactions = [
        _transaction(
            batch, number, envelope=envelope, submitter=submitter, receiver=receiver, w=writer
        )
        for number, batch in enumerate(_batches(claims), start=1)
    ]
    return render(wrap_interchange(envelope, transactions, delims), delims, newline=line_breaks)


def _batches(claims: list[Claim]) -> Iterator[list[Claim]]:
    for start in range(0, len(claims), MAX_CLAIMS_PER_TRANSACTION):
        yield claims[start : start + MAX_CLAIMS_PER_TRANSACTION]


@dataclass(frozen=True)
class _SegmentWriter:
    """Turns domain values into X12 element text that cannot break the interchange."""

    delims: Delimiters

    def text(self, value: object, *, upper: bool = False) -> str:
        """ASCII text without delimiters; `upper` is for names, never for identifiers, since
        the ids we send (CLM01 above all) come back in 999/277CA/835 and must match as sent."""
        # pyx12 and many clearinghouses read ASCII only, and a delimiter inside data would
        # split an element or end a segment early: transliterate, then blank delimiters.
        ascii_text = (
            unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
        )
        forbidden = {self.delims.element, self.delims.component, self.delims.repetition}
        forbidden.add(self.delims.segment)
        cleaned = "".join(
            " " if ch in forbidden or not ch.isprintable() else ch for ch in ascii_text
        )
        cleaned = re.sub(r"\s+", " ", cleaned).strip()
        return cleaned.upper() if upper else cleaned

    def required(
        self, value: object, what: str, claim_id: str | None = None, *, upper: bool = False
    ) -> str:
        text = self.text(value, upper=upper)
        if not text:
            owner = f"claim {claim_id}: " if claim_id else ""
            raise UnwritableClaim(f"{owner}{what} is empty once delimiters are removed")
        return text

    def composite(self, *parts: str) -> str:
        values = list(parts)
        while values and values[-1] == "":
            values.pop()
        return self.delims.component.join(values)


def _amount(value: Decimal) -> str:
    # X12 R elements drop insignificant trailing zeros: 100.00 -> 100, 40.50 -> 40.5.
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _d8(value: date) -> str:
    return value.strftime("%Y%m%d")


def _transaction(
    claims: list[Claim],
    number: int,
    *,
    envelope: Envelope,
    submitter: Submitter,
    receiver: Receiver,
    w: _SegmentWriter,
) -> list[list[str]]:
    control = f"{number:04d}"
    created = envelope.created_at
    per = ["PER", "IC", w.required(submitter.contact_name, "submitter contact", upper=True), "TE"]
    per.append(re.sub(r"\D", "", submitter.phone))
    if submitter.email:
        per += ["EM", w.text(submitter.email)]
    segments: list[list[str]] = [
        ["ST", "837", control, IMPLEMENTATION_GUIDE],
        [
            "BHT",
            "0019",
            "00",
            f"{envelope.interchange_control_number:09d}{control}",
            created.strftime("%Y%m%d"),
            created.strftime("%H%M"),
            "CH",
        ],
        _nm1(
            "41",
            "2",
            w.required(submitter.name, "submitter name", upper=True),
            id_qualifier="46",
            identifier=w.required(submitter.identifier, "submitter id"),
        ),
        per,
        _nm1(
            "40",
            "2",
            w.required(receiver.name, "receiver name", upper=True),
            id_qualifier="46",
            identifier=w.required(receiver.identifier, "receiver id"),
        ),
    ]
    hl = _HierarchyCounter()
    for (billing, taxonomy), group in _by_billing_provider(claims).items():
        billing_hl = hl.next()
        segments.append(["HL", billing_hl, "", "20", "1"])
        if taxonomy:
            segments.append(["PRV", "BI", "PXC", w.text(taxonomy)])
        segments += _billing_provider(billing, w)
        for claim in group:
            segments += _subscriber_and_claim(claim, billing_hl, hl, w)
    return segments


class _HierarchyCounter:
    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        self._last += 1
        return str(self._last)


def _by_billing_provider(
    claims: list[Claim],
) -> dict[tuple[BillingProvider, str | None], list[Claim]]:
    groups: dict[tuple[BillingProvider, str | None], list[Claim]] = {}
    for claim in claims:
        providers = claim.providers
        # When the billing provider also rendered the care, its taxonomy goes on 2000A PRV.
        same = providers.rendering.npi == providers.billing.npi
        key = (providers.billing, providers.rendering.taxonomy if same else None)
        groups.setdefault(key, []).append(claim)
    return groups


def _nm1(
    entity: str,
    entity_type: str,
    last_or_organization: str,
    first: str = "",
    *,
    id_qualifier: str = "",
    identifier: str = "",
) -> list[str]:
    middle, prefix, suffix = "", "", ""
    return [
        "NM1",
        entity,
        entity_type,
        last_or_organization,
        first,
        middle,
        prefix,
        suffix,
        id_qualifier,
        identifier,
    ]


def _address(address: Address, w: _SegmentWriter) -> list[list[str]]:
    n3 = ["N3", w.required(address.line1, "address line 1", upper=True)]
    if address.line2 and w.text(address.line2):
        n3.append(w.text(address.line2, upper=True))
    city = w.required(address.city, "city", upper=True)
    return [n3, ["N4", city, address.state, address.postal_code]]


def _billing_provider(billing: BillingProvider, w: _SegmentWriter) -> list[list[str]]:
    name = w.required(billing.name, "billing provider name", upper=True)
    return [
        _nm1("85", "2", name, id_qualifier="XX", identifier=billing.npi),
        *_address(billing.address, w),
        ["REF", "EI", billing.tax_id],
    ]


def _subscriber_and_claim(
    claim: Claim, billing_hl: str, hl: _HierarchyCounter, w: _SegmentWriter
) -> list[list[str]]:
    coverage, patient = claim.coverage, claim.patient
    dependent = not claim.patient_is_subscriber
    if dependent and claim.subscriber is None:
        raise UnwritableClaim(
            f"claim {claim.claim_id}: the patient is a dependent but the subscriber is unknown"
        )
    if claim.frequency_code in {"7", "8"} and not claim.original_claim_number:
        raise UnwritableClaim(
            f"claim {claim.claim_id}: frequency {claim.frequency_code} needs the original "
            "claim number"
        )
    subscriber_hl = hl.next()
    segments: list[list[str]] = [
        ["HL", subscriber_hl, billing_hl, "22", "1" if dependent else "0"],
        [
            "SBR",
            _PAYER_RESPONSIBILITY[coverage.priority],
            "" if dependent else "18",
            w.text(coverage.group_number or ""),
            "",
            "",
            "",
            "",
            "",
            claim.claim_filing_indicator,
        ],
    ]
    member_id = w.required(coverage.member_id, "member id", claim.claim_id)
    if dependent:
        assert claim.subscriber is not None
        first, last = claim.subscriber.first_name, claim.subscriber.last_name
    else:
        first, last = patient.first_name, patient.last_name
    segments.append(
        _nm1(
            "IL",
            "1",
            w.required(last, "subscriber last name", claim.claim_id, upper=True),
            w.text(first, upper=True),
            id_qualifier="MI",
            identifier=member_id,
        )
    )
    # 2010BA carries address and demographics only when the subscriber is the patient.
    if not dependent:
        segments += _address(patient.address, w)
        segments.append(["DMG", "D8", _d8(patient.birth_date), patient.sex.value])
    payer = coverage.payer
    segments.append(
        _nm1(
            "PR",
            "2",
            w.required(payer.name, "payer name", claim.claim_id, upper=True),
            id_qualifier="PI",
            identifier=w.required(payer.payer_id, "payer id", claim.claim_id),
        )
    )
    if dependent:
        segments += [
            ["HL", hl.next(), subscriber_hl, "23", "0"],
            ["PAT", coverage.relationship.value],
            _nm1(
                "QC",
                "1",
                w.required(patient.last_name, "patient last name", claim.claim_id, upper=True),
                w.text(patient.first_name, upper=True),
            ),
            *_address(patient.address, w),
            ["DMG", "D8", _d8(patient.birth_date), patient.sex.value],
        ]
    return segments + _claim(claim, w)


def _claim(claim: Claim, w: _SegmentWriter) -> list[list[str]]:
    # HI holds at most 12 diagnoses and loop 2400 repeats at most 50 times.
    if not 1 <= len(claim.diagnoses) <= 12 or not 1 <= len(claim.lines) <= 50:
        raise UnwritableClaim(
            f"claim {claim.claim_id}: needs 1-12 diagnoses and 1-50 service lines, has "
            f"{len(claim.diagnoses)} and {len(claim.lines)}"
        )
    segments: list[list[str]] = [
        [
            "CLM",
            w.required(claim.claim_id, "claim id", claim.claim_id),
            _amount(claim.total_charge),
            "",
            "",
            w.composite(claim.place_of_service, "B", claim.frequency_code),
            "Y",
            "A",
            "Y",
            "Y",
        ]
    ]
    if claim.frequency_code in {"7", "8"}:
        segments.append(["REF", "F8", w.text(claim.original_claim_number)])
    segments.append(
        ["HI"]
        + [
            w.composite("ABK" if position == 0 else "ABF", w.text(code))
            for position, code in enumerate(claim.diagnoses)
        ]
    )
    rendering = claim.providers.rendering
    if rendering.npi != claim.providers.billing.npi:
        segments.append(
            _nm1(
                "82",
                "1",
                w.required(rendering.last_name, "rendering last name", claim.claim_id, upper=True),
                w.text(rendering.first_name, upper=True),
                id_qualifier="XX",
                identifier=rendering.npi,
            )
        )
        if rendering.taxonomy:
            segments.append(["PRV", "PE", "PXC", w.text(rendering.taxonomy)])
    for number, line in enumerate(claim.lines, start=1):
        procedure = w.composite(
            _PROCEDURE_QUALIFIER,
            w.text(line.code),
            *(w.text(modifier) for modifier in line.modifiers),
        )
        pointers = w.composite(*(str(p) for p in line.diagnosis_pointers))
        segments += [
            ["LX", str(number)],
            ["SV1", procedure, _amount(line.charge), "UN", str(line.units), "", "", pointers],
            ["DTP", "472", "D8", _d8(line.service_date)],
        ]
    return segments
