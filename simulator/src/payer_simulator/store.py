"""The simulator's memory: one SQLite file holding submissions, the claims adjudicated from them
(queued until an 835 remits them), reprocessings waiting for a later 835, the members'
deductible and out-of-pocket accumulators, what the payer carries for each payee between 835s
(forward balances, held overpayment recoveries) and the 835 files produced, so a restart
loses nothing."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pydantic import TypeAdapter

from payer_simulator.benefits import BenefitState
from payer_simulator.model import Adjudication
from payer_simulator.provider_adjustments import HeldRecovery, PayeeLedger
from payer_simulator.reader837 import SubmittedClaim

_ADJUDICATION = TypeAdapter(Adjudication)
_HELD = TypeAdapter(tuple[HeldRecovery, ...])

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    submission_id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    accepted INTEGER NOT NULL,
    ack_999 TEXT NOT NULL,
    ack_277ca TEXT,
    claims_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    claim_id TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions (submission_id),
    payer_id TEXT NOT NULL,
    billing_npi TEXT NOT NULL,
    denied INTEGER NOT NULL,
    charge_cents INTEGER NOT NULL,
    paid_cents INTEGER NOT NULL,
    adjudication_json TEXT NOT NULL,
    remittance_seq INTEGER REFERENCES remittances (seq)
);
CREATE INDEX IF NOT EXISTS claims_queued ON claims (remittance_seq)
    WHERE remittance_seq IS NULL;
CREATE TABLE IF NOT EXISTS remittances (
    seq INTEGER PRIMARY KEY,
    file_name TEXT NOT NULL UNIQUE,
    payer_id TEXT NOT NULL,
    billing_npi TEXT NOT NULL,
    claim_count INTEGER NOT NULL,
    paid_cents INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    content TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
    claim_id TEXT NOT NULL,
    interchange_control_number TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_claim ON receipts (claim_id);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reprocessings (
    claim_id TEXT PRIMARY KEY REFERENCES claims (claim_id),
    payer_id TEXT NOT NULL,
    billing_npi TEXT NOT NULL,
    correction_icn TEXT NOT NULL,
    paid_cents INTEGER NOT NULL,
    reversal_json TEXT NOT NULL,
    correction_json TEXT NOT NULL,
    remittance_seq INTEGER REFERENCES remittances (seq)
);
CREATE INDEX IF NOT EXISTS reprocessings_by_icn ON reprocessings (correction_icn);
CREATE TABLE IF NOT EXISTS benefit_accumulators (
    member_key TEXT NOT NULL,
    year INTEGER NOT NULL,
    deductible_met_cents INTEGER NOT NULL,
    out_of_pocket_met_cents INTEGER NOT NULL,
    PRIMARY KEY (member_key, year)
);
CREATE TABLE IF NOT EXISTS payee_ledgers (
    payer_id TEXT NOT NULL,
    billing_npi TEXT NOT NULL,
    forward_balance_cents INTEGER NOT NULL,
    forward_reference TEXT NOT NULL,
    held_json TEXT NOT NULL,
    PRIMARY KEY (payer_id, billing_npi)
);
"""

# Columns added after the first release; an older simulator.db gets them on open.
_ADDED_COLUMNS = {
    "claims": (
        ("status", "TEXT NOT NULL DEFAULT ''"),
        ("payer_claim_number", "TEXT NOT NULL DEFAULT ''"),
        ("fingerprint", "TEXT"),
        ("after_claim_id", "TEXT"),
        ("superseded", "INTEGER NOT NULL DEFAULT 0"),
        ("reversal_json", "TEXT"),
    ),
    "remittances": (("provider_adjustment_cents", "INTEGER NOT NULL DEFAULT 0"),),
}
_INDEXES = """
CREATE INDEX IF NOT EXISTS claims_by_icn ON claims (payer_claim_number);
CREATE INDEX IF NOT EXISTS claims_by_fingerprint ON claims (fingerprint)
    WHERE fingerprint IS NOT NULL;
"""


def _cents(amount: Decimal) -> int:
    return int(amount * 100)


def _migrate(conn: sqlite3.Connection) -> None:
    for table, columns in _ADDED_COLUMNS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, definition in columns:
            if name not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
    conn.executescript(_INDEXES)


