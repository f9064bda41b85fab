"""Who a document is from and to: the practice, the payer, the patient."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Contact:
    name: str
    address: tuple[str, ...] = ()
    identifier: str = ""  # the practice's NPI, the payer's id, the patient's account number
    phone: str = ""
