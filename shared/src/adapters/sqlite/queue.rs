//! `DeliveryQueue` over SQLite, with SQS's guarantees: a claimed task is invisible until it
//! is settled or its visibility timeout passes, then it is claimed again (at-least-once).
//! Enqueues wake the local workers at once instead of waiting for their next poll.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use rand::RngCore;
use rusqlite::params;
use tokio::sync::Notify;

use super::Db;
use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::ports::{ClaimLimits, Claimed, DeliveryQueue, DeliveryTask, Disposition, QueueDepth, QueueError, Settled, StoreError};

pub struct SqliteDeliveryQueue {
    db: Arc<Db>,
    /// How long a claimed task stays invisible; longer than one attempt can take.
    visibility_timeout: Duration,
    /// Signalled after each enqueue commits.
    wake: Notify,
}

impl SqliteDeliveryQueue {
    pub fn new(db: Arc<Db>, visibility_timeout: Duration) -> Self {
        Self { db, visibility_timeout, wake: Notify::new() }
    }

    /// Start-up recovery (one server owns a data file, so nothing else is running): claims left
    /// by a process that is gone become visible now, and every open delivery without a task (a
    /// process stopped between creating deliveries and queueing them) gets one. Returns how many
    /// tasks were released or restored.
    pub async fn recover(&self) -> Result<usize, QueueError> {
        let now = now_millis();
        let recovered = self
            .db
            .write(move |conn| {
                let released = conn.execute("UPDATE queue SET visible_at = ?1, receipt = NULL WHERE receipt IS NOT NULL", [now])?;
                let restored = conn.execute(
                    &format!(
                        "INSERT INTO queue (delivery_id, webhook_id, event_id, visible_at) \
                         SELECT id, webhook_id, event_id, MAX(?1, COALESCE(CAST(ROUND((julianday(next_attempt_at) - 2440587.5) * 86400000) AS INTEGER), ?1)) \
                         FROM deliveries WHERE status IN ({}) AND id NOT IN (SELECT delivery_id FROM queue)",
                        *super::status::OPEN
                    ),
                    [now],
                )?;
                Ok(released + restored)
            })
            .await?;
        Ok(recovered)
    }