def _dollars(cents: int | None) -> Decimal:
    return (Decimal(cents or 0) / 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class SubmissionRecord:
    submission_id: str
    received_at: str
    accepted: bool
    ack_999: str
    ack_277ca: str | None
    claims: list[dict[str, str]]


@dataclass(frozen=True)
class NewClaim:
    """A claim accepted into adjudication, as the store keeps it."""

    submitted: SubmittedClaim
    adjudication: Adjudication  # what its 835 reports (for a void: the reversal)
    payer_claim_number: str  # the number the 277CA gave it (REF*1K)
    fingerprint: str | None = None  # for exact-duplicate detection; None: never matched
    after_claim_id: str | None = None  # remitted only after this claim (and its reprocessing)
    reversal: Adjudication | None = None  # written just before it (a replacement's original)
    superseded: bool = False


@dataclass(frozen=True)
class ClaimOnFile:
    claim_id: str
    payer_id: str
    billing_npi: str
    payer_claim_number: str
    current: Adjudication  # what the payer last paid on it: a correction if reprocessed
    superseded: bool


@dataclass(frozen=True)
class QueuedItem:
    """What goes into an 835 together: one adjudication, or a reversal and what follows it."""

    payer_id: str
    billing_npi: str
    adjudications: tuple[Adjudication, ...]
    claim_id: str = ""  # a claims row remitted by this item
    reprocessing_of: str = ""  # or the claim whose reprocessing it is


@dataclass(frozen=True)
class RemittanceFile:
    seq: int
    file_name: str
    content: str


class Store:
    """A single SQLite connection shared by request threads and the batcher, one at a time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(_SCHEMA)
        _migrate(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def ping(self) -> bool:
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")


class Transaction:
    """Reads and writes inside one SQLite transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _next(self, counter: str, by: int = 1) -> int:
        row = self._conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value RETURNING value",
            (counter, by),
        ).fetchone()
        return int(row[0])

    def next_control_number(self) -> int:
        """ISA13/GS06 for the next interchange the simulator sends; never reused."""
        return self._next("interchange_control_number")

    def count(self, counter: str, by: int) -> None:
        if by:
            self._next(counter, by)

    def submissions_of(self, claim_ids: Iterable[str]) -> dict[str, str]:
        ids = list(set(claim_ids))
        found: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                self._conn.execute(
                    f"SELECT claim_id, submission_id FROM claims WHERE claim_id IN ({marks})",
                    chunk,
                ).fetchall()
            )
        return found

    def submission(self, submission_id: str) -> SubmissionRecord | None:
        row = self._conn.execute(
            "SELECT submission_id, received_at, accepted, ack_999, ack_277ca, claims_json "
            "FROM submissions WHERE submission_id = ?",
            (submission_id,),
        ).fetchone()
        if row is None:
            return None
        return SubmissionRecord(row[0], row[1], bool(row[2]), row[3], row[4], json.loads(row[5]))

    def add_submission(self, record: SubmissionRecord, claims: Sequence[NewClaim]) -> None:
        self._conn.execute(
            "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.submission_id,
                record.received_at,
                int(record.accepted),
                record.ack_999,
                record.ack_277ca,
                json.dumps(record.claims),
            ),
        )
        self._conn.executemany(
            "INSERT INTO claims (claim_id, submission_id, payer_id, billing_npi, denied, "
            "charge_cents, paid_cents, adjudication_json, remittance_seq, status, "
            "payer_claim_number, fingerprint, after_claim_id, superseded, reversal_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)",
            [
                (
                    c.submitted.claim_id,
                    record.submission_id,
                    c.submitted.payer_id,
                    c.submitted.billing_provider_npi,
                    int(c.adjudication.denied),
                    _cents(c.submitted.total_charge),
                    _cents(c.adjudication.paid + (c.reversal.paid if c.reversal else 0)),
                    _ADJUDICATION.dump_json(c.adjudication).decode(),
                    c.adjudication.status,
                    c.payer_claim_number,
                    c.fingerprint,
                    c.after_claim_id,
                    int(c.superseded),
                    _ADJUDICATION.dump_json(c.reversal).decode() if c.reversal else None,
                )
                for c in claims
            ],
        )

    def add_reprocessing(
        self, original: Adjudication, reversal: Adjudication, correction: Adjudication
    ) -> None:
        """A paid claim the payer will reverse and pay again in an 835 after its first one."""
        claim = original.claim
        self._conn.execute(
            "INSERT INTO reprocessings VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                claim.claim_id,
                claim.payer_id,
                claim.billing_provider_npi,
                correction.payer_claim_number,
                _cents(correction.paid + reversal.paid),
                _ADJUDICATION.dump_json(reversal).decode(),
                _ADJUDICATION.dump_json(correction).decode(),
            ),
        )

    def claim_on_file(self, payer_claim_number: str) -> ClaimOnFile | None:
        """The claim the payer numbered so (its own number, or its correction's)."""
        row = self._conn.execute(
            "SELECT c.claim_id, c.payer_id, c.billing_npi, c.payer_claim_number, "
            "c.adjudication_json, c.superseded, r.correction_json FROM claims c "
            "LEFT JOIN reprocessings r ON r.claim_id = c.claim_id "
            "WHERE c.payer_claim_number = ? OR r.correction_icn = ? LIMIT 1",
            (payer_claim_number, payer_claim_number),
        ).fetchone()
        if row is None:
            return None
        current = _ADJUDICATION.validate_json(row[6] or row[4])
        return ClaimOnFile(row[0], row[1], row[2], row[3], current, bool(row[5]))

    def supersede(self, claim_id: str) -> None:
        """A void or replacement took the claim's place: it can no longer be voided, replaced
        or matched as a duplicate."""
        self._conn.execute(
            "UPDATE claims SET superseded = 1, fingerprint = NULL WHERE claim_id = ?",
            (claim_id,),
        )

    def is_duplicate(self, fingerprint: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM claims WHERE fingerprint = ? AND superseded = 0 LIMIT 1",
            (fingerprint,),
        ).fetchone()
        return row is not None

    def benefit_states(self, member_key: str, years: Iterable[int]) -> dict[int, BenefitState]:
        found = {}
        for year in sorted(set(years)):
            row = self._conn.execute(
                "SELECT deductible_met_cents, out_of_pocket_met_cents FROM benefit_accumulators "
                "WHERE member_key = ? AND year = ?",
                (member_key, year),
            ).fetchone()
            if row is not None:
                found[year] = BenefitState(_dollars(row[0]), _dollars(row[1]))
        return found

    def set_benefit_states(self, member_key: str, states: dict[int, BenefitState]) -> None:
        self._conn.executemany(
            "INSERT INTO benefit_accumulators VALUES (?, ?, ?, ?) "
            "ON CONFLICT (member_key, year) DO UPDATE SET "
            "deductible_met_cents = excluded.deductible_met_cents, "
            "out_of_pocket_met_cents = excluded.out_of_pocket_met_cents",
            [
                (member_key, year, _cents(s.deductible_met), _cents(s.out_of_pocket_met))
                for year, s in states.items()
            ],
        )

    def queued_items(self) -> list[QueuedItem]:
        """Everything due in the next 835s, in the order received: claims whose original (for
        a void or replacement) went out in an earlier 835, then reprocessings of claims whose
        first payment did. Read before any new file is written, so what follows an earlier
        payment always lands in a later 835."""
        rows = self._conn.execute(
            "SELECT c.claim_id, c.payer_id, c.billing_npi, c.adjudication_json, "
            "c.reversal_json FROM claims c WHERE c.remittance_seq IS NULL AND ("
            "c.after_claim_id IS NULL OR EXISTS (SELECT 1 FROM claims o "
            "WHERE o.claim_id = c.after_claim_id AND o.remittance_seq IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM reprocessings r WHERE r.claim_id = o.claim_id "
            "AND r.remittance_seq IS NULL))) ORDER BY c.rowid"
        ).fetchall()
        items = [
            QueuedItem(
                payer_id=row[1],
                billing_npi=row[2],
                adjudications=tuple(
                    _ADJUDICATION.validate_json(text) for text in (row[4], row[3]) if text
                ),
                claim_id=row[0],
            )
            for row in rows
        ]
        reprocessed = self._conn.execute(
            "SELECT r.claim_id, r.payer_id, r.billing_npi, r.reversal_json, r.correction_json "
            "FROM reprocessings r JOIN claims c ON c.claim_id = r.claim_id "
            "WHERE r.remittance_seq IS NULL AND c.remittance_seq IS NOT NULL ORDER BY r.rowid"
        ).fetchall()
        items += [
            QueuedItem(
                payer_id=row[1],
                billing_npi=row[2],
                adjudications=(
                    _ADJUDICATION.validate_json(row[3]),
                    _ADJUDICATION.validate_json(row[4]),
                ),
                reprocessing_of=row[0],
            )
            for row in reprocessed
        ]
        return items

    def payee_ledger(self, payer_id: str, billing_npi: str) -> PayeeLedger:
        row = self._conn.execute(
            "SELECT forward_balance_cents, forward_reference, held_json FROM payee_ledgers "
            "WHERE payer_id = ? AND billing_npi = ?",
            (payer_id, billing_npi),
        ).fetchone()
        if row is None:
            return PayeeLedger()
        return PayeeLedger(_dollars(row[0]), row[1], _HELD.validate_json(row[2]))

    def save_payee_ledger(self, payer_id: str, billing_npi: str, ledger: PayeeLedger) -> None:
        self._conn.execute(
            "INSERT INTO payee_ledgers VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (payer_id, billing_npi) DO UPDATE SET "
            "forward_balance_cents = excluded.forward_balance_cents, "
            "forward_reference = excluded.forward_reference, held_json = excluded.held_json",
            (
                payer_id,
                billing_npi,
                _cents(ledger.forward_balance),
                ledger.forward_reference,
                _HELD.dump_json(ledger.held_recoveries).decode(),
            ),
        )

    def next_remittance_seq(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM remittances").fetchone()
        return int(row[0])

    def add_remittance(
        self,
        *,
        seq: int,
        file_name: str,
        payer_id: str,
        billing_npi: str,
        created_at: str,
        content: str,
        items: Sequence[QueuedItem],
        provider_adjustments: Decimal = Decimal("0.00"),
    ) -> None:
        paid = sum((a.paid for item in items for a in item.adjudications), Decimal("0.00"))
        self._conn.execute(
            "INSERT INTO remittances (seq, file_name, payer_id, billing_npi, claim_count, "
            "paid_cents, created_at, content, provider_adjustment_cents) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                file_name,
                payer_id,
                billing_npi,
                sum(len(item.adjudications) for item in items),
                _cents(paid),
                created_at,
                content,
                _cents(provider_adjustments),
            ),
        )
        self._conn.executemany(
            "UPDATE claims SET remittance_seq = ? WHERE claim_id = ?",
            [(seq, item.claim_id) for item in items if item.claim_id],
        )
        self._conn.executemany(
            "UPDATE reprocessings SET remittance_seq = ? WHERE claim_id = ?",
            [(seq, item.reprocessing_of) for item in items if item.reprocessing_of],
        )

    def remittances(self, *, after: int, limit: int) -> list[RemittanceFile]:
        rows = self._conn.execute(
            "SELECT seq, file_name, content FROM remittances WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        ).fetchall()
        return [RemittanceFile(*row) for row in rows]

    def note_receipt(self, claim_ids: Iterable[str], interchange: str, at: str) -> None:
        """Every claim of every interchange that arrived, resends of the same file included."""
        self._conn.executemany(
            "INSERT INTO receipts VALUES (?, ?, ?)", [(c, interchange, at) for c in claim_ids]
        )

    def receipts(self) -> dict[str, dict[str, int]]:
        """Per claim id: how often it arrived, and in how many distinct interchanges (ISA13).
        The simulator's own count, for reconciling what the services say they sent."""
        rows = self._conn.execute(
            "SELECT claim_id, COUNT(*), COUNT(DISTINCT interchange_control_number) "
            "FROM receipts GROUP BY claim_id"
        )
        return {claim: {"received": n, "interchanges": i} for claim, n, i in rows}

    def stats(self) -> dict[str, object]:
        counters = dict(self._conn.execute("SELECT name, value FROM counters").fetchall())
        claims = self._conn.execute(
            "SELECT COUNT(*), SUM(denied), SUM(charge_cents), SUM(paid_cents), "
            "SUM(remittance_seq IS NULL), SUM(status = '22') FROM claims"
        ).fetchone()
        reprocessed = self._conn.execute(
            "SELECT COUNT(*), SUM(paid_cents), SUM(remittance_seq IS NULL) FROM reprocessings"
        ).fetchone()
        submissions = self._conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
        files = self._conn.execute(
            "SELECT COUNT(*), MAX(seq), SUM(paid_cents), SUM(provider_adjustment_cents) "
            "FROM remittances"
        ).fetchone()
        adjudicated, denied, voids = claims[0], claims[1] or 0, claims[5] or 0
        return {
            "submissions": submissions,
            "claims_received": counters.get("claims_received", 0),
            "claims_rejected": counters.get("claims_rejected", 0),
            "duplicates": counters.get("duplicates", 0),
            "claims_adjudicated": adjudicated,
            "claims_paid": adjudicated - denied - voids,
            "claims_denied": denied,
            "claims_partially_paid": counters.get("claims_partially_paid", 0),
            "claims_crossed_over": counters.get("claims_crossed_over", 0),
            "claims_as_secondary": counters.get("claims_as_secondary", 0),
            "claims_voided": voids,
            "claims_replaced": counters.get("claims_replaced", 0),
            "claims_reprocessed": reprocessed[0],
            "claims_queued": (claims[4] or 0) + (reprocessed[2] or 0),
            "billed": f"{_dollars(claims[2])}",
            "paid": f"{_dollars((claims[3] or 0) + (reprocessed[1] or 0))}",
            "provider_adjustments": f"{_dollars(files[3])}",
            "remitted": f"{_dollars((files[2] or 0) - (files[3] or 0))}",
            "remittance_files": files[0],
            "last_remittance_seq": files[1] or 0,
        }
