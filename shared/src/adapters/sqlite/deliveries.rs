//! `DeliveryStore` over SQLite: deliveries and their attempts.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::metrics;
use super::queue::{SharedIndex, lock};
use super::schema::delivery_id_is;
use super::status;
use super::{Db, corrupt, decode_cursor, encode_cursor, from_text, to_text};
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::domain::outcome::ErrorKind;
use crate::ports::{AttemptRecord, DeliveryFilter, DeliveryStore, DeliveryTask, Page, Reopen, Slots, StoreError};

const COLUMNS: &str = "seq, id, event_id, webhook_id, event_type, status, attempts, next_attempt_at, last_status_code, last_error, created_at, updated_at, \
     attempts_before_replay, acknowledged_at, body";

/// The most deferred writes (successes, each a few hundred bytes) that may wait before a
/// success's consumer waits for its own commit: the writer's back-pressure on the workers.
const MAX_DEFERRED_SUCCESSES: usize = 4_096;

pub struct SqliteDeliveryStore {
    db: Arc<Db>,
    /// The queue's tasks, which forget the deliveries this store cancels and drop their copy
    /// of one it changes otherwise.
    queue: SharedIndex,
}

impl SqliteDeliveryStore {
    pub fn new(db: Arc<Db>, queue: SharedIndex) -> Self {
        Self { db, queue }
    }
}

#[async_trait]
impl DeliveryStore for SqliteDeliveryStore {
    async fn create(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let deliveries = deliveries.to_vec();
        self.db.write(move |conn| insert_rows(conn, &deliveries)).await
    }

    async fn get(&self, id: &DeliveryId) -> Result<Option<Delivery>, StoreError> {
        let id = id.to_string();
        self.db
            .read_committed(move |conn| {
                let mut statement = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM deliveries WHERE {}", delivery_id_is("?1")))?;
                Ok(statement.query_row([id], |row| read_delivery(row).map(|(_, d)| d)).optional()?)
            })
            .await
    }

