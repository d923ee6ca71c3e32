//! Metrics rollups over SQLite: a row per level, period start, webhook and event type, its
//! counts as JSON. `record_attempt` counts its sample on the thread committing its group
//! (`count`: the writer thread, or a caller committing in place), and that thread adds every
//! sample of a group transaction to the rows just before it commits (`write_pending`): the
//! rollups are written in the transaction that records the attempts, so they always agree
//! with the attempt log, and once per rollup per group commit rather than once per attempt (one holder of the writer's turn at a time, so read-merge-write cannot race).

use std::cell::RefCell;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Db, corrupt};
use crate::domain::ids::WebhookId;
use crate::domain::metrics::{Counts, Level, Rollup, RollupKey, RollupSelection, Sample};
use crate::ports::{MetricsStore, StoreError};

pub struct SqliteMetricsStore {
    db: Arc<Db>,
}

impl SqliteMetricsStore {
    pub fn new(db: Arc<Db>) -> Self {
        Self { db }
    }
}

thread_local! {
    /// Samples of the group transaction under way on this thread (the holder of the writer's turn).
    static PENDING: RefCell<Rollup> = RefCell::default();
}

/// Counts `sample` in the group transaction under way; call it last in a job that succeeded.
pub(super) fn count(sample: &Sample) {
    PENDING.with(|pending| pending.borrow_mut().observe(sample));
}

/// Forgets what the group transaction counted (it was rolled back before its commit).
pub(super) fn discard_pending() {
    PENDING.with(|pending| pending.borrow_mut().groups.clear());
}

/// Adds what the group transaction counted to the rows; the writer calls it before `COMMIT`
/// (and the counts go, written or not).
pub(super) fn write_pending(conn: &Connection) -> Result<(), StoreError> {
    let rollup = PENDING.with(|pending| std::mem::take(&mut *pending.borrow_mut()));
    if rollup.is_empty() { Ok(()) } else { add(conn, &rollup) }
}

/// Adds `rollup` to the stored rows, inside the caller's transaction.
fn add(conn: &Connection, rollup: &Rollup) -> Result<(), StoreError> {
    let mut read =
        conn.prepare_cached("SELECT counts FROM rollups WHERE level = ?1 AND start = ?2 AND webhook_id = ?3 AND event_type = ?4")?;
    let mut write =
        conn.prepare_cached("INSERT OR REPLACE INTO rollups (level, start, webhook_id, event_type, counts) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for (key, counts) in &rollup.groups {
        let row = params![key.level.as_str(), key.start.timestamp(), key.webhook_id.as_str(), key.event_type];
        let stored: Option<String> = read.query_row(row, |row| row.get(0)).optional()?;
        let mut total = match stored {
            Some(json) => serde_json::from_str::<Counts>(&json).map_err(|_| corrupt("rollup"))?,
            None => Counts::default(),
        };
        total.merge(counts);
        let json = serde_json::to_string(&total).map_err(|error| StoreError::Backend(Box::new(error)))?;
        write.execute(params![key.level.as_str(), key.start.timestamp(), key.webhook_id.as_str(), key.event_type, json])?;
    }
    Ok(())
}

/// Deletes rollups past their level's retention; returns how many.
pub(super) fn purge(conn: &Connection, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let mut purged = 0;
    for level in Level::ALL {
        let cutoff = (now - level.retention()).timestamp();
        purged += conn.execute("DELETE FROM rollups WHERE level = ?1 AND start < ?2", params![level.as_str(), cutoff])? as u64;
    }
    Ok(purged)
}

fn select(conn: &Connection, selection: &RollupSelection) -> Result<Vec<(RollupKey, Counts)>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT start, webhook_id, event_type, counts FROM rollups WHERE level = ?1 AND start >= ?2 AND start < ?3 \
         AND (?4 IS NULL OR webhook_id = ?4) AND (?5 IS NULL OR event_type = ?5) ORDER BY start",
    )?;
    let webhook = selection.webhook_id.as_ref().map(WebhookId::as_str);
    let bounds = params![selection.level.as_str(), selection.from.timestamp(), selection.until.timestamp(), webhook, selection.event_type];
    let rows = statement.query_map(bounds, |row| {
        let (start, webhook, event_type, json): (i64, String, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        let key = RollupKey {
            level: selection.level,
            start: DateTime::from_timestamp(start, 0).ok_or_else(|| corrupt("rollup start"))?,
            webhook_id: WebhookId::parse(&webhook).ok_or_else(|| corrupt("webhook id"))?,
            event_type,
        };
        Ok((key, serde_json::from_str(&json).map_err(|_| corrupt("rollup"))?))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[async_trait]
impl MetricsStore for SqliteMetricsStore {
    async fn rollups(&self, selection: &RollupSelection) -> Result<Vec<(RollupKey, Counts)>, StoreError> {
        let selection = selection.clone();
        self.db.read_committed(move |conn| select(conn, &selection)).await
    }

    /// Nothing is buffered: every attempt's sample was written with it.
    async fn flush(&self) -> Result<Rollup, StoreError> {
        Ok(Rollup::default())
    }
}
