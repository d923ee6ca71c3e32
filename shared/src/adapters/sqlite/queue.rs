//! `DeliveryQueue` for the local mode, with SQS's guarantees: a claimed task is invisible
//! until it is settled or its visibility timeout passes, then it is claimed again
//! (at-least-once). The tasks live in memory (`QueueIndex`); their durable record is the
//! deliveries themselves: every open delivery (pending or retrying) has a task, due at its
//! `next_attempt_at`, and every delivery is written before its task is enqueued and its
//! attempt recorded before its task is settled, but for a success, which commits with the
//! next write (`record_delivered_soon`) and puts the task back if it does not. So a queue
//! operation costs no write, and start-up rebuilds the queue from the open deliveries (one
//! server owns a data file); a success lost with the process is sent again. The
//! `queue` table of earlier versions is emptied at start-up: the deliveries say the same.
//! Enqueues wake the local workers at once instead of waiting for their next poll.

use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use rand::RngCore;
use tokio::sync::Notify;

use super::Db;
use super::queue_index::{QueueIndex, Room};
use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::ports::{ClaimLimits, Claimed, DeliveryQueue, DeliveryTask, Disposition, QueueDepth, QueueError, Settled};

/// The tasks, shared with the delivery store, which forgets the ones it cancels and drops
/// the copy a task carries of a delivery it changes.
pub type SharedIndex = Arc<Mutex<QueueIndex>>;

pub struct SqliteDeliveryQueue {
    index: SharedIndex,
    /// How long a claimed task stays invisible; longer than one attempt can take.
    visibility_timeout: Duration,
    /// Signalled after each enqueue and each retry.
    wake: Notify,
}

impl SqliteDeliveryQueue {
    /// Opens the queue over `db` with a task for every open delivery, due when its next
    /// attempt is (or now, if that has passed), keeping `room` of them in the index. Returns
    /// the queue and how many tasks it holds.
    pub async fn open(db: &Db, visibility_timeout: Duration, room: Room) -> Result<(Self, usize), QueueError> {
        let index = Arc::new(Mutex::new(QueueIndex::with_room(room)));
        let queue = Self { index, visibility_timeout, wake: Notify::new() };
        let now = now_millis();
        let rows = db
            .write(move |conn| {
                conn.execute("DELETE FROM queue", [])?;
                let mut select = conn.prepare(&OPEN_DELIVERIES)?;
                let rows = select.query_map([now], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?, row.get::<_, i64>(3)?))
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        let mut index = queue.lock();
        for (delivery_id, webhook_id, event_id, visible_at) in &rows {
            match parse_task(delivery_id, webhook_id, event_id) {
                // A retry keeps its place in the index, as before the restart; new tasks past
                // its room overflow.
                Some(task) if *visible_at > now => {
                    index.add(task, *visible_at);
                }
                Some(task) => {
                    index.offer_recovered(task, *visible_at);
                }
                // Kept as it is for an operator to look at; one bad row must not stop the server.
                None => tracing::warn!(delivery_id, "an open delivery with an unreadable id is not queued"),
            }
        }
        let queued = index.len();
        drop(index);
        Ok((queue, queued))
    }

    /// The tasks, for the delivery store to forget the ones it cancels.
    pub fn index(&self) -> SharedIndex {
        self.index.clone()
    }

    fn lock(&self) -> MutexGuard<'_, QueueIndex> {
        lock(&self.index)
    }
}

/// The index, even if a thread panicked holding it (its operations leave it consistent).
pub fn lock(index: &SharedIndex) -> MutexGuard<'_, QueueIndex> {
    index.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every open delivery's task, due when its next attempt is (epoch ms), or at ?1 if that passed.
pub(super) static OPEN_DELIVERIES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, webhook_id, event_id, \
         MAX(?1, COALESCE(CAST(ROUND((julianday(next_attempt_at) - 2440587.5) * 86400000) AS INTEGER), ?1)) \
         FROM deliveries WHERE status IN ({}) AND {}",
        *super::status::OPEN,
        super::status::INDEXED
    )
});

fn parse_task(delivery_id: &str, webhook_id: &str, event_id: &str) -> Option<DeliveryTask> {
    Some(DeliveryTask {
        delivery_id: DeliveryId::parse(delivery_id)?,
        webhook_id: WebhookId::parse(webhook_id)?,
        event_id: EventId::parse(event_id).ok()?,
        carried: None,
    })
}

fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait]
impl DeliveryQueue for SqliteDeliveryQueue {
    async fn enqueue(&self, tasks: &[DeliveryTask]) -> Result<(), QueueError> {
        let now = now_millis();
        let mut index = self.lock();
        for (at, task) in tasks.iter().enumerate() {
            // A fan-out's tasks come together: its neighbours say whether the event is shared.
            let mut neighbours = [at.checked_sub(1), at.checked_add(1)].into_iter().flatten().filter_map(|other| tasks.get(other));
            let shares_event = neighbours.any(|other| other.event_id == task.event_id);
            index.offer(task.clone(), now, shares_event);
        }
        drop(index);
        self.wake.notify_one();
        Ok(())
    }

    async fn claim(&self, limits: &ClaimLimits<'_>) -> Result<Vec<Claimed>, QueueError> {
        let (now, until) = (now_millis(), now_millis() + millis(self.visibility_timeout));
        let receipt = format!("{:016x}", rand::rng().next_u64());
        let tasks = self.lock().claim(now, limits, until, &receipt);
        Ok(tasks.into_iter().map(|task| Claimed { task, receipt: receipt.clone(), message_id: None }).collect())
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
        let next = self.lock().next_visible();
        Ok(next.map(|at| Duration::from_millis(u64::try_from(at - now_millis()).unwrap_or(0))))
    }

    async fn depth(&self) -> Result<Option<QueueDepth>, QueueError> {
        let now = now_millis();
        let index = self.lock();
        let oldest_due_age = index.oldest_due(now).map_or(Duration::ZERO, |at| Duration::from_millis(u64::try_from(now - at).unwrap_or(0)));
        Ok(Some(QueueDepth { tasks: index.len() as u64, oldest_due_age }))
    }

