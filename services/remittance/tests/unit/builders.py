"""Builders for service-layer tests: `claim.submitted` events and small, balanced 835s."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from claimflow_shared.events import ClaimRejected, ClaimSubmitted, EventEnvelope
from claimflow_shared.events.envelope import new_event

BILLING_NPI = "1234567893"
OTHER_NPI = "1987654328"  # a second valid NPI (Luhn over 80840 + 9 digits)
SERVICE_DAY = date(2024, 1, 10)


def submitted(
    claim_id: str,
    *,
    tenant: str = "t1",
    lines: Sequence[tuple[str, str]] = (("99213", "150.00"), ("36415", "50.00")),
    modifiers: Sequence[Sequence[str]] | None = None,
    npi: str = BILLING_NPI,
    frequency: str = "1",
    encounter_id: str | None = None,
    mrn: str = "MRN-1",
    occurred_at: datetime | None = None,
) -> EventEnvelope[ClaimSubmitted]:
    claim_lines = [
        {
            "line_number": n,
            "code_system": "CPT",
            "code": code,
            "modifiers": list(modifiers[n - 1]) if modifiers else [],
            "units": 1,
            "service_date": SERVICE_DAY.isoformat(),
            "diagnosis_pointers": [1],
            "charge": charge,
        }
        for n, (code, charge) in enumerate(lines, start=1)
    ]
    payload = ClaimSubmitted.model_validate(
        {
            "claim_id": claim_id,
            "claim_type": "837P",
            "frequency_code": frequency,
            "payer": {"payer_id": "ACME1", "name": "ACME HEALTH"},
            "member_id": "M123",
            "patient": {
                "mrn": mrn,
                "first_name": "Ann",
                "last_name": "Lee",
                "birth_date": "1980-01-01",
                "sex": "F",
                "address": {
                    "line1": "1 Main St",
                    "city": "Boston",
                    "state": "MA",
                    "postal_code": "02110",
                },
            },
            "billing_npi": npi,
            "diagnoses": ["J06.9"],
            "lines": claim_lines,
            "total_charge": str(sum(Decimal(c) for _, c in lines)),
            "interchange_control_number": "000000001",
            "group_control_number": "1",
            "transaction_control_number": "0001",
            "file_reference": "f1",
            "submitted_at": datetime.now(UTC).isoformat(),
        }
    )
    event = new_event(
        event_type="claim.submitted",
        schema_version="1.0",
        tenant_id=tenant,
        encounter_id=encounter_id or f"E{claim_id}",
        payload=payload,
        producer="test",
    )
    if occurred_at is not None:
        event = event.model_copy(update={"occurred_at": occurred_at})
    return event


def rejected(claim_id: str, *, tenant: str = "t1", stage: str = "277CA") -> EventEnvelope:
    return new_event(
        event_type="claim.rejected",
        schema_version="1.0",
        tenant_id=tenant,
        encounter_id=f"E{claim_id}",
        payload=ClaimRejected(claim_id=claim_id, stage=stage, reasons=["A7:562:85"]),
        producer="test",
    )


def days_ago(n: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=n)


def _amount(value: Decimal) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


class Clp:
    """One claim payment, balanced by construction: lines (code, charge, paid, CAS, RARCs)
    and claim-level CAS; CLP04 and CLP05 are computed."""

    def __init__(
        self,
        claim_id: str,
        *,
        status: str = "1",
        payer_claim_number: str = "PCN1",
        lines: Sequence[tuple] = (),
        claim_cas: Sequence[tuple[str, str, str]] = (),
        extra: Sequence[str] = (),
        remarks: Sequence[str] = (),
        sign: int = 1,
    ) -> None:
        self.claim_id = claim_id
        self.status = status
        self.pcn = payer_claim_number
        self.lines = list(lines)  # (code, charge, paid, [(group, carc, amount)], [rarcs])
        self.claim_cas = list(claim_cas)
        self.extra = list(extra)
        self.remarks = list(remarks)
        self.sign = sign

    @property
    def charge(self) -> Decimal:
        return sum((Decimal(line[1]) for line in self.lines), Decimal("0")) * self.sign

    @property
    def paid(self) -> Decimal:
        lines = sum((Decimal(line[2]) for line in self.lines), Decimal("0"))
        claim = sum((Decimal(a) for _, _, a in self.claim_cas), Decimal("0"))
        return (lines - claim) * self.sign

    @property
    def patient(self) -> Decimal:
        amounts = [Decimal(a) for g, _, a in self.claim_cas if g == "PR"]
        for line in self.lines:
            amounts += [Decimal(a) for g, _, a in line[3] if g == "PR"]
        return sum(amounts, Decimal("0")) * self.sign

    def segments(self) -> list[str]:
        s = self.sign
        out = [
            f"CLP*{self.claim_id}*{self.status}*{_amount(self.charge)}*{_amount(self.paid)}"
            f"*{_amount(self.patient)}*12*{self.pcn}*11*1"
        ]
        out += [f"CAS*{g}*{r}*{_amount(Decimal(a) * s)}" for g, r, a in self.claim_cas]
        out.append("NM1*QC*1*LEE*ANN****MI*M123")
        if self.remarks:
            out.append("MOA***" + "*".join(self.remarks))
        out += self.extra
        out.append(f"DTM*232*{SERVICE_DAY:%Y%m%d}")
        for code, charge, paid, cas, *rest in self.lines:
            out.append(f"SVC*HC:{code}*{_amount(Decimal(charge) * s)}*{_amount(Decimal(paid) * s)}")
            out.append(f"DTM*472*{SERVICE_DAY:%Y%m%d}")
            out += [f"CAS*{g}*{r}*{_amount(Decimal(a) * s)}" for g, r, a in cas]
            for rarc in rest[0] if rest else ():
                out.append(f"LQ*HE*{rarc}")
        return out


def era(
    *claims: Clp,
    trace: str | None = None,
    payee_npi: str = BILLING_NPI,
    plb: Sequence[tuple[str, str]] = (),
    interchange: str = "000000001",
    payer_tin: str = "1990000001",
) -> str:
    """One balanced 835 transaction in a 5010 envelope; `plb` pairs (reason, amount)."""
    trace = trace or f"TRN{uuid.uuid4().hex[:10].upper()}"
    total = sum((c.paid for c in claims), Decimal("0")) - sum(
        (Decimal(a) for _, a in plb), Decimal("0")
    )
    bpr = (
        f"BPR*I*{_amount(total)}*C*ACH************20240115"
        if total
        else "BPR*H*0*C*NON************20240115"
    )
    body = [
        "ST*835*0001",
        bpr,
        f"TRN*1*{trace}*{payer_tin}",
        "DTM*405*20240114",
        "N1*PR*ACME HEALTH",
        "REF*2U*ACME1",
        f"N1*PE*GOOD CLINIC*XX*{payee_npi}",
        "LX*1",
    ]
    for claim in claims:
        body += claim.segments()
    if plb:
        body.append(f"PLB*{payee_npi}*20241231*" + "*".join(f"{r}*{a}" for r, a in plb))
    body.append(f"SE*{len(body) + 1}*0001")
    envelope = [
        "ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLINIC         *240115*1200*^"
        f"*00501*{interchange}*0*P*:",
        "GS*HP*PAYER*CLINIC*20240115*1200*1*X*005010X221A1",
        *body,
        "GE*1*1",
        f"IEA*1*{interchange}",
    ]
    return "~\n".join(envelope) + "~\n"


def paid_clp(claim_id: str, **kw) -> Clp:
    """$200 billed, $120 paid, $30 coinsurance, $50 contractual."""
    return Clp(
        claim_id,
        lines=[
            ("99213", "150.00", "90.00", [("CO", "45", "30.00"), ("PR", "2", "30.00")]),
            ("36415", "50.00", "30.00", [("CO", "45", "20.00")]),
        ],
        **kw,
    )


def partial_clp(claim_id: str, **kw) -> Clp:
    """The venipuncture line denied CO-97 (bundled), the visit paid."""
    return Clp(
        claim_id,
        lines=[
            ("99213", "150.00", "120.00", [("CO", "45", "30.00")]),
            ("36415", "50.00", "0", [("CO", "97", "50.00")], ["M15"]),
        ],
        **kw,
    )


def denied_clp(claim_id: str, **kw) -> Clp:
    """Denied in full as payers send it today: CLP02 1 with CLP04 0, CO-50 N115."""
    return Clp(
        claim_id,
        lines=[
            ("99213", "150.00", "0", [("CO", "50", "150.00")], ["N115"]),
            ("36415", "50.00", "0", [("CO", "50", "50.00")]),
        ],
        **kw,
    )
