"""When two 835 imports are the same remittance: the same transactions (whatever envelope
or line breaks wrap them), or the same payer's payment trace number."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from claimflow_remittance.domain.era_model import Remittance
from claimflow_shared.x12 import read_segments

_ENVELOPE = frozenset({"ISA", "GS", "GE", "IEA", "TA1"})


@dataclass(frozen=True)
class PaymentKey:
    """A payer's payment: TRN02 is unique per payer (TRN03 / N1*PR id) by the guide."""

    payer: str
    trace_number: str


@dataclass(frozen=True)
class ImportIdentity:
    content_sha256: str
    payments: tuple[PaymentKey, ...]


def content_sha256(text: str) -> str:
    """Hash of the transactions' segments only: a clearinghouse re-enveloping the same 835,
    or a file re-saved with other line breaks, hashes the same."""
    digest = hashlib.sha256()
    for segment in read_segments(text):
        if segment.id not in _ENVELOPE:
            digest.update("*".join(segment.elements).encode("utf-8", "replace"))
            digest.update(b"~")
    return digest.hexdigest()


def payment_key(remittance: Remittance) -> PaymentKey | None:
    """The payer's payment one transaction carries, or None when it identifies none."""
    trace = remittance.trace.number.strip()
    # A blank or all-zero trace (notices without payment) identifies nothing.
    if not trace or not trace.strip("0"):
        return None
    # TRN03 is required and is the payer's own id; REF*2U and the name are fallbacks.
    payer = remittance.trace.originator_id or remittance.payer.payer_id or remittance.payer.name
    return PaymentKey(payer.strip().upper(), trace) if payer.strip() else None


def payment_keys(remittances: Sequence[Remittance]) -> tuple[PaymentKey, ...]:
    return tuple(key for r in remittances if (key := payment_key(r)) is not None)


def import_identity(text: str, remittances: Sequence[Remittance]) -> ImportIdentity:
    return ImportIdentity(content_sha256(text), payment_keys(remittances))


def duplicate_reason(
    identity: ImportIdentity,
    *,
    known_hashes: Collection[str],
    known_payments: Collection[PaymentKey],
) -> str | None:
    """Why this import repeats an earlier one, or None when it is new."""
    if identity.content_sha256 in known_hashes:
        return "the same transactions were imported before"
    for key in identity.payments:
        if key in known_payments:
            return f"payer {key.payer} trace {key.trace_number} was imported before"
    return None
