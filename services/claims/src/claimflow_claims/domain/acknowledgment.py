"""What the clearinghouse's answers mean: the 999 verdict on each transaction set, the 277CA
status of each claim, and so the events each claim of one interchange goes through.

The X12 readers that produce these live in `claimflow_claims.adapters.x12`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cache

from claimflow_claims.domain.states import ClaimEvent
from claimflow_claims.domain.tables import DATA_DIR, read_rule_table


class AckStatus(StrEnum):
    """The verdict of a 999 on a transaction set (IK501) or a functional group (AK901)."""

    ACCEPTED = "accepted"
    ACCEPTED_WITH_ERRORS = "accepted-with-errors"
    PARTIALLY_ACCEPTED = "partially-accepted"
    REJECTED = "rejected"


# M, W and X are rejections for security/decryption reasons; P only appears in AK9.
ACK_CODES = {
    "A": AckStatus.ACCEPTED,
    "E": AckStatus.ACCEPTED_WITH_ERRORS,
    "P": AckStatus.PARTIALLY_ACCEPTED,
    "R": AckStatus.REJECTED,
    "M": AckStatus.REJECTED,
    "W": AckStatus.REJECTED,
    "X": AckStatus.REJECTED,
}


class ClaimOutcome(StrEnum):
    """What a 277CA says about one claim."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PENDING = "pending"


@cache
def _code_meanings() -> dict[tuple[str, str], tuple[str, str]]:
    rows = read_rule_table(DATA_DIR / "x12_ack_codes.csv", columns=("kind", "code", "meaning"))
    return {(row["kind"], row["code"]): (row["outcome"], row["meaning"]) for row in rows}


def _meaning(kind: str, code: str) -> str | None:
    known = _code_meanings().get((kind, code))
    return known[1] if known else None


def describe_code(kind: str, code: str) -> str:
    """`code` followed by its meaning when we know it, e.g. `3 (required segment missing)`."""
    meaning = _meaning(kind, code)
    return f"{code} ({meaning})" if meaning else code


@dataclass(frozen=True)
class ElementError:
    """IK4: which element of the segment is wrong and how."""

    position: str
    data_element: str
    error_code: str
    bad_value: str = ""


@dataclass(frozen=True)
class SegmentError:
    """IK3 (with its CTX and IK4s): a segment of the submitted file that is wrong."""

    segment_id: str
    position: str
    loop_id: str
    error_code: str
    claim_id: str | None = None
    element_errors: tuple[ElementError, ...] = ()

    def describe(self) -> str:
        where = f"{self.segment_id} (segment {self.position}"
        where += f", loop {self.loop_id})" if self.loop_id else ")"
        parts = [f"{where}: {describe_code('ik3', self.error_code)}"]
        for element in self.element_errors:
            value = f" value {element.bad_value!r}" if element.bad_value else ""
            parts.append(
                f"element {element.position}: {describe_code('ik4', element.error_code)}{value}"
            )
        return "; ".join(parts)


