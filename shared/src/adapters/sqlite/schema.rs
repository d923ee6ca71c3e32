//! The SQLite schema, created on open. Tables keyed by text ids are `WITHOUT ROWID` (one
//! b-tree instead of two); `seq` columns order listings and back their cursors: AUTOINCREMENT
//! for webhooks (deleted ones must not hand their number to a new one), a plain rowid for
//! deliveries (never deleted, so it only grows, and an insert skips `sqlite_sequence`).
//!
//! A delivery's id is a hash (`DeliveryId::for_pair`), so an index on it takes each new row at
//! a random place: once it outgrows the writer's page cache, every insert reads and dirties a
//! page of its own. Its uniqueness is kept instead by `(event_id, webhook_id)`, the pair the id
//! is the hash of, whose entries for one event sit together; look-ups by id go through an
//! index of its first eight hashed characters (`delivery_id_is`), a third the size of one on
//! the whole id. Files created before keep their unique index on the id as well (SQLite
//! cannot drop it without copying the table).

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
    id TEXT NOT NULL,
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
-- Deliveries by status, but not the succeeded ones: nearly every delivery ends succeeded, and
-- indexing them cost a page write per delivery for queries that never ask for them by status
-- (a scan in `seq` order finds them as fast). Queries that use it repeat its condition.
DROP INDEX IF EXISTS deliveries_by_status;
CREATE INDEX IF NOT EXISTS deliveries_unsucceeded ON deliveries (status, seq) WHERE status <> 'succeeded';
CREATE INDEX IF NOT EXISTS deliveries_held ON deliveries (webhook_id, seq) WHERE status = 'held';
-- One delivery per event and webhook. Also an event's deliveries: retention keeps an event
-- while any remains, and erasing one cancels them.
CREATE UNIQUE INDEX IF NOT EXISTS deliveries_by_pair ON deliveries (event_id, webhook_id);
DROP INDEX IF EXISTS deliveries_by_event;
CREATE INDEX IF NOT EXISTS deliveries_by_id ON deliveries (substr(id, 5, 8));
-- Keyed by the delivery's `seq`, which grows with time, so attempts are appended near the
-- table's end; keyed by the random delivery id (the table `attempts` of earlier versions), each
-- took a page of its own.
CREATE TABLE IF NOT EXISTS attempt_log (
    delivery_seq INTEGER NOT NULL,
    number INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    response_excerpt TEXT,
    error_kind TEXT,
    error_detail TEXT,
    next_attempt_at TEXT,
    PRIMARY KEY (delivery_seq, number)
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

/// The condition that picks the delivery whose id is the parameter `param` (`?1`), through
/// `deliveries_by_id`: the planner uses an index on an expression only where the query
/// repeats the expression.
pub fn delivery_id_is(param: &str) -> String {
    format!("substr(id, 5, 8) = substr({param}, 5, 8) AND id = {param}")
}

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

/// Moves the attempts of a file from before `attempt_log` into it, keyed by their delivery's
/// `seq`, in one transaction; attempts whose delivery is gone go with the old table. An older
/// binary opening the file afterwards finds no attempts (its `attempts` is created empty).
const MOVE_ATTEMPTS: &str = "INSERT OR IGNORE INTO attempt_log (delivery_seq, number, started_at, duration_ms, status_code, response_excerpt, error_kind, error_detail, next_attempt_at)
    SELECT d.seq, a.number, a.started_at, a.duration_ms, a.status_code, a.response_excerpt, a.error_kind, a.error_detail, a.next_attempt_at
    FROM attempts a JOIN deliveries d ON d.id = a.delivery_id;
DROP TABLE attempts;";

/// Creates what is missing: the tables, their indexes, and columns added since.
pub fn create(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    for (table, column, definition) in ADDED_COLUMNS {
        let exists: bool = conn
            .query_row(&format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = ?1"), [column], |row| row.get::<_, i64>(0))
            .map(|count| count > 0)?;
        if table_exists(conn, table)? && !exists {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {definition};"))?;
        }
    }
    conn.execute_batch(SCHEMA)?;
    if table_exists(conn, "attempts")? {
        let moving = conn.unchecked_transaction()?;
        moving.execute_batch(MOVE_ATTEMPTS)?;
        moving.commit()?;
    }
    Ok(())
}

fn table_exists(conn: &rusqlite::Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |row| row.get::<_, i64>(0))
        .map(|count| count > 0)
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    /// The names of the deliveries' indexes, in order.
    fn delivery_indexes(conn: &Connection) -> Vec<String> {
        let mut statement =
            conn.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' ORDER BY name").unwrap();
        statement.query_map([], |row| row.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let id = vec!["dlv_x"; statement.parameter_count()];
        let rows = statement.query_map(rusqlite::params_from_iter(id), |row| row.get::<_, String>(3)).unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
    }

    const INSERT: &str = "INSERT INTO deliveries (id, event_id, webhook_id, event_type, status, attempts, created_at, updated_at) \
                          VALUES (?1, ?2, ?3, 'auth.login', 'pending', 0, 't', 't') ON CONFLICT DO NOTHING";

    #[test]
    fn look_ups_by_delivery_id_go_through_its_short_index() {
        let conn = Connection::open_in_memory().unwrap();
        create(&conn).unwrap();
        let by_id = delivery_id_is("?1");
        for sql in [
            format!("SELECT seq FROM deliveries WHERE {by_id}"),
            format!("UPDATE deliveries SET status = 'dead' WHERE {by_id} AND status IN ('pending')"),
            format!("DELETE FROM deliveries WHERE {by_id}"),
        ] {
            let plan = plan(&conn, &sql);
            assert!(plan.contains("USING INDEX deliveries_by_id"), "{sql}: {plan}");
        }
    }

    #[test]
    fn open_deliveries_are_found_through_the_index_of_deliveries_not_succeeded() {
        let conn = Connection::open_in_memory().unwrap();
        create(&conn).unwrap();
        let plan = plan(&conn, &super::super::queue::OPEN_DELIVERIES);
        assert!(plan.contains("USING INDEX deliveries_unsucceeded"), "{plan}");
        // A data file of an earlier version has its index of every delivery by status dropped.
        conn.execute_batch("CREATE INDEX deliveries_by_status ON deliveries (status, seq)").unwrap();
        create(&conn).unwrap();
        let indexes = delivery_indexes(&conn);
        assert!(!indexes.contains(&"deliveries_by_status".to_owned()), "no index of every delivery by status: {indexes:?}");
    }

    #[test]
    fn one_delivery_per_event_and_webhook_and_found_by_its_id() {
        let conn = Connection::open_in_memory().unwrap();
        create(&conn).unwrap();
        let insert = |id: &str, webhook: &str| conn.execute(INSERT, [id, "evt_1", webhook]).unwrap();
        assert_eq!(insert("dlv_aaaaaaaa1", "wh_1"), 1);
        assert_eq!(insert("dlv_aaaaaaaa1", "wh_1"), 0, "the same pair again is kept as it was");
        assert_eq!(insert("dlv_aaaaaaaa2", "wh_2"), 1);
        let find = |id: &str| -> Option<String> {
            conn.query_row(&format!("SELECT webhook_id FROM deliveries WHERE {}", delivery_id_is("?1")), [id], |row| row.get(0)).ok()
        };
        assert_eq!(find("dlv_aaaaaaaa2").as_deref(), Some("wh_2"), "ids sharing their first eight characters are told apart");
        assert_eq!(find("dlv_aaaaaaaa1").as_deref(), Some("wh_1"));
        assert_eq!(find("dlv_aaaaaaaa3"), None);
    }

    /// The deliveries and attempts tables as the versions before `attempt_log` created them.
    fn file_from_before() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE deliveries (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, event_id TEXT NOT NULL, webhook_id TEXT NOT NULL, \
             event_type TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL); \
             CREATE INDEX deliveries_by_event ON deliveries (event_id); \
             CREATE TABLE attempts (delivery_id TEXT NOT NULL, number INTEGER NOT NULL, started_at TEXT NOT NULL, duration_ms INTEGER NOT NULL, \
             status_code INTEGER, response_excerpt TEXT, error_kind TEXT, error_detail TEXT, next_attempt_at TEXT, \
             PRIMARY KEY (delivery_id, number)) WITHOUT ROWID;",
        )
        .unwrap();
        conn.execute(INSERT, ["dlv_old", "evt_1", "wh_1"]).unwrap();
        conn
    }

    #[test]
    fn a_file_from_before_has_its_attempts_moved_to_the_log_by_delivery_seq() {
        let conn = file_from_before();
        conn.execute(INSERT, ["dlv_two", "evt_2", "wh_1"]).unwrap();
        let attempt = "INSERT INTO attempts (delivery_id, number, started_at, duration_ms, status_code) VALUES (?1, ?2, 't', 5, 200)";
        for (delivery, number) in [("dlv_two", 1), ("dlv_two", 2), ("dlv_old", 1), ("dlv_gone", 1)] {
            conn.execute(attempt, rusqlite::params![delivery, number]).unwrap();
        }
        create(&conn).unwrap();
        let moved: Vec<(i64, i64, i64)> = conn
            .prepare("SELECT delivery_seq, number, status_code FROM attempt_log ORDER BY 1, 2")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(moved, [(1, 1, 200), (2, 1, 200), (2, 2, 200)], "keyed by their delivery's seq; the orphan is dropped");
        assert!(!table_exists(&conn, "attempts").unwrap(), "the old table is gone");
        create(&conn).unwrap();
        let kept: i64 = conn.query_row("SELECT count(*) FROM attempt_log", [], |row| row.get(0)).unwrap();
        assert_eq!(kept, 3, "opening the file again moves nothing twice");
    }

    #[test]
    fn a_file_from_before_gets_the_new_indexes_and_keeps_its_rows() {
        let conn = file_from_before();
        create(&conn).unwrap();
        let indexes = delivery_indexes(&conn);
        assert!(indexes.contains(&"deliveries_by_pair".to_owned()) && indexes.contains(&"deliveries_by_id".to_owned()), "{indexes:?}");
        assert!(!indexes.contains(&"deliveries_by_event".to_owned()), "the pair's index covers it: {indexes:?}");
        assert_eq!(conn.execute(INSERT, ["dlv_new", "evt_1", "wh_1"]).unwrap(), 0, "the pair is unique in an old file too");
        let found: String =
            conn.query_row(&format!("SELECT id FROM deliveries WHERE {}", delivery_id_is("?1")), ["dlv_old"], |row| row.get(0)).unwrap();
        assert_eq!(found, "dlv_old");
    }
}
