"""X12 the payer side sends back: 835 remittances (005010X221A1), 999 acknowledgments
(005010X231A1) and 277CA claim acknowledgments (005010X214)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

from payer_simulator.edi import Delimiters, Envelope, render, wrap_interchange
from payer_simulator.model import Adjudication, Adjustment
from payer_simulator.provider_adjustments import ProviderAdjustment
from payer_simulator.reader837 import (
    Interchange837,
    ProblemScope,
    ReadProblem,
    ServiceLine,
    SubmittedClaim,
)

DELIMITERS = Delimiters()
_COMPONENT = DELIMITERS.component
_RESERVED = str.maketrans({c: " " for c in "*:^~\r\n"})
_MAX_CAS_TRIPLETS = 6
_MAX_PLB_PAIRS = 6
_MAX_MOA_REMARKS = 5  # MOA03-MOA07
# CLP06 takes fewer codes than SBR09: commercial, Blue Cross and FEP plans have no own code.
_CLAIM_FILING_FOR_835 = {"CI": "15", "BL": "12", "FI": "OF", "11": "ZZ"}
_CLP06_CODES = frozenset(
    {"12", "13", "14", "15", "16", "17", "AM", "CH", "DS", "HM", "LM", "MA", "MB", "MC"}
    | {"OF", "TV", "VA", "WC", "ZZ"}
)


class PaymentMethod(StrEnum):
    ACH = "ACH"
    CHECK = "CHK"


@dataclass(frozen=True)
class PayerIdentity:
    name: str
    payer_id: str  # what providers put in 837 NM1*PR NM109; sent back in REF*2U
    tax_id: str = "990000001"  # EIN: TRN03 and BPR10 carry it as "1" + EIN
    address: str = "1 SIMULATION PLAZA"
    city: str = "MINNEAPOLIS"
    state: str = "MN"
    postal_code: str = "55401"
    contact_name: str = "PROVIDER SERVICES"
    contact_phone: str = "8005550199"
    routing_number: str = "091000019"
    account_number: str = "7700012345"


def x12_amount(amount: Decimal) -> str:
    """An X12 R value: no trailing zeros after the point (X12 syntax rule), "0" for zero."""
    text = f"{amount:.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"", "-0"} else text


def x12_text(value: str, max_len: int = 60) -> str:
    """Data copied from another file must not carry our delimiters."""
    return value.translate(_RESERVED).strip()[:max_len]


def _d8(day: date) -> str:
    return day.strftime("%Y%m%d")


def _interchange(
    *,
    functional_id: str,
    version: str,
    sender_id: str,
    receiver_id: str,
    interchange_control_number: int,
    group_control_number: int | None,
    created_at: datetime | None,
    usage: str,
    transactions: list[list[list[str]]],
) -> str:
    envelope = Envelope(
        sender_id=x12_text(sender_id, 15) or "PAYERSIM",
        receiver_id=x12_text(receiver_id, 15) or "UNKNOWN",
        interchange_control_number=interchange_control_number,
        group_control_number=group_control_number or interchange_control_number,
        functional_id=functional_id,
        version=version,
        created_at=created_at or datetime.now(UTC),
        usage=usage,
    )
    return render(wrap_interchange(envelope, transactions, DELIMITERS), DELIMITERS)


# ---- 835 ----------------------------------------------------------------------------------


def write_835(
    adjudications: Sequence[Adjudication],
    *,
    payer: PayerIdentity,
    payee_npi: str,
    payee_name: str,
    interchange_control_number: int,
    payment_date: date,
    trace_number: str,
    group_control_number: int | None = None,
    transaction_set_control_number: str = "0001",
    payment_method: PaymentMethod = PaymentMethod.ACH,
    payee_tax_id: str = "",
    sender_id: str = "",
    receiver_id: str = "CLAIMFLOW",
    created_at: datetime | None = None,
    usage: str = "P",
    provider_adjustments: Sequence[ProviderAdjustment] = (),
    fiscal_period_end: date | None = None,
) -> str:
    """One 835 paying `adjudications` (reversals and corrections included, in order) to one
    payee; BPR02 = sum of CLP04 - sum of the PLB amounts, which must not be negative."""
    created_at = created_at or datetime.now(UTC)
    total = sum((a.paid for a in adjudications), Decimal("0.00")) - sum(
        (p.amount for p in provider_adjustments), Decimal("0.00")
    )
    if total < 0:
        raise ValueError(
            f"payment total {total} is negative: carry the balance forward with PLB FB"
        )
    body: list[list[str]] = [
        ["ST", "835", transaction_set_control_number],
        _bpr(total, payer, payee_npi, payment_date, payment_method),
        ["TRN", "1", x12_text(trace_number, 50), f"1{payer.tax_id}"],
    ]
    if receiver_id:
        body.append(["REF", "EV", x12_text(receiver_id, 50)])
    body += [
        ["DTM", "405", _d8(created_at.date())],
        ["N1", "PR", x12_text(payer.name)],
        ["N3", payer.address],
        ["N4", payer.city, payer.state, payer.postal_code],
        ["REF", "2U", x12_text(payer.payer_id, 50)],
        ["PER", "BL", payer.contact_name, "TE", payer.contact_phone],
        ["N1", "PE", x12_text(payee_name) or "UNKNOWN", "XX", x12_text(payee_npi, 10)],
    ]
    if payee_tax_id:
        body.append(["REF", "TJ", x12_text(payee_tax_id, 50)])
    if adjudications:
        body.append(["LX", "1"])
    for adjudication in adjudications:
        body.extend(_claim_payment(adjudication))
    period_end = fiscal_period_end or date(payment_date.year, 12, 31)
    body.extend(_plb(provider_adjustments, payee_npi, period_end))
    return _interchange(
        functional_id="HP",
        version="005010X221A1",
        sender_id=sender_id or payer.payer_id,
        receiver_id=receiver_id,
        interchange_control_number=interchange_control_number,
        group_control_number=group_control_number,
        created_at=created_at,
        usage=usage,
        transactions=[body],
    )


def _bpr(
    total: Decimal, payer: PayerIdentity, payee_npi: str, paid_on: date, method: PaymentMethod
) -> list[str]:
    if not total:
        # Nothing to pay: a notification only (H), no money moves (NON).
        return ["BPR", "H", "0", "C", "NON", *[""] * 11, _d8(paid_on)]
    if method is PaymentMethod.CHECK:
        return ["BPR", "I", x12_amount(total), "C", "CHK", *[""] * 11, _d8(paid_on)]
    routing, account = _payee_bank_account(payee_npi)
    return [
        "BPR",
        "I",
        x12_amount(total),
        "C",
        "ACH",
        "CCP",
        "01",
        payer.routing_number,
        "DA",
        payer.account_number,
        f"1{payer.tax_id}",
        "",
        "01",
        routing,
        "DA",
        account,
        _d8(paid_on),
    ]


def _payee_bank_account(npi: str) -> tuple[str, str]:
    digits = str(int(hashlib.sha256(f"bank:{npi}".encode()).hexdigest()[:20], 16))
    return digits[:9].zfill(9), digits[9:19].zfill(10)


def _claim_payment(a: Adjudication) -> list[list[str]]:
    claim = a.claim
    filing = claim.claim_filing_indicator
    filing = filing if filing in _CLP06_CODES else _CLAIM_FILING_FOR_835.get(filing, "ZZ")
    segments = [
        [
            "CLP",
            x12_text(claim.claim_id, 38),
            a.status,
            x12_amount(a.charge),
            x12_amount(a.paid),
            x12_amount(a.patient_responsibility),
            filing,
            a.payer_claim_number,
            x12_text(claim.place_of_service, 2),
            x12_text(claim.frequency_code, 1),
        ]
    ]
    segments.extend(_cas(a.claim_adjustments))
    segments.append(_patient_nm1(claim))
    if not claim.patient_is_subscriber:
        segments.append(
            [
                "NM1",
                "IL",
                "1",
                x12_text(claim.subscriber_last_name),
                x12_text(claim.subscriber_first_name, 35),
                "",
                "",
                "",
                "MI",
                x12_text(claim.member_id, 80),
            ]
        )
    if a.crossover_carrier is not None:
        carrier = a.crossover_carrier
        name = x12_text(carrier.name) or "CROSSOVER CARRIER"
        segments.append(
            ["NM1", "TT", "2", name, "", "", "", "", "PI", x12_text(carrier.payer_id, 80)]
        )
    segments.extend(_claim_adjudication_info(a))
    if a.original_claim_number:
        segments.append(["REF", "F8", x12_text(a.original_claim_number, 50)])
    dates = sorted(d for line in claim.service_lines for d in _line_dates(line))
    if dates:
        segments.append(["DTM", "232", _d8(dates[0])])
        segments.append(["DTM", "233", _d8(dates[-1])])
    if a.received_on is not None:
        segments.append(["DTM", "050", _d8(a.received_on)])
    for line in a.lines:
        service = line.line
        if service.procedure_code:
            parts = (service.qualifier or "HC", service.procedure_code, *service.modifiers)
        else:
            # An institutional line billed by revenue code alone is reported under NU.
            parts = ("NU", service.revenue_code)
        procedure = _COMPONENT.join(x12_text(part, 48) for part in parts)
        svc = ["SVC", procedure, x12_amount(line.charge), x12_amount(line.paid)]
        revenue = service.revenue_code if service.procedure_code else ""
        if service.units != 1 or revenue:
            svc += [x12_text(revenue, 4), x12_amount(service.units)]
        segments.append(svc)
        if service.service_end_date:
            segments.append(["DTM", "150", _d8(service.service_date or service.service_end_date)])
            segments.append(["DTM", "151", _d8(service.service_end_date)])
        elif service.service_date:
            segments.append(["DTM", "472", _d8(service.service_date)])
        segments.extend(_cas(line.adjustments))
        if service.line_control_number:
            segments.append(["REF", "6R", x12_text(service.line_control_number, 50)])
        if not a.denied:
            segments.append(["AMT", "B6", x12_amount(line.allowed)])
        segments.extend(["LQ", "HE", remark] for remark in line.remarks)
    return segments


def _claim_adjudication_info(a: Adjudication) -> list[list[str]]:
    """MIA for an inpatient institutional claim (covered days, remarks in MIA05 and MIA20-23);
    MOA for any other claim with claim-level remarks (MOA03-07)."""
    remarks = list(a.claim_remarks)
    claim = a.claim
    if claim.institutional_inpatient:
        days = 0
        if claim.statement_from and claim.statement_to:
            days = max((claim.statement_to - claim.statement_from).days, 1)
        mia = ["MIA", str(days), *[""] * 23]
        for position, remark in zip((5, 20, 21, 22, 23), remarks, strict=False):
            mia[position] = remark
        return [mia]
    if remarks:
        return [["MOA", "", "", *remarks[:_MAX_MOA_REMARKS]]]
    return []


def _plb(
    adjustments: Sequence[ProviderAdjustment], payee_npi: str, period_end: date
) -> list[list[str]]:
    """PLB segments, at most six adjustment identifier/amount pairs each."""
    segments = []
    for start in range(0, len(adjustments), _MAX_PLB_PAIRS):
        plb = ["PLB", x12_text(payee_npi, 50), _d8(period_end)]
        for item in adjustments[start : start + _MAX_PLB_PAIRS]:
            identifier = item.reason
            if item.reference:
                identifier += _COMPONENT + x12_text(item.reference, 50)
            plb += [identifier, x12_amount(item.amount)]
        segments.append(plb)
    return segments


def _patient_nm1(claim: SubmittedClaim) -> list[str]:
    nm1 = [
        "NM1",
        "QC",
        "1",
        x12_text(claim.patient_last_name),
        x12_text(claim.patient_first_name, 35),
    ]
    if claim.patient_is_subscriber and claim.member_id:
        nm1 += ["", "", "", "MI", x12_text(claim.member_id, 80)]
    return nm1


def _line_dates(line: ServiceLine) -> list[date]:
    return [d for d in (line.service_date, line.service_end_date) if d is not None]


def _cas(adjustments: Iterable[Adjustment]) -> list[list[str]]:
    """One CAS per group code, at most six reason/amount pairs each, as the guide requires;
    a reason repeated within a group is reported once with the amounts added."""
    by_group: dict[str, dict[str, Decimal]] = {}
    for adjustment in adjustments:
        reasons = by_group.setdefault(adjustment.group, {})
        reasons[adjustment.reason] = reasons.get(adjustment.reason, Decimal("0.00")) + (
            adjustment.amount
        )
    segments = []
    for group, reasons in by_group.items():
        items = [(reason, amount) for reason, amount in reasons.items() if amount]
        for start in range(0, len(items), _MAX_CAS_TRIPLETS):
            cas = ["CAS", group]
            for reason, amount in items[start : start + _MAX_CAS_TRIPLETS]:
                cas += [reason, x12_amount(amount), ""]
            segments.append(cas)
    return segments


# ---- 999 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransactionSetAck:
    control_number: str
    version: str = ""  # ST03 of the acknowledged transaction set
    transaction_set_id: str = "837"
    problems: tuple[ReadProblem, ...] = ()  # transaction and segment scope

    @property
    def accepted(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class GroupAck:
    functional_id: str
    control_number: str
    version: str
    transaction_sets: tuple[TransactionSetAck, ...]
    problems: tuple[ReadProblem, ...] = ()  # group scope: AK905 codes
    envelope_rejected: bool = False  # the interchange around the group is broken

    @property
    def accepted_count(self) -> int:
        if self.problems or self.envelope_rejected:
            return 0
        return sum(ts.accepted for ts in self.transaction_sets)

    @property
    def accepted(self) -> bool:
        return self.accepted_count == len(self.transaction_sets) > 0


def acknowledgments_for(interchange: Interchange837) -> list[GroupAck]:
    """What a 999 says about each functional group of a read 837 interchange."""
    broken_envelope = bool(interchange.envelope_problems)
    return [
        GroupAck(
            functional_id=group.functional_id or "HC",
            control_number=group.control_number or "0",
            version=group.version,
            transaction_sets=tuple(
                TransactionSetAck(
                    control_number=ts.control_number or "0",
                    version=ts.version,
                    problems=tuple(ts.problems),
                )
                for ts in group.transaction_sets
            ),
            problems=tuple(group.problems),
            envelope_rejected=broken_envelope,
        )
        for group in interchange.groups
    ]


def write_999(
    groups: Sequence[GroupAck],
    *,
    interchange_control_number: int,
    sender_id: str = "PAYERSIM",
    receiver_id: str = "CLAIMFLOW",
    group_control_number: int | None = None,
    created_at: datetime | None = None,
    usage: str = "P",
) -> str:
    """One 999 transaction set per acknowledged functional group, in one interchange."""
    transactions = [
        _ack_transaction(group, f"{index:04d}") for index, group in enumerate(groups, start=1)
    ]
    return _interchange(
        functional_id="FA",
        version="005010X231A1",
        sender_id=sender_id,
        receiver_id=receiver_id,
        interchange_control_number=interchange_control_number,
        group_control_number=group_control_number,
        created_at=created_at,
        usage=usage,
        transactions=transactions,
    )


def _ack_transaction(group: GroupAck, control_number: str) -> list[list[str]]:
    body = [
        ["ST", "999", control_number, "005010X231A1"],
        [
            "AK1",
            x12_text(group.functional_id, 2),
            x12_text(group.control_number, 9),
            x12_text(group.version, 12),
        ],
    ]
    for ts in group.transaction_sets:
        body.append(["AK2", ts.transaction_set_id, x12_text(ts.control_number, 9), ts.version])
        for problem in ts.problems:
            if problem.scope is ProblemScope.SEGMENT:
                body.extend(_segment_error(problem))
        ts_codes = sorted(
            {p.code for p in ts.problems if p.scope is ProblemScope.TRANSACTION}, key=_code_order
        )
        body.append(["IK5", "A" if ts.accepted else "R", *ts_codes[:5]])
    group_codes = sorted({p.code for p in group.problems}, key=_code_order)
    received = len(group.transaction_sets)
    accepted = group.accepted_count
    if accepted == received and received:
        status = "A"
    elif accepted:
        status = "P"
    else:
        status = "R"
    body.append(["AK9", status, str(received), str(received), str(accepted), *group_codes[:5]])
    return body


def _segment_error(problem: ReadProblem) -> list[list[str]]:
    segments = [
        [
            "IK3",
            x12_text(problem.segment_id, 3) or "ST",
            str(problem.position or 1),
            x12_text(problem.loop_id, 4),
            problem.code,
        ]
    ]
    if problem.claim_id:
        segments.append(["CTX", f"CLM01{_COMPONENT}{x12_text(problem.claim_id, 38)}"])
    if problem.element_position:
        position = str(problem.element_position)
        if problem.component_position:
            position += f"{_COMPONENT}{problem.component_position}"
        segments.append(
            ["IK4", position, "", problem.element_code, x12_text(problem.bad_value, 99)]
        )
    return segments


def _code_order(code: str) -> tuple[int, str]:
    return (int(code), "") if code.isdigit() else (10**6, code)


# ---- 277CA --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimAcknowledgment:
    claim: SubmittedClaim
    status: tuple[str, ...]  # STC01: category, status code, entity, e.g. ("A7", "562", "85")
    payer_claim_number: str = ""  # REF*1K, for claims accepted into adjudication
    message: str = ""

    @property
    def accepted(self) -> bool:
        return self.status[0] in {"A1", "A2"}


@dataclass(frozen=True)
class _Provider:
    npi: str
    name: str
    acks: list[ClaimAcknowledgment] = field(default_factory=list)


def write_277ca(
    acknowledgments: Sequence[ClaimAcknowledgment],
    *,
    clearinghouse_name: str,
    clearinghouse_id: str,
    submitter_name: str,
    submitter_id: str,
    batch_reference: str,
    received_on: date,
    interchange_control_number: int,
    trace_number: str,
    group_control_number: int | None = None,
    receiver_id: str = "CLAIMFLOW",
    created_at: datetime | None = None,
    usage: str = "P",
) -> str:
    """A 277CA for one received 837 batch: accepted (A2) and rejected (A3/A6/A7) claims."""
    created_at = created_at or datetime.now(UTC)
    today = _d8(created_at.date())
    providers: dict[str, _Provider] = {}
    for ack in acknowledgments:
        npi = ack.claim.billing_provider_npi
        providers.setdefault(npi, _Provider(npi, ack.claim.billing_provider_name)).acks.append(ack)
    body = [
        ["ST", "277", "0001", "005010X214"],
        [
            "BHT",
            "0085",
            "08",
            x12_text(batch_reference, 50) or str(interchange_control_number),
            today,
            created_at.strftime("%H%M%S"),
            "TH",
        ],
        ["HL", "1", "", "20", "1"],
        ["NM1", "AY", "2", x12_text(clearinghouse_name), "", "", "", "", "46", clearinghouse_id],
        ["TRN", "1", x12_text(trace_number, 50)],
        ["DTP", "050", "D8", _d8(received_on)],
        ["DTP", "009", "D8", today],
        ["HL", "2", "1", "21", "1"],
        [
            "NM1",
            "41",
            "2",
            x12_text(submitter_name) or "SUBMITTER",
            "",
            "",
            "",
            "",
            "46",
            x12_text(submitter_id, 80) or "UNKNOWN",
        ],
        ["TRN", "2", x12_text(batch_reference, 50) or "0"],
        ["STC", f"A1{_COMPONENT}20", today, "WQ", x12_amount(_charges(acknowledgments))],
        *_totals("90", "AA", acknowledgments),
    ]
    hl = 2
    for provider in providers.values():
        hl += 1
        provider_hl = hl
        body += [
            ["HL", str(provider_hl), "2", "19", "1"],
            _277_billing_provider(provider),
            ["TRN", "1", x12_text(provider.npi, 50) or "0"],
            ["STC", f"A1{_COMPONENT}20", "", "WQ", x12_amount(_charges(provider.acks))],
            *_totals("QA", "QC", provider.acks),
        ]
        for ack in provider.acks:
            hl += 1
            body += [
                ["HL", str(hl), str(provider_hl), "PT"],
                _277_patient(ack.claim),
                ["TRN", "2", x12_text(ack.claim.claim_id, 50) or "0"],
                _277_claim_status(ack, today),
            ]
            if ack.accepted and ack.payer_claim_number:
                body.append(["REF", "1K", ack.payer_claim_number])
            body.append(_277_service_period(ack.claim, received_on))
    return _interchange(
        functional_id="HN",
        version="005010X214",
        sender_id=clearinghouse_id,
        receiver_id=receiver_id,
        interchange_control_number=interchange_control_number,
        group_control_number=group_control_number,
        created_at=created_at,
        usage=usage,
        transactions=[body],
    )


def _277_billing_provider(provider: _Provider) -> list[str]:
    name = x12_text(provider.name) or "PROVIDER"
    return ["NM1", "85", "2", name, "", "", "", "", "XX", x12_text(provider.npi, 80) or "0"]


def _charges(acks: Iterable[ClaimAcknowledgment]) -> Decimal:
    return sum((ack.claim.total_charge for ack in acks), Decimal("0.00"))


def _totals(
    accepted_qualifier: str, rejected_qualifier: str, acks: Sequence[ClaimAcknowledgment]
) -> list[list[str]]:
    accepted = [a for a in acks if a.accepted]
    rejected = [a for a in acks if not a.accepted]
    segments = []
    if accepted:
        segments.append(["QTY", accepted_qualifier, str(len(accepted))])
    if rejected:
        segments.append(["QTY", rejected_qualifier, str(len(rejected))])
    if accepted:
        segments.append(["AMT", "YU", x12_amount(_charges(accepted))])
    if rejected:
        segments.append(["AMT", "YY", x12_amount(_charges(rejected))])
    return segments


def _277_patient(claim: SubmittedClaim) -> list[str]:
    return [
        "NM1",
        "QC",
        "1",
        x12_text(claim.patient_last_name) or "UNKNOWN",
        x12_text(claim.patient_first_name, 35),
        "",
        "",
        "",
        "MI",
        x12_text(claim.member_id, 80) or "UNKNOWN",
    ]


def _277_claim_status(ack: ClaimAcknowledgment, today: str) -> list[str]:
    stc = [
        "STC",
        _COMPONENT.join(ack.status),
        today,
        "WQ" if ack.accepted else "U",
        x12_amount(ack.claim.total_charge),
    ]
    if ack.message:
        stc += ["", "", "", "", "", "", "", x12_text(ack.message, 264)]
    return stc


def _277_service_period(claim: SubmittedClaim, fallback: date) -> list[str]:
    dates = sorted(d for line in claim.service_lines for d in _line_dates(line)) or [fallback]
    if dates[0] == dates[-1]:
        return ["DTP", "472", "D8", _d8(dates[0])]
    return ["DTP", "472", "RD8", f"{_d8(dates[0])}-{_d8(dates[-1])}"]
