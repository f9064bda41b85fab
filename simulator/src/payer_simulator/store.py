"""The simulator's memory: one SQLite file holding submissions, the claims adjudicated from them
(queued until an 835 remits them) and the 835 files produced, so a restart loses nothing."""

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

from payer_simulator.adjudication import Adjudication

_ADJUDICATION = TypeAdapter(Adjudication)

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
"""


def _cents(amount: Decimal) -> int:
    return int(amount * 100)


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
class QueuedClaim:
    claim_id: str
    payer_id: str
    billing_npi: str
    adjudication: Adjudication


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

    def add_submission(
        self, record: SubmissionRecord, adjudications: Sequence[Adjudication]
    ) -> None:
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
            "INSERT INTO claims VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [
                (
                    a.claim.claim_id,
                    record.submission_id,
                    a.claim.payer_id,
                    a.claim.billing_provider_npi,
                    int(a.denied),
                    _cents(a.charge),
                    _cents(a.paid),
                    _ADJUDICATION.dump_json(a).decode(),
                )
                for a in adjudications
            ],
        )

    def queued_claims(self) -> list[QueuedClaim]:
        rows = self._conn.execute(
            "SELECT claim_id, payer_id, billing_npi, adjudication_json FROM claims "
            "WHERE remittance_seq IS NULL ORDER BY rowid"
        ).fetchall()
        return [
            QueuedClaim(row[0], row[1], row[2], _ADJUDICATION.validate_json(row[3])) for row in rows
        ]

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
        adjudications: Sequence[Adjudication],
    ) -> None:
        paid = sum((a.paid for a in adjudications), Decimal("0.00"))
        self._conn.execute(
            "INSERT INTO remittances VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                file_name,
                payer_id,
                billing_npi,
                len(adjudications),
                _cents(paid),
                created_at,
                content,
            ),
        )
        self._conn.executemany(
            "UPDATE claims SET remittance_seq = ? WHERE claim_id = ?",
            [(seq, a.claim.claim_id) for a in adjudications],
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
            "SUM(remittance_seq IS NULL) FROM claims"
        ).fetchone()
        submissions = self._conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
        files = self._conn.execute("SELECT COUNT(*), MAX(seq) FROM remittances").fetchone()
        adjudicated, denied = claims[0], claims[1] or 0
        return {
            "submissions": submissions,
            "claims_received": counters.get("claims_received", 0),
            "claims_rejected": counters.get("claims_rejected", 0),
            "duplicates": counters.get("duplicates", 0),
            "claims_adjudicated": adjudicated,
            "claims_paid": adjudicated - denied,
            "claims_denied": denied,
            "claims_queued": claims[4] or 0,
            "billed": f"{_dollars(claims[2])}",
            "paid": f"{_dollars(claims[3])}",
            "remittance_files": files[0],
            "last_remittance_seq": files[1] or 0,
        }
