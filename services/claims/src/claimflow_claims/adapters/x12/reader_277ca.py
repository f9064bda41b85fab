"""The 277CA reader: what the payer's front end did with each claim we sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from claimflow_claims.domain.acknowledgment import (
    ClaimStatus,
    LineStatus,
    StatusCode,
    outcome_of,
)
from claimflow_shared.x12 import Segment, X12Error, parse_amount, parse_d8, read_segments


def _status_codes(stc: Segment) -> list[StatusCode]:
    # STC01 is the main status; STC10 and STC11 carry up to two more.
    codes = []
    for index in (1, 10, 11):
        parts = [*stc.components(index), "", ""]
        if parts[0]:
            codes.append(StatusCode(category=parts[0], status=parts[1], entity=parts[2]))
    return codes


@dataclass
class _LineDraft:
    svc: Segment
    control_number: str | None = None
    codes: list[StatusCode] = field(default_factory=list)


@dataclass
class _ClaimDraft:
    claim_id: str = ""
    payer_claim_number: str | None = None
    codes: list[StatusCode] = field(default_factory=list)
    status_date: date | None = None
    total_charge: Decimal | None = None
    lines: list[_LineDraft] = field(default_factory=list)

    def finish(self) -> ClaimStatus:
        codes = tuple(self.codes)
        return ClaimStatus(
            claim_id=self.claim_id,
            outcome=outcome_of(codes),
            status_codes=codes,
            payer_claim_number=self.payer_claim_number,
            status_date=self.status_date,
            total_charge=self.total_charge,
            lines=tuple(
                LineStatus(
                    procedure=":".join(p for p in line.svc.components(1) if p),
                    charge=parse_amount(line.svc.el(2)),
                    line_control_number=line.control_number,
                    status_codes=tuple(line.codes),
                    outcome=outcome_of(tuple(line.codes)),
                )
                for line in self.lines
            ),
        )


def read_277ca(text: str) -> list[ClaimStatus]:
    """The claim-level statuses of a 277CA, one per patient (PT) hierarchical level."""
    segments = list(read_segments(text))
    if not any(s.id == "ST" and s.el(1) == "277" for s in segments):
        raise X12Error("not a 277CA acknowledgment: no ST*277 segment")
    claims: list[_ClaimDraft] = []
    current: _ClaimDraft | None = None
    for segment in segments:
        if segment.id == "HL":
            # Only the patient level (HL03 = PT) is about one claim; the levels above report
            # on the whole batch and the provider.
            current = _ClaimDraft() if segment.el(3) == "PT" else None
            if current is not None:
                claims.append(current)
            continue
        if current is None:
            continue
        line = current.lines[-1] if current.lines else None
        match segment.id, segment.el(1):
            case "TRN", "2":
                current.claim_id = segment.el(2)
            case "STC", _ if line is not None:
                line.codes.extend(_status_codes(segment))
            case "STC", _:
                current.codes.extend(_status_codes(segment))
                current.status_date = current.status_date or parse_d8(segment.el(2))
                current.total_charge = current.total_charge or parse_amount(segment.el(4))
            case "REF", "1K" if line is None:
                current.payer_claim_number = segment.el(2)
            case "REF", "FJ" if line is not None:
                line.control_number = segment.el(2)
            case "SVC", _:
                current.lines.append(_LineDraft(segment))
    return [claim.finish() for claim in claims]