    /// A finished task leaves the queue (the delivery record is all a dead one needs here); a
    /// retry's task becomes visible again when it is due. A stale receipt (the lease ran out
    /// and the task was claimed again) changes nothing.
    async fn settle(&self, claimed: &Claimed, disposition: Disposition) -> Result<Settled, QueueError> {
        let retry_at = match disposition {
            Disposition::Done | Disposition::Dead | Disposition::Unknown => None,
            Disposition::RetryIn(wait) => Some(now_millis().saturating_add(millis(wait))),
        };
        let mut index = self.lock();
        if let (Some(task), Some(at)) = (index.release(&claimed.task.delivery_id, &claimed.receipt), retry_at) {
            index.add(task, at);
        }
        drop(index);
        if retry_at.is_none() {
            return Ok(Settled::Finished);
        }
        self.wake.notify_one();
        Ok(Settled::Waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::DeliveryQueue;

    fn fresh(name: &str) -> Db {
        super::super::db::fresh(&format!("queue-{name}")).0
    }

    /// Stores an open delivery of event `n` to `webhook`, due at `next_attempt_at` if given.
    async fn store(db: &Db, n: u32, webhook: &WebhookId, next_attempt_at: Option<&str>) {
        let event = EventId::parse(&format!("evt_q{n}")).unwrap();
        let id = DeliveryId::for_pair(&event, webhook).to_string();
        let (event, webhook) = (event.to_string(), webhook.to_string());
        let (status, next) = match next_attempt_at {
            Some(at) => ("retrying", Some(at.to_owned())),
            None => ("pending", None),
        };
        db.write(move |conn| {
            conn.execute(
                "INSERT INTO deliveries (id, event_id, webhook_id, event_type, status, attempts, next_attempt_at, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, 'customer.created', ?4, 0, ?5, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
                rusqlite::params![id, event, webhook, status, next],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn open_deliveries_past_the_room_are_all_queued_at_start_up_and_retries_keep_their_time() {
        let (db, webhook) = (fresh("room"), WebhookId::generate(1));
        for n in 0..20 {
            store(&db, n, &webhook, None).await;
        }
        store(&db, 99, &webhook, Some("2999-01-01T00:00:00.000Z")).await;
        let (queue, queued) =
            SqliteDeliveryQueue::open(&db, Duration::from_secs(60), Room { tasks: 4, per_webhook: 4, own_copies: 0 }).await.unwrap();
        assert_eq!(queued, 21);
        assert_eq!(queue.depth().await.unwrap().unwrap().tasks, 21);
        let in_flight = std::collections::HashMap::new();
        let mut claimed = Vec::new();
        loop {
            let batch = queue.claim(&ClaimLimits { max: 3, per_webhook: 10, in_flight: &in_flight }).await.unwrap();
            if batch.is_empty() {
                break;
            }
            for task in &batch {
                queue.settle(task, Disposition::Done).await.unwrap();
            }
            claimed.extend(batch.into_iter().map(|c| c.task.event_id.to_string()));
        }
        assert_eq!(claimed, (0..20).map(|n| format!("evt_q{n}")).collect::<Vec<_>>(), "in the order they were stored");
        assert_eq!(queue.depth().await.unwrap().unwrap().tasks, 1, "the retry waits for its time");
    }

    #[tokio::test]
    async fn a_task_enqueued_with_others_of_its_event_overflows_with_a_copy_and_one_alone_without() {
        use crate::domain::delivery::Delivery;
        let (a, b) = (WebhookId::generate(1), WebhookId::generate(2));
        let created_at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let stored = |n: u32, webhook: &WebhookId| {
            DeliveryTask::of_stored(&Delivery::new(EventId::parse(&format!("evt_q{n}")).unwrap(), webhook.clone(), "x", created_at))
        };
        let (queue, _) =
            SqliteDeliveryQueue::open(&fresh("alone"), Duration::from_secs(60), Room { tasks: 1, per_webhook: 1, own_copies: 0 })
                .await
                .unwrap();
        queue.enqueue(&[stored(0, &a), stored(1, &a), stored(2, &a), stored(2, &b)]).await.unwrap();
        let in_flight = std::collections::HashMap::new();
        let mut copies = Vec::new();
        for _ in 0..4 {
            for claimed in queue.claim(&ClaimLimits { max: 10, per_webhook: 10, in_flight: &in_flight }).await.unwrap() {
                queue.settle(&claimed, Disposition::Done).await.unwrap();
                copies.push((claimed.task.event_id.to_string(), claimed.task.carried.is_some()));
            }
        }
        let expected = [("evt_q0", true), ("evt_q1", false), ("evt_q2", true), ("evt_q2", true)];
        assert_eq!(copies, expected.map(|(event, copy)| (event.to_owned(), copy)));
    }

    #[tokio::test]
    async fn a_delivery_whose_success_does_not_commit_is_queued_again_and_one_whose_success_commits_is_not() {
        use super::super::deliveries::SqliteDeliveryStore;
        use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
        use crate::ports::{AttemptRecord, DeliveryStore};
        let (db, webhook) = (Arc::new(fresh("unrecorded")), WebhookId::generate(1));
        store(&db, 1, &webhook, None).await;
        store(&db, 2, &webhook, None).await;
        let (queue, _) =
            SqliteDeliveryQueue::open(&db, Duration::from_secs(60), Room { tasks: 8, per_webhook: 8, own_copies: 0 }).await.unwrap();
        let deliveries = SqliteDeliveryStore::new(db.clone(), queue.index());
        let in_flight = std::collections::HashMap::new();
        let limits = ClaimLimits { max: 10, per_webhook: 10, in_flight: &in_flight };
        for claimed in queue.claim(&limits).await.unwrap() {
            queue.settle(&claimed, Disposition::Done).await.unwrap();
        }
        // The second success's write fails, as on a full disk.
        let refuse = "CREATE TEMP TRIGGER refuse AFTER UPDATE ON main.deliveries WHEN NEW.event_id = 'evt_q2' BEGIN SELECT RAISE(ABORT, 'full'); END";
        db.write(move |conn| Ok(conn.execute_batch(refuse)?)).await.unwrap();
        let now = Utc::now();
        let delivered = |n: u32| Delivery::new(EventId::parse(&format!("evt_q{n}")).unwrap(), webhook.clone(), "customer.created", now);
        for delivery in [delivered(1), delivered(2)] {
            let attempt = Attempt {
                number: 1,
                started_at: now,
                duration_ms: 3,
                status_code: Some(200),
                response_excerpt: None,
                error_kind: None,
                error_detail: None,
                next_attempt_at: None,
            };
            let record = AttemptRecord::new(&delivery, attempt, DeliveryStatus::Succeeded, None);
            deliveries.record_delivered_soon(&delivery, &record, now).await.unwrap();
        }
        // Both ride with the next write.
        db.write(|_| Ok(())).await.unwrap();
        let again: Vec<String> = queue.claim(&limits).await.unwrap().into_iter().map(|claimed| claimed.task.event_id.to_string()).collect();
        assert_eq!(again, ["evt_q2"], "only the delivery whose success was not recorded");
        let status = |n: u32| {
            let deliveries = &deliveries;
            async move { deliveries.get(&delivered(n).id).await.unwrap().unwrap().status }
        };
        assert_eq!((status(1).await, status(2).await), (DeliveryStatus::Succeeded, DeliveryStatus::Pending));
    }
}