    async fn attempts(&self, id: &DeliveryId) -> Result<Vec<Attempt>, StoreError> {
        let id = id.to_string();
        self.db
            .read_committed(move |conn| {
                let mut statement = conn.prepare_cached(&format!(
                    "SELECT number, started_at, duration_ms, status_code, response_excerpt, error_kind, error_detail, next_attempt_at \
                     FROM attempt_log WHERE delivery_seq = (SELECT seq FROM deliveries WHERE {}) ORDER BY number",
                    delivery_id_is("?1")
                ))?;
                let rows = statement.query_map([id], read_attempt)?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn list(&self, filter: &DeliveryFilter) -> Result<Page<Delivery>, StoreError> {
        let before = decode_cursor(filter.cursor.as_deref())?.unwrap_or(i64::MAX);
        let filter = filter.clone();
        self.db.read_committed(move |conn| list_page(conn, &filter, before)).await
    }

    async fn record_attempt(&self, id: &DeliveryId, record: &AttemptRecord, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (id, record, at) = (id.to_string(), record.clone(), to_text(at));
        self.db.write(move |conn| append_attempt(conn, &id, &record, &at)).await
    }

    /// Rides with the next write's commit; if it does not commit, the delivery's task goes back
    /// in the queue (the delivery is still open), due at once. Past `MAX_DEFERRED_SUCCESSES`
    /// waiting (deliveries outrunning the writer), the consumer waits for its commit instead.
    async fn record_delivered_soon(&self, delivery: &Delivery, record: &AttemptRecord, at: DateTime<Utc>) -> Result<(), StoreError> {
        if self.db.deferred_writes() >= MAX_DEFERRED_SUCCESSES {
            return self.record_attempt(&delivery.id, record, at).await;
        }
        let (id, record, at) = (delivery.id.to_string(), record.clone(), to_text(at));
        let (queue, task) = (self.queue.clone(), DeliveryTask::of(delivery));
        let requeue = move || {
            tracing::warn!(delivery_id = %task.delivery_id, "a delivery's success was not recorded; it is queued again");
            lock(&queue).add(task, Utc::now().timestamp_millis());
        };
        self.db.write_later_or(move |conn| append_attempt(conn, &id, &record, &at), requeue)
    }

    async fn cancel(&self, id: &DeliveryId, reason: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        lock(&self.queue).drop_carried(id);
        let (id, reason, at) = (id.to_string(), reason.to_owned(), to_text(at));
        self.db.write(move |conn| Ok(conn.execute(&cancel_where(&delivery_id_is("?1")), params![id, reason, at]).map(|_| ())?)).await
    }

    async fn hold(&self, delivery: &Delivery, at: DateTime<Utc>) -> Result<bool, StoreError> {
        lock(&self.queue).drop_carried(&delivery.id);
        let (id, at) = (delivery.id.to_string(), to_text(at));
        let sql = format!(
            "UPDATE deliveries SET status = {held}, next_attempt_at = NULL, updated_at = ?2 WHERE {id} AND status IN ({open})",
            held = status::literal(DeliveryStatus::Held),
            id = delivery_id_is("?1"),
            open = *status::OPEN
        );
        self.db.write(move |conn| Ok(conn.execute(&sql, params![id, at])? > 0)).await
    }

    async fn release_held(&self, webhook: &WebhookId, slots: &Slots, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let (webhook, slots) = (webhook.to_string(), *slots);
        self.db.write(move |conn| release_held(conn, &webhook, &slots, limit)).await
    }

    async fn cancel_held(&self, webhook: &WebhookId, reason: &str, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let (webhook, reason, at) = (webhook.to_string(), reason.to_owned(), to_text(at));
        let sql = format!(
            "UPDATE deliveries SET status = {cancelled}, last_error = ?2, updated_at = ?3 WHERE webhook_id = ?1 AND status = {held}",
            cancelled = status::literal(DeliveryStatus::Cancelled),
            held = status::literal(DeliveryStatus::Held)
        );
        self.db.write(move |conn| Ok(conn.execute(&sql, params![webhook, reason, at])? as u64)).await
    }

    async fn acknowledge(&self, id: &DeliveryId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let (id, at) = (id.to_string(), to_text(at));
        let sql = format!(
            "UPDATE deliveries SET acknowledged_at = ?2, updated_at = ?2 WHERE {id} AND status = {dead} AND acknowledged_at IS NULL",
            id = delivery_id_is("?1"),
            dead = status::literal(DeliveryStatus::Dead)
        );
        self.db.write(move |conn| Ok(conn.execute(&sql, params![id, at])? > 0)).await
    }

    async fn forget_event(&self, event: &EventId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (id, event, at) = (event.clone(), event.to_string(), to_text(at));
        self.db
            .write(move |conn| {
                conn.execute(&cancel_where("event_id = ?1"), params![event, "event was erased", at])?;
                conn.execute(
                    "UPDATE attempt_log SET response_excerpt = NULL WHERE delivery_seq IN (SELECT seq FROM deliveries WHERE event_id = ?1)",
                    [&event],
                )?;
                Ok(())
            })
            .await?;
        lock(&self.queue).forget_event(&id);
        Ok(())
    }

    async fn reopen(&self, selection: &Reopen, at: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        let selection = selection.clone();
        let at = to_text(at);
        self.db.write(move |conn| reopen(conn, &selection, &at)).await
    }

    async fn cancel_open_for(&self, webhook: &WebhookId, reason: &str, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let (id, webhook, reason, at) = (webhook.clone(), webhook.to_string(), reason.to_owned(), to_text(at));
        let cancelled = self
            .db
            .write(move |conn| {
                let cancelled = conn.execute(&cancel_where("webhook_id = ?1"), params![webhook, reason, at])?;
                Ok(cancelled as u64)
            })
            .await?;
        lock(&self.queue).forget_webhook(&id);
        Ok(cancelled)
    }
}

/// Adds an attempt (?2 to ?9) to the log of the delivery whose id is ?1, unless it is there.
/// The `WHERE` is required: without it an upsert after a `SELECT` does not parse.
static INSERT_ATTEMPT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO attempt_log (delivery_seq, number, started_at, duration_ms, status_code, response_excerpt, error_kind, error_detail, \
         next_attempt_at) SELECT seq, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM deliveries WHERE {} ON CONFLICT DO NOTHING",
        delivery_id_is("?1")
    )
});

