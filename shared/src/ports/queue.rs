//! The delivery queue's port: tasks, claims, and what a consumer does with a claimed task.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::delivery::Delivery;
use crate::domain::ids::{DeliveryId, EventId, WebhookId};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A unit of delivery work: attempt this delivery now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTask {
    pub delivery_id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    /// The delivery itself: where it is not stored before its first attempt
    /// (`DeliveryStore::stores_at_first_attempt`), or where it was stored just now and the
    /// queue keeps what it carries only while nothing else changes it (`Carried::stored`).
    pub carried: Option<Carried>,
}

/// What a task carries of a delivery never attempted; the rest is a new delivery's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    pub body: Option<String>,
    /// The store holds this delivery just as carried, so its first attempt needs no read. Only
    /// a queue that sees every change to a waiting task's delivery keeps such a copy (the local
    /// one: its delivery store drops the copy of a delivery it cancels or holds, and a task
    /// claimed once comes back without it); SQS drops it, and the delivery is read.
    pub stored: bool,
}

impl Carried {
    fn of(delivery: &Delivery, stored: bool) -> Self {
        Self { event_type: delivery.event_type.clone(), created_at: delivery.created_at, body: delivery.body.clone(), stored }
    }
}

/// The longest transformed body a task carries (a queue message holds 256 KiB, and escaping
/// can make a body up to six times longer); a delivery with a longer one is stored first.
pub const MAX_CARRIED_BODY: usize = 32 * 1024;

impl DeliveryTask {
    pub fn of(delivery: &Delivery) -> Self {
        Self {
            delivery_id: delivery.id.clone(),
            webhook_id: delivery.webhook_id.clone(),
            event_id: delivery.event_id.clone(),
            carried: None,
        }
    }

    /// A task carrying `delivery`, which is not stored; `None` when it is too large to carry.
    pub fn carrying(delivery: &Delivery) -> Option<Self> {
        let carried = Carried::of(delivery, false);
        (carried.body.as_ref().map_or(0, String::len) <= MAX_CARRIED_BODY).then(|| Self { carried: Some(carried), ..Self::of(delivery) })
    }

    /// A task for `delivery`, stored just now as planned (pending, never attempted), carrying
    /// it unless its body was transformed: the local queue holds tens of thousands of waiting
    /// tasks, which share one copy of a fan-out's event type but not of a body.
    pub fn of_stored(delivery: &Delivery) -> Self {
        let carried = delivery.body.is_none().then(|| Carried::of(delivery, true));
        Self { carried, ..Self::of(delivery) }
    }

    /// The delivery as the store holds it, when the task carries that (`Carried::stored`).
    pub fn stored_delivery(&self) -> Option<Delivery> {
        self.carried.as_ref().filter(|carried| carried.stored)?;
        self.carried_delivery()
    }

    /// The delivery this task carries, as it was planned: pending, never attempted.
    pub fn carried_delivery(&self) -> Option<Delivery> {
        let carried = self.carried.as_ref()?;
        let planned = Delivery::new(self.event_id.clone(), self.webhook_id.clone(), &carried.event_type, carried.created_at);
        Some(Delivery { id: self.delivery_id.clone(), body: carried.body.clone(), ..planned })
    }
}

/// A task taken from the queue; `receipt` settles exactly this claim.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub task: DeliveryTask,
    pub receipt: String,
    /// The queue's own id of the message, where it has one (SQS), for logs and dead letters.
    pub message_id: Option<String>,
}

/// How much a claim may take: `max` tasks in all, and no more than brings any webhook to
/// `per_webhook` in flight, counting the `in_flight` ones.
#[derive(Debug, Clone, Copy)]
pub struct ClaimLimits<'a> {
    pub max: usize,
    pub per_webhook: usize,
    pub in_flight: &'a HashMap<WebhookId, usize>,
}

/// What to do with a claimed task once it has been handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Finished (delivered, cancelled or a duplicate): remove it.
    Done,
    /// Finished with the delivery dead: remove it, keeping a copy wherever this queue keeps
    /// dead letters (SQS: its DLQ; the local queue needs none, the delivery record is enough).
    Dead,
    /// Make it visible again after this delay.
    RetryIn(Duration),
    /// The task names a delivery that is not stored (a table restored from a backup, a task
    /// meant for another deployment): remove it, keeping a copy with the reason wherever this
    /// queue keeps dead letters, so an operator sees it.
    Unknown,
}