    /// Tasks in the queue, visible or not.
    pub async fn depth(&self) -> Result<u64, QueueError> {
        Ok(self.db.read(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM queue", [], |row| row.get(0))?)).await?)
    }
}

/// The next visible tasks, oldest first: among the first `?4` visible tasks of webhooks not
/// at their cap, at most enough per webhook to bring it to `?3` in flight (`?2` maps webhook
/// ids to their tasks in flight), `?5` in all.
const CLAIM: &str = "
    SELECT delivery_id, webhook_id, event_id FROM (
        SELECT delivery_id, webhook_id, event_id, visible_at,
               ROW_NUMBER() OVER (PARTITION BY webhook_id ORDER BY visible_at) AS rank
        FROM (SELECT delivery_id, webhook_id, event_id, visible_at FROM queue
              WHERE visible_at <= ?1 AND webhook_id NOT IN (SELECT key FROM json_each(?2) WHERE value >= ?3)
              ORDER BY visible_at LIMIT ?4))
    WHERE rank + COALESCE(json_extract(?2, '$.\"' || webhook_id || '\"'), 0) <= ?3
    ORDER BY visible_at LIMIT ?5";

fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn backend(detail: &str) -> StoreError {
    StoreError::Backend(detail.to_owned().into())
}

#[async_trait]
impl DeliveryQueue for SqliteDeliveryQueue {
    async fn enqueue(&self, tasks: &[DeliveryTask]) -> Result<(), QueueError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let tasks = tasks.to_vec();
        let now = now_millis();
        self.db
            .write(move |conn| {
                let mut insert = conn.prepare_cached(
                    "INSERT INTO queue (delivery_id, webhook_id, event_id, visible_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                )?;
                for task in &tasks {
                    insert.execute(params![task.delivery_id.as_str(), task.webhook_id.as_str(), task.event_id.as_str(), now])?;
                }
                Ok(())
            })
            .await?;
        self.wake.notify_one();
        Ok(())
    }

    async fn claim(&self, limits: &ClaimLimits<'_>) -> Result<Vec<Claimed>, QueueError> {
        let in_flight: serde_json::Map<String, serde_json::Value> =
            limits.in_flight.iter().map(|(id, n)| (id.to_string(), (*n).into())).collect();
        let in_flight = serde_json::Value::Object(in_flight).to_string();
        let (now, invisible_until) = (now_millis(), now_millis() + millis(self.visibility_timeout));
        let receipt = format!("{:016x}", rand::rng().next_u64());
        let (max, cap) = (i64::try_from(limits.max).unwrap_or(i64::MAX), i64::try_from(limits.per_webhook).unwrap_or(i64::MAX));
        let claimed = self
            .db
            .write(move |conn| {
                let mut select = conn.prepare_cached(CLAIM)?;
                let rows = select.query_map(params![now, in_flight, cap, max.saturating_mul(4), max], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?))
                })?;
                let rows = rows.collect::<Result<Vec<_>, _>>()?;
                let mut update = conn.prepare_cached(
                    "UPDATE queue SET visible_at = ?2, receipt = ?3, receive_count = receive_count + 1 WHERE delivery_id = ?1",
                )?;
                let mut claimed = Vec::with_capacity(rows.len());
                for (delivery_id, webhook_id, event_id) in rows {
                    update.execute(params![delivery_id, invisible_until, receipt])?;
                    let task = DeliveryTask {
                        delivery_id: DeliveryId::parse(&delivery_id).ok_or_else(|| backend("bad delivery id in queue"))?,
                        webhook_id: WebhookId::parse(&webhook_id).ok_or_else(|| backend("bad webhook id in queue"))?,
                        event_id: EventId::parse(&event_id).map_err(|_| backend("bad event id in queue"))?,
                    };
                    claimed.push(Claimed { task, receipt: receipt.clone(), message_id: None });
                }
                Ok(claimed)
            })
            .await?;
        Ok(claimed)
    }

    /// Resolves when tasks were enqueued since the last call (or immediately if they were).
    /// Visibility is kept in milliseconds.
    fn delay_resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    async fn enqueued(&self) {
        self.wake.notified().await;
    }

    /// How long until the next task becomes visible; `None` when the queue is empty.
    async fn next_visible_in(&self) -> Result<Option<Duration>, QueueError> {
        let next: Option<i64> = self.db.read(|conn| Ok(conn.query_row("SELECT MIN(visible_at) FROM queue", [], |row| row.get(0))?)).await?;
        Ok(next.map(|at| Duration::from_millis(u64::try_from(at - now_millis()).unwrap_or(0))))
    }

    async fn depth(&self) -> Result<Option<QueueDepth>, QueueError> {
        let now = now_millis();
        let (tasks, oldest): (u64, Option<i64>) = self
            .db
            .read(move |conn| {
                let sql = "SELECT COUNT(*), MIN(CASE WHEN visible_at <= ?1 THEN visible_at END) FROM queue";
                Ok(conn.query_row(sql, [now], |row| Ok((row.get(0)?, row.get(1)?)))?)
            })
            .await?;
        let oldest_due_age = oldest.map_or(Duration::ZERO, |at| Duration::from_millis(u64::try_from(now - at).unwrap_or(0)));
        Ok(Some(QueueDepth { tasks, oldest_due_age }))
    }

    /// A finished task's row is deleted (the delivery record is all a dead one needs here); a
    /// retry's row becomes visible again when it is due.
    async fn settle(&self, claimed: &Claimed, disposition: Disposition) -> Result<Settled, QueueError> {
        let (id, receipt) = (claimed.task.delivery_id.to_string(), claimed.receipt.clone());
        let visible_at = match disposition {
            Disposition::Done | Disposition::Dead | Disposition::Unknown => None,
            Disposition::RetryIn(wait) => Some(now_millis().saturating_add(millis(wait))),
        };
        self.db
            .write(move |conn| {
                match visible_at {
                    None => conn.execute("DELETE FROM queue WHERE delivery_id = ?1 AND receipt = ?2", params![id, receipt])?,
                    Some(at) => conn.execute(
                        "UPDATE queue SET visible_at = ?3, receipt = NULL WHERE delivery_id = ?1 AND receipt = ?2",
                        params![id, receipt, at],
                    )?,
                };
                Ok(())
            })
            .await?;
        if visible_at.is_some() {
            self.wake.notify_one();
            return Ok(Settled::Waiting);
        }
        Ok(Settled::Finished)
    }
}
