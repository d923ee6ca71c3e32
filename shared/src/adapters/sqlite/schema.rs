//! The SQLite schema, created on open. Tables keyed by text ids are `WITHOUT ROWID` (one
//! b-tree instead of two); `seq` columns order listings and back their cursors: AUTOINCREMENT
//! for webhooks (deleted ones must not hand their number to a new one), a plain rowid for
//! deliveries (never deleted, so it only grows, and an insert skips `sqlite_sequence`).

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhooks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    retired_secrets TEXT NOT NULL DEFAULT '[]',
    events TEXT NOT NULL,
    is_active INTEGER NOT NULL,
    description TEXT,
    headers TEXT NOT NULL,
    retry_policy TEXT,
    disabled_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    state TEXT,
    state_changed_at TEXT,
    health TEXT NOT NULL DEFAULT '{}',
    rate_limit REAL,
    shaping TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    body TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    fanned_out INTEGER NOT NULL DEFAULT 0,
    trace TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    event_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    attempts_before_replay INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_status_code INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    acknowledged_at TEXT,
    body TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON deliveries (webhook_id, seq);
CREATE INDEX IF NOT EXISTS deliveries_by_status ON deliveries (status, seq);
CREATE INDEX IF NOT EXISTS deliveries_held ON deliveries (webhook_id, seq) WHERE status = 'held';
-- An event's deliveries: retention keeps an event while any remains, and erasing one cancels them.
CREATE INDEX IF NOT EXISTS deliveries_by_event ON deliveries (event_id);
CREATE TABLE IF NOT EXISTS attempts (
    delivery_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    response_excerpt TEXT,
    error_kind TEXT,
    error_detail TEXT,
    next_attempt_at TEXT,
    PRIMARY KEY (delivery_id, number)
) WITHOUT ROWID;
-- The delivery queue of earlier versions, emptied at start-up: the queue now lives in memory,
-- rebuilt from the open deliveries (SqliteDeliveryQueue::open).
CREATE TABLE IF NOT EXISTS queue (
    delivery_id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    receipt TEXT,
    receive_count INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_by_visibility ON queue (visible_at);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    source TEXT
);
CREATE TABLE IF NOT EXISTS replays (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    finished INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollups (
    level TEXT NOT NULL,
    start INTEGER NOT NULL,
    webhook_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    counts TEXT NOT NULL,
    PRIMARY KEY (level, start, webhook_id, event_type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    events TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
) WITHOUT ROWID;
";

/// Columns added since the first release, for data files created before them: (table, column,
/// its definition). `is_active` stays, written from the state, so an older binary still reads
/// the file.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("webhooks", "state", "TEXT"),
    ("webhooks", "state_changed_at", "TEXT"),
    ("webhooks", "health", "TEXT NOT NULL DEFAULT '{}'"),
    ("webhooks", "rate_limit", "REAL"),
    ("webhooks", "shaping", "TEXT"),
    ("deliveries", "acknowledged_at", "TEXT"),
    ("deliveries", "body", "TEXT"),
    ("events", "trace", "TEXT"),
];

/// Creates what is missing: the tables, their indexes, and columns added since.
pub fn create(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    for (table, column, definition) in ADDED_COLUMNS {
        let exists: bool = conn
            .query_row(&format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = ?1"), [column], |row| row.get::<_, i64>(0))
            .map(|count| count > 0)?;
        let table_exists: bool =
            conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |row| row.get::<_, i64>(0))?
                > 0;
        if table_exists && !exists {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {definition};"))?;
        }
    }
    conn.execute_batch(SCHEMA)
}
