//! Retention over SQLite: closed deliveries (with their attempts) past their type's retention
//! and events past theirs (once none of their deliveries is left) are deleted, `PURGE_BATCH` at
//! a time (the per-type cut-offs are a small JSON map the statements look up); open and held
//! deliveries, and their events, stay until they close, and unacknowledged dead ones (and their
//! events) until the dead-letter limit. Metrics rollups go after their level's retention.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{Db, status, to_text};
use crate::domain::catalog;
use crate::domain::delivery::DeliveryStatus;
use crate::domain::retention::RetentionPolicy;
use crate::ports::{Retention, StoreError};

pub struct SqliteRetention {
    db: Arc<Db>,
}

impl SqliteRetention {
    pub fn new(db: Arc<Db>) -> Self {
        Self { db }
    }
}

/// Rows deleted per write: a purge never holds the writer (and every publish behind it) for
/// long, nor lists more than this many ids at once (the writer's temporary tables are in memory,
/// and an hour's expiry at 1,000 deliveries/s is 3.6 million rows).
const PURGE_BATCH: usize = 1_000;

#[async_trait]
impl Retention for SqliteRetention {
    async fn purge(&self, policy: &RetentionPolicy, now: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
        self.purge_in_batches(policy, now, PURGE_BATCH).await
    }
}

impl SqliteRetention {
    async fn purge_in_batches(&self, policy: &RetentionPolicy, now: DateTime<Utc>, batch: usize) -> Result<(u64, u64), StoreError> {
        let cutoffs = Cutoffs::of(policy, now);
        let deliveries = self.in_batches(batch, &cutoffs, delete_expired_deliveries).await?;
        let events = self.in_batches(batch, &cutoffs, delete_expired_events).await?;
        self.db.write(move |conn| super::metrics::purge(conn, now)).await?;
        Ok((deliveries, events))
    }

    /// Runs `delete` (at most `batch` rows a write) until it deletes fewer; returns how many it did.
    async fn in_batches(
        &self,
        batch: usize,
        cutoffs: &Cutoffs,
        delete: fn(&Connection, &Cutoffs, usize) -> Result<usize, StoreError>,
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let cutoffs = cutoffs.clone();
            let done = self.db.write(move |conn| delete(conn, &cutoffs, batch)).await?;
            deleted += done as u64;
            if done < batch {
                return Ok(deleted);
            }
        }
    }
}

/// Each type's cut-off as a small JSON map the statements look up (?1), the default one (?2),
/// and the one for unreviewed dead deliveries (?3).
#[derive(Clone)]
struct Cutoffs {
    by_type: String,
    default: String,
    dead: String,
}

impl Cutoffs {
    fn of(policy: &RetentionPolicy, now: DateTime<Utc>) -> Self {
        let cutoff = |period: chrono::Duration| to_text(now - period);
        let by_type: serde_json::Map<String, serde_json::Value> = catalog::subscribable()
            .chain([catalog::test_ping()])
            .map(|info| (info.event_type.clone(), cutoff(policy.for_type(&info.event_type)).into()))
            .collect();
        Self { by_type: serde_json::Value::Object(by_type).to_string(), default: cutoff(policy.default), dead: cutoff(policy.dead) }
    }
}

/// Deletes up to `batch` closed deliveries past their retention, with their attempts.
fn delete_expired_deliveries(conn: &Connection, cutoffs: &Cutoffs, batch: usize) -> Result<usize, StoreError> {
    let keys: Vec<i64> = select_ids(conn, &EXPIRED_DELIVERIES, params![cutoffs.by_type, cutoffs.default, cutoffs.dead, limit(batch)])?;
    let mut attempts = conn.prepare_cached("DELETE FROM attempt_log WHERE delivery_seq = ?1")?;
    let mut delivery = conn.prepare_cached("DELETE FROM deliveries WHERE seq = ?1")?;
    for key in &keys {
        attempts.execute([key])?;
        delivery.execute([key])?;
    }
    Ok(keys.len())
}

/// Deletes up to `batch` events past their retention. An event stays while any of its
/// deliveries does, whatever its timestamp says: a delivery's page shows it, and its id
/// published again must stay a duplicate (a new event's tasks carry its deliveries as new,
/// `DeliveryTask::of_stored`).
fn delete_expired_events(conn: &Connection, cutoffs: &Cutoffs, batch: usize) -> Result<usize, StoreError> {
    let ids: Vec<String> = select_ids(conn, EXPIRED_EVENTS, params![cutoffs.by_type, cutoffs.default, limit(batch)])?;
    let mut event = conn.prepare_cached("DELETE FROM events WHERE id = ?1")?;
    for id in &ids {
        event.execute([id])?;
    }
    Ok(ids.len())
}