/// Moves a delivery to its attempt's status, if it is still open.
static RECORD_ATTEMPT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE deliveries SET status = ?2, attempts = MAX(attempts, ?3), next_attempt_at = ?4, last_status_code = ?5, \
         last_error = ?6, updated_at = ?7 WHERE {} AND status IN ({})",
        delivery_id_is("?1"),
        *status::OPEN
    )
});

/// Appends an attempt to delivery `id` and moves it to the record's status (`record_attempt`).
fn append_attempt(conn: &Connection, id: &str, record: &AttemptRecord, at: &str) -> Result<(), StoreError> {
    let a = &record.attempt;
    let inserted = conn.prepare_cached(&INSERT_ATTEMPT)?.execute(params![
        id,
        a.number,
        to_text(a.started_at),
        a.duration_ms,
        a.status_code,
        a.response_excerpt,
        a.error_kind.map(ErrorKind::as_str),
        a.error_detail,
        a.next_attempt_at.map(to_text)
    ])?;
    conn.prepare_cached(&RECORD_ATTEMPT)?.execute(params![
        id,
        record.status.as_str(),
        a.number,
        a.next_attempt_at.map(to_text),
        a.status_code,
        record.last_error,
        at
    ])?;
    // An attempt recorded twice (a redelivered task) is counted once.
    if inserted > 0 {
        metrics::count(&record.sample);
    }
    Ok(())
}

/// Cancels the unfinished deliveries `selection` picks (?1), with the reason ?2 at ?3.
/// Inserts `deliveries`, keeping any that exist, inside the caller's transaction (also the
/// events' store's, which writes an event and its deliveries at once).
pub(super) fn insert_rows(conn: &Connection, deliveries: &[Delivery]) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO deliveries (id, event_id, webhook_id, event_type, status, attempts, next_attempt_at, created_at, updated_at, body) \
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?7, ?8) ON CONFLICT DO NOTHING",
    )?;
    for d in deliveries {
        let next = d.next_attempt_at.map(to_text);
        insert.execute(params![
            d.id.as_str(),
            d.event_id.as_str(),
            d.webhook_id.as_str(),
            d.event_type,
            d.status.as_str(),
            next,
            to_text(d.created_at),
            d.body
        ])?;
    }
    Ok(())
}

fn cancel_where(selection: &str) -> String {
    format!(
        "UPDATE deliveries SET status = {cancelled}, next_attempt_at = NULL, last_error = ?2, updated_at = ?3 \
         WHERE {selection} AND status IN ({unfinished})",
        cancelled = status::literal(DeliveryStatus::Cancelled),
        unfinished = *status::UNFINISHED
    )
}

/// Makes the oldest `limit` held deliveries of `webhook` pending, at `slots`.
fn release_held(conn: &Connection, webhook: &str, slots: &Slots, limit: usize) -> Result<Vec<Delivery>, StoreError> {
    let held = status::literal(DeliveryStatus::Held);
    let sql = format!("SELECT id FROM deliveries WHERE webhook_id = ?1 AND status = {held} ORDER BY seq LIMIT ?2");
    let ids: Vec<String> = conn
        .prepare_cached(&sql)?
        .query_map(params![webhook, i64::try_from(limit).unwrap_or(i64::MAX)], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let release = format!(
        "UPDATE deliveries SET status = {pending}, attempts_before_replay = attempts, next_attempt_at = ?2, updated_at = ?3 \
         WHERE {id} AND status = {held} RETURNING {COLUMNS}",
        pending = status::literal(DeliveryStatus::Pending),
        id = delivery_id_is("?1")
    );
    let (mut released, now) = (Vec::with_capacity(ids.len()), to_text(Utc::now().min(slots.first_at)));
    for (i, id) in ids.iter().enumerate() {
        let slot = slots.nth(i);
        let mut statement = conn.prepare_cached(&release)?;
        if let Some((_, delivery)) = statement.query_row(params![id, to_text(slot), now], read_delivery).optional()? {
            released.push(delivery);
        }
    }
    Ok(released)
}

fn list_page(conn: &Connection, filter: &DeliveryFilter, before: i64) -> Result<Page<Delivery>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM deliveries WHERE seq < ?1 AND (?2 IS NULL OR webhook_id = ?2) AND (?3 IS NULL OR status = ?3) \
         AND (?4 IS NULL OR event_type = ?4) AND (?5 IS NULL OR created_at >= ?5) ORDER BY seq DESC LIMIT ?6"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let webhook = filter.webhook_id.as_ref().map(|id| id.to_string());
    let status = filter.status.map(DeliveryStatus::as_str);
    let since = filter.since.map(to_text);
    let fetch = i64::try_from(filter.limit + 1).unwrap_or(i64::MAX);
    let rows = statement.query_map(params![before, webhook, status, filter.event_type, since, fetch], read_delivery)?;
    let mut rows = rows.collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if rows.len() > filter.limit {
        rows.truncate(filter.limit);
        rows.last().map(|(seq, _)| encode_cursor(*seq))
    } else {
        None
    };
    Ok(Page { items: rows.into_iter().map(|(_, delivery)| delivery).collect(), next_cursor })
}

