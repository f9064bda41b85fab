"""A simulator.db written by the first release opens with the new columns and tables, and
what it held stays readable."""

import sqlite3

from payer_simulator.store import Store

# The store schema as the first release created it.
FIRST_RELEASE_SCHEMA = """
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
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


def test_a_first_release_database_gains_the_new_columns_and_keeps_its_files(tmp_path):
    path = tmp_path / "simulator.db"
    conn = sqlite3.connect(path)
    conn.executescript(FIRST_RELEASE_SCHEMA)
    conn.execute(
        "INSERT INTO remittances VALUES (1, '00000001-P-1.835', 'P', '1', 1, 100, 'now', 'ISA~')"
    )
    conn.commit()
    conn.close()

    store = Store(path)
    with store.transaction() as tx:
        files = tx.remittances(after=0, limit=10)
        stats = tx.stats()
        queued = tx.queued_items()
    store.close()

    assert [f.file_name for f in files] == ["00000001-P-1.835"]
    assert stats["remittance_files"] == 1 and stats["claims_reprocessed"] == 0
    assert queued == []
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(claims)")}
    assert {"payer_claim_number", "fingerprint", "after_claim_id", "superseded"} <= columns