/// The keys (`seq`) of up to ?4 closed deliveries past their type's cut-off (in ?1, else ?2), or unreviewed dead
/// ones past ?3.
static EXPIRED_DELIVERIES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT seq FROM deliveries WHERE status IN ({closed}) AND created_at < CASE \
         WHEN status = {dead_status} AND acknowledged_at IS NULL THEN ?3 \
         ELSE COALESCE((SELECT value FROM json_each(?1) WHERE key = deliveries.event_type), ?2) END LIMIT ?4",
        closed = *status::CLOSED,
        dead_status = status::literal(DeliveryStatus::Dead)
    )
});

/// Up to ?3 events past their type's cut-off (in ?1, else ?2) with no delivery left.
const EXPIRED_EVENTS: &str = "SELECT id FROM events \
     WHERE occurred_at < COALESCE((SELECT value FROM json_each(?1) WHERE key = events.event_type), ?2) \
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id) LIMIT ?3";

fn select_ids<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let ids = statement.query_map(params, |row| row.get(0))?.collect::<Result<_, _>>()?;
    Ok(ids)
}

fn limit(batch: usize) -> i64 {
    i64::try_from(batch).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ids_left(db: &Arc<Db>, table: &'static str) -> String {
        let sql = format!("SELECT COALESCE(group_concat(id, ' '), '') FROM (SELECT {} AS id FROM {table} ORDER BY 1)", key_of(table));
        db.read(move |conn| Ok(conn.query_row(&sql, [], |row| row.get(0))?)).await.unwrap()
    }

    fn key_of(table: &str) -> &'static str {
        if table == "attempt_log" { "(SELECT id FROM deliveries WHERE seq = delivery_seq)" } else { "id" }
    }

    /// Events evt_0 to evt_6, all past their retention; evt_0 to evt_5 have one delivered
    /// delivery with one attempt each, past its retention but for evt_5's.
    fn expired_and_kept(conn: &Connection) -> Result<(), StoreError> {
        let (old, recent) = (to_text(Utc::now() - chrono::Duration::days(400)), to_text(Utc::now()));
        for n in 0..7 {
            conn.execute(
                "INSERT INTO events (id, event_type, occurred_at, body, fingerprint) VALUES (?1, 'customer.created', ?2, '{}', 'f')",
                params![format!("evt_{n}"), old],
            )?;
            if n == 6 {
                continue;
            }
            let created = if n == 5 { &recent } else { &old };
            conn.execute(
                "INSERT INTO deliveries (id, event_id, webhook_id, event_type, status, attempts, created_at, updated_at) \
                 VALUES (?1, ?2, 'wh_1', 'customer.created', ?3, 1, ?4, ?4)",
                params![format!("dlv_{n}"), format!("evt_{n}"), DeliveryStatus::Succeeded.as_str(), created],
            )?;
            conn.execute(
                "INSERT INTO attempt_log (delivery_seq, number, started_at, duration_ms) VALUES (?1, 1, ?2, 3)",
                params![conn.last_insert_rowid(), created],
            )?;
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_purge_takes_every_expired_row_however_many_batches_it_needs() {
        let path = std::env::temp_dir().join(format!("hookline-retention-{}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let db = Arc::new(Db::open(&path).unwrap());
        db.write(expired_and_kept).await.unwrap();
        let purged = SqliteRetention::new(db.clone()).purge_in_batches(&RetentionPolicy::default(), Utc::now(), 2).await.unwrap();
        assert_eq!(purged, (5, 6), "five deliveries in three writes; six events in three full ones and an empty fourth");
        assert_eq!(ids_left(&db, "deliveries").await, "dlv_5");
        assert_eq!(ids_left(&db, "attempt_log").await, "dlv_5", "the purged deliveries' attempts went with them");
        assert_eq!(ids_left(&db, "events").await, "evt_5", "kept while its delivery is");
    }

    #[tokio::test]
    async fn whether_an_event_has_deliveries_left_is_an_index_look_up() {
        let path = std::env::temp_dir().join(format!("hookline-retention-plan-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let db = Db::open(&path).unwrap();
        let plan: Vec<String> = db
            .read(|conn| {
                let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {EXPIRED_EVENTS}"))?;
                let details = statement.query_map(params!["{}", "x", 1], |row| row.get::<_, String>(3))?;
                Ok(details.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains("deliveries_by_pair (event_id=?)")),
            "not a scan of every delivery per event (an automatic index is one too): {plan:?}"
        );
    }
}