@dataclass(frozen=True)
class TransactionSetAck:
    """AK2..IK5: the verdict on one transaction set (one ST..SE of our 837)."""

    transaction_set_id: str
    control_number: str
    group_control_number: str
    status: AckStatus
    error_codes: tuple[str, ...] = ()
    segment_errors: tuple[SegmentError, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status in {AckStatus.ACCEPTED, AckStatus.ACCEPTED_WITH_ERRORS}

    def reasons(self) -> list[str]:
        """Readable reasons, suitable for `ClaimRejected.reasons`."""
        return [f"999 IK5 {describe_code('ik5', code)}" for code in self.error_codes] + [
            f"999 IK3 {error.describe()}" for error in self.segment_errors
        ]


@dataclass(frozen=True)
class GroupAck:
    """AK1..AK9: the verdict on one functional group (GS..GE) of our interchange."""

    functional_id: str
    control_number: str
    version: str
    status: AckStatus
    transaction_sets: tuple[TransactionSetAck, ...]
    included: int | None = None
    received: int | None = None
    accepted: int | None = None
    error_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ack999:
    groups: tuple[GroupAck, ...]
    problems: tuple[str, ...] = ()

    @property
    def transaction_sets(self) -> tuple[TransactionSetAck, ...]:
        return tuple(ts for group in self.groups for ts in group.transaction_sets)

    def for_transaction(
        self, *, group_control_number: str, control_number: str
    ) -> TransactionSetAck | None:
        """The verdict on one of our transaction sets, matched on GS06 and ST02."""
        for ts in self.transaction_sets:
            if (ts.group_control_number, ts.control_number) == (
                str(group_control_number),
                str(control_number),
            ):
                return ts
        return None


@dataclass(frozen=True)
class StatusCode:
    """One STC composite: category (A1..A8, ...), status code and the entity it concerns."""

    category: str
    status: str = ""
    entity: str = ""

    def __str__(self) -> str:
        return ":".join(part for part in (self.category, self.status, self.entity) if part)


@dataclass(frozen=True)
class LineStatus:
    """2220D: the status of one service line, when the payer reports lines."""

    procedure: str
    charge: Decimal | None
    line_control_number: str | None
    status_codes: tuple[StatusCode, ...]
    outcome: ClaimOutcome


@dataclass(frozen=True)
class ClaimStatus:
    """2200D: what the payer's front end did with one of our claims."""

    claim_id: str
    outcome: ClaimOutcome
    status_codes: tuple[StatusCode, ...]
    payer_claim_number: str | None = None
    status_date: date | None = None
    total_charge: Decimal | None = None
    lines: tuple[LineStatus, ...] = ()

    def reasons(self) -> list[str]:
        """Readable reasons, suitable for `ClaimRejected.reasons`."""
        reasons = []
        for code in self.status_codes:
            meaning = _meaning("stc", code.category)
            reasons.append(f"277CA STC {code}" + (f" ({meaning})" if meaning else ""))
        return reasons


def outcome_of(codes: tuple[StatusCode, ...]) -> ClaimOutcome:
    """Rejected if any category rejects, accepted if any accepts, else pending."""
    outcomes = {_code_meanings().get(("stc", code.category), ("", ""))[0] for code in codes}
    if ClaimOutcome.REJECTED.value in outcomes:
        return ClaimOutcome.REJECTED
    if ClaimOutcome.ACCEPTED.value in outcomes:
        return ClaimOutcome.ACCEPTED
    return ClaimOutcome.PENDING


@dataclass(frozen=True)
class ClaimAcknowledgment:
    events: tuple[ClaimEvent, ...]  # applied after SUBMITTED, in order
    reasons: tuple[str, ...] = ()
    rejected_by: str | None = None  # "999" or "277CA"
    codes: tuple[str, ...] = ()  # STC composites or 999 error codes behind the verdict
    payer_claim_number: str | None = None  # 277CA REF*1K

    @property
    def submitted(self) -> bool:
        return self.rejected_by is None

    @property
    def accepted_by(self) -> str | None:
        """Who accepted the claim for adjudication: the 277CA, else none yet."""
        if ClaimEvent.ACK_277CA_ACCEPTED in self.events:
            return "277CA"
        return None


def _codes_999(verdict: TransactionSetAck | None) -> tuple[str, ...]:
    if verdict is None:
        return ()
    return tuple(verdict.error_codes) + tuple(
        f"{e.segment_id}:{e.error_code}" for e in verdict.segment_errors
    )


def acknowledge_claims(
    claim_ids: Iterable[str],
    *,
    ack_999: Ack999,
    group_control_number: str,
    transaction_control_number: str,
    statuses_277ca: Iterable[ClaimStatus] = (),
    already_held: Iterable[str] = (),
) -> dict[str, ClaimAcknowledgment]:
    """What the 999 (for our transaction set GS06/ST02) and the 277CA say about each claim
    of that transaction set, as the events each claim goes through."""
    verdict = ack_999.for_transaction(
        group_control_number=group_control_number, control_number=transaction_control_number
    )
    front_end = {status.claim_id: status for status in statuses_277ca}
    held = set(already_held)
    outcomes: dict[str, ClaimAcknowledgment] = {}
    for claim_id in claim_ids:
        status = front_end.get(claim_id)
        if claim_id in held:
            # A resubmission after a crash: the clearinghouse took this claim the first time,
            # and its duplicate check answers with the original 999 (not our ST).
            outcomes[claim_id] = ClaimAcknowledgment(
                (ClaimEvent.ACK_999_ACCEPTED,),
                ("clearinghouse already held this claim from an earlier attempt",),
            )
        elif verdict is None or not verdict.accepted:
            reasons = verdict.reasons() if verdict else ["999 did not acknowledge our ST"]
            outcomes[claim_id] = ClaimAcknowledgment(
                (ClaimEvent.ACK_999_REJECTED,),
                tuple(reasons or ["999 rejected"]),
                "999",
                _codes_999(verdict),
            )
        elif status is None or status.outcome is ClaimOutcome.PENDING:
            outcomes[claim_id] = ClaimAcknowledgment(
                (ClaimEvent.ACK_999_ACCEPTED,),
                (f"999 {verdict.status.value}",),
                codes=tuple(str(c) for c in status.status_codes) if status else (),
            )
        elif status.outcome is ClaimOutcome.REJECTED:
            outcomes[claim_id] = ClaimAcknowledgment(
                (ClaimEvent.ACK_999_ACCEPTED, ClaimEvent.ACK_277CA_REJECTED),
                tuple(status.reasons() or ["277CA rejected"]),
                "277CA",
                tuple(str(c) for c in status.status_codes),
            )
        else:
            outcomes[claim_id] = ClaimAcknowledgment(
                (ClaimEvent.ACK_999_ACCEPTED, ClaimEvent.ACK_277CA_ACCEPTED),
                ("999 accepted", *status.reasons()),
                codes=tuple(str(c) for c in status.status_codes),
                payer_claim_number=status.payer_claim_number,
            )
    return outcomes