impl Disposition {
    /// Why a task leaves for the dead letters, as the copy is labelled; `None` when it does not.
    pub fn dead_letter_reason(self) -> Option<DeadLetterReason> {
        match self {
            Self::Dead => Some(DeadLetterReason::Dead),
            Self::Unknown => Some(DeadLetterReason::UnknownDelivery),
            Self::Done | Self::RetryIn(_) => None,
        }
    }
}

/// Why a message is in the dead letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// Its delivery failed its last attempt.
    Dead,
    /// It names no stored delivery.
    UnknownDelivery,
    /// Its body is not a delivery task.
    Undecodable,
}

impl DeadLetterReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dead => "dead",
            Self::UnknownDelivery => "unknown_delivery",
            Self::Undecodable => "undecodable",
        }
    }
}

/// A message in the dead letters: the task it carries (if it is one) and why it is there.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub task: Option<DeliveryTask>,
    pub reason: Option<String>,
    pub receipt: String,
}

/// What became of a settled task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Finished with: gone from the queue, or gone once its consumer acknowledges it (the
    /// Lambda poller deletes what its batch response does not name as failed).
    Finished,
    /// Still in the queue, invisible until it is due again.
    Waiting,
}

/// A queue's size: every task it holds (due, waiting for a retry, or claimed), and how long
/// the oldest task that is due has been waiting for a consumer (zero when none is).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub tasks: u64,
    pub oldest_due_age: Duration,
}

/// The delivery queue. Producers `enqueue`; a consumer `claim`s tasks (or has them handed over,
/// like a Lambda batch), runs `deliver_one` on each, and `settle`s it with the disposition:
/// each queue turns a disposition into its own operations in `settle`, and nowhere else.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    async fn enqueue(&self, tasks: &[DeliveryTask]) -> Result<(), QueueError>;
    /// Claims visible tasks within `limits`. A claim that is not settled becomes visible again
    /// after the queue's visibility timeout.
    async fn claim(&self, limits: &ClaimLimits<'_>) -> Result<Vec<Claimed>, QueueError>;
    /// Carries out `disposition` for a claimed task.
    async fn settle(&self, claimed: &Claimed, disposition: Disposition) -> Result<Settled, QueueError>;
    /// Sets aside a message that is not a delivery task, labelled `reason`, wherever this queue
    /// keeps dead letters; a queue that only ever holds tasks it wrote has none.
    async fn set_aside(&self, _body: &str, _reason: DeadLetterReason, _message_id: Option<&str>) -> Result<(), QueueError> {
        Ok(())
    }
    /// Up to `max` of the messages in the dead letters, for a sweep (each stays out of the next
    /// call's sight for a while); none where the queue keeps no dead letters.
    async fn dead_letters(&self, _max: usize) -> Result<Vec<DeadLetter>, QueueError> {
        Ok(Vec::new())
    }
    /// Deletes dead letters a sweep found settled (their delivery replayed or reviewed).
    async fn drop_dead_letters(&self, _letters: &[DeadLetter]) -> Result<(), QueueError> {
        Ok(())
    }
    /// How long until the next task becomes visible, where the queue can tell cheaply (a
    /// polling consumer sleeps that long at most); `None` when it cannot or the queue is empty.
    async fn next_visible_in(&self) -> Result<Option<Duration>, QueueError> {
        Ok(None)
    }
    /// How many tasks the queue holds and how long the oldest due one has waited, where the
    /// queue can tell cheaply; `None` where it cannot (SQS: CloudWatch has both natively).
    async fn depth(&self) -> Result<Option<QueueDepth>, QueueError> {
        Ok(None)
    }
    /// The finest delay this queue keeps (SQS: whole seconds): a task back this close to its
    /// delivery's due time is attempted rather than put back for the rest.
    fn delay_resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    /// Resolves when tasks were enqueued since the last call, where the queue can tell (a local
    /// queue wakes its consumer at once); never, otherwise.
    async fn enqueued(&self) {
        std::future::pending::<()>().await;
    }
}