/// Reopens closed deliveries for another round of attempts and returns them as reopened.
fn reopen(conn: &Connection, selection: &Reopen, at: &str) -> Result<Vec<Delivery>, StoreError> {
    // ?2 is the delivery id for one, ?3 and ?4 the webhook and `since` for a webhook's dead ones.
    let (condition, key, since) = match selection {
        Reopen::One(id) => (format!("{} AND status IN ({}) AND ?3 IS NULL", delivery_id_is("?2"), *status::CLOSED), id.to_string(), None),
        Reopen::DeadOf { webhook, since } => {
            let dead = status::literal(DeliveryStatus::Dead);
            (format!("webhook_id = ?2 AND status = {dead} AND (?3 IS NULL OR created_at >= ?3)"), webhook.to_string(), since.map(to_text))
        }
    };
    let sql = format!(
        "UPDATE deliveries SET status = {pending}, attempts_before_replay = attempts, next_attempt_at = ?1, updated_at = ?1, acknowledged_at = NULL \
         WHERE {condition} RETURNING {COLUMNS}",
        pending = status::literal(DeliveryStatus::Pending)
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params![at, key, since], |row| read_delivery(row).map(|(_, d)| d))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn optional_time(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    row.get::<_, Option<String>>(index)?.map(|raw| from_text(&raw)).transpose()
}

fn read_delivery(row: &Row<'_>) -> rusqlite::Result<(i64, Delivery)> {
    let status: String = row.get(5)?;
    let delivery = Delivery {
        id: DeliveryId::parse(&row.get::<_, String>(1)?).ok_or_else(|| corrupt("delivery id"))?,
        event_id: EventId::parse(&row.get::<_, String>(2)?).map_err(|_| corrupt("event id"))?,
        webhook_id: WebhookId::parse(&row.get::<_, String>(3)?).ok_or_else(|| corrupt("webhook id"))?,
        event_type: row.get(4)?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery status"))?,
        attempts: row.get(6)?,
        next_attempt_at: optional_time(row, 7)?,
        last_status_code: row.get(8)?,
        last_error: row.get(9)?,
        created_at: from_text(&row.get::<_, String>(10)?)?,
        updated_at: from_text(&row.get::<_, String>(11)?)?,
        attempts_before_replay: row.get(12)?,
        acknowledged_at: optional_time(row, 13)?,
        body: row.get(14)?,
    };
    Ok((row.get(0)?, delivery))
}

fn read_attempt(row: &Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        number: row.get(0)?,
        started_at: from_text(&row.get::<_, String>(1)?)?,
        duration_ms: row.get(2)?,
        status_code: row.get(3)?,
        response_excerpt: row.get(4)?,
        error_kind: row.get::<_, Option<String>>(5)?.as_deref().and_then(ErrorKind::parse),
        error_detail: row.get(6)?,
        next_attempt_at: optional_time(row, 7)?,
    })
}
