//! Ports: the small capabilities the services need from the outside world.
//! Adapters (SQLite here; DynamoDB and SQS on AWS) implement them and translate their
//! own errors into the ones below.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::access::Principal;
use crate::domain::api_key::ApiKey;
use crate::domain::audit::{AuditAction, AuditEntry};
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::event::Event;
use crate::domain::health::{Health, HealthChange, WebhookState};
use crate::domain::ids::{DeliveryId, EventId, ReplayId, WebhookId};
use crate::domain::metrics::{Counts, Rollup, RollupKey, RollupSelection, Sample};
use crate::domain::rate_limit::Reservation;
use crate::domain::replay::Replay;
use crate::domain::retention::RetentionPolicy;
use crate::domain::webhook::Webhook;

mod outbound;
mod queue;

pub use outbound::{OutboundRequest, ResolveError, Resolver, SendError, SendResponse, WebhookSender};
pub use queue::{
    Carried, ClaimLimits, Claimed, DeadLetter, DeadLetterReason, DeliveryQueue, DeliveryTask, Disposition, MAX_CARRIED_BODY, QueueDepth,
    QueueError, Settled,
};

/// Who a bearer token says the caller is: what the management API needs to authenticate.
pub trait Authenticator: Send + Sync {
    /// The caller the token names, or why it is refused (for debug logs; callers hear only 401).
    fn authenticate(&self, token: &str) -> Result<Principal, Refused>;
}

/// Why credentials were refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// A pagination cursor that this store did not issue.
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("storage failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// One page of a listing; `next_cursor` is opaque and `None` on the last page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct WebhookFilter {
    pub is_active: Option<bool>,
    /// Only webhooks subscribed to this type.
    pub event_type: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    async fn insert(&self, webhook: &Webhook) -> Result<(), StoreError>;
    async fn get(&self, id: &WebhookId) -> Result<Option<Webhook>, StoreError>;
    async fn list(&self, filter: &WebhookFilter) -> Result<Page<Webhook>, StoreError>;
    /// Replaces an existing webhook; `NotFound` if it is gone.
    async fn replace(&self, webhook: &Webhook) -> Result<(), StoreError>;
    async fn delete(&self, id: &WebhookId) -> Result<(), StoreError>;
    /// Webhooks subscribed to `event_type`, in any state: the fan-out query (the deliveries of
    /// those not active are created held).
    async fn matching(&self, event_type: &str) -> Result<Vec<Webhook>, StoreError>;
    /// Moves a webhook from one of `change.from` to `change.to`; returns it as changed, or
    /// `None` when it is gone or in another state (someone else moved it first).
    async fn transition(&self, id: &WebhookId, change: &StateChange) -> Result<Option<Webhook>, StoreError>;
    /// Applies `change` to the webhook's health (`Health::apply`), atomically against other
    /// writers of it; returns the health after, or `None` when the webhook is gone.
    async fn record_health(&self, id: &WebhookId, change: &HealthChange, at: DateTime<Utc>) -> Result<Option<Health>, StoreError>;
}

/// A change of a webhook's state, if it is in one of `from`.
#[derive(Debug, Clone)]
pub struct StateChange {
    pub from: Vec<WebhookState>,
    pub to: WebhookState,
    /// Why (shown as `disabled_reason`); `None` clears it.
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// Whether an event was new, or already stored (by a retried publish or a redelivered message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    /// `fanned_out` is false when an earlier publish stopped before its deliveries were queued;
    /// `same_content` is false when the stored event under this id has another type or data.
    Existing {
        fanned_out: bool,
        same_content: bool,
    },
}

/// The deliveries planned for each of a publish's events (`planned[i]` for `events[i]`),
/// shared with the write that stores them rather than copied into it: a fan-out's are
/// most of what a publish holds.
pub type PlannedDeliveries = Arc<Vec<Vec<Delivery>>>;

/// Whether an event's fan-out is finished once `planned`, its deliveries, are stored: true
/// unless one of them is held, since held deliveries ask for their webhook to be checked again
/// afterwards (a fan-out resumed at start-up does that).
pub fn settled_when_stored(planned: &[Delivery]) -> bool {
    planned.iter().all(|delivery| delivery.status != DeliveryStatus::Held)
}

/// Who fans out the events a store records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FanOut {
    /// The publisher, before it answers: deliveries created and queued, then the event marked.
    #[default]
    Inline,
    /// The store's change stream, which hands every event recorded to `Hookline::fan_out_recorded`
    /// at least once (DynamoDB Streams): publishing is one write, and the answer follows it.
    FromStream,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Who fans out what this store records.
    fn fan_out(&self) -> FanOut {
        FanOut::Inline
    }
    async fn record(&self, event: &Event) -> Result<Recorded, StoreError>;
    async fn mark_fanned_out(&self, id: &EventId) -> Result<(), StoreError>;
    /// `record` for several events, which a store may write in fewer requests.
    async fn record_all(&self, events: &[Event]) -> Result<Vec<Recorded>, StoreError> {
        let mut recorded = Vec::with_capacity(events.len());
        for event in events {
            recorded.push(self.record(event).await?);
        }
        Ok(recorded)
    }
    /// `record_all`, and in the same write the deliveries planned for each event recorded now
    /// (`planned[i]` for `events[i]`): one commit per publish instead of two. An event recorded
    /// now whose planned deliveries are all pending (`settled_when_stored`) is stored fanned
    /// out: a process that dies before queueing them queues them from the stored deliveries at
    /// start-up. `None` from a store that cannot write both at once; the caller then records
    /// and creates in two steps.
    async fn record_with_deliveries(&self, _events: &[Event], _planned: &PlannedDeliveries) -> Option<Result<Vec<Recorded>, StoreError>> {
        None
    }
    /// `mark_fanned_out` for several events.
    async fn mark_all_fanned_out(&self, ids: &[EventId]) -> Result<(), StoreError> {
        for id in ids {
            self.mark_fanned_out(id).await?;
        }
        Ok(())
    }
    async fn get(&self, id: &EventId) -> Result<Option<Event>, StoreError>;
    /// Events stored but never fanned out (a process stopped between the two steps).
    async fn unfanned(&self) -> Result<Vec<Event>, StoreError>;
    /// Replaces the stored payload with an erasure marker (GDPR); `NotFound` if there is no such event.
    async fn erase(&self, id: &EventId) -> Result<(), StoreError>;
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub webhook_id: Option<WebhookId>,
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// What an attempt changed on its delivery.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt: Attempt,
    pub status: DeliveryStatus,
    pub last_error: Option<String>,
    /// The attempt as the metrics count it.
    pub sample: Sample,
}

impl AttemptRecord {
    pub fn new(delivery: &Delivery, attempt: Attempt, status: DeliveryStatus, last_error: Option<String>) -> Self {
        let sample = Sample::of(delivery, &attempt, status);
        Self { attempt, status, last_error, sample }
    }
}

/// Which closed deliveries a replay reopens.
#[derive(Debug, Clone)]
pub enum Reopen {
    /// One delivery, if it is closed (succeeded, dead or cancelled).
    One(DeliveryId),
    /// A webhook's dead deliveries, those created since `since` when given.
    DeadOf { webhook: WebhookId, since: Option<DateTime<Utc>> },
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Creates deliveries; ones that already exist (same id) are left as they are.
    async fn create(&self, deliveries: &[Delivery]) -> Result<(), StoreError>;
    /// `create` for deliveries of events recorded just now (`Recorded::New`), none of which can
    /// exist yet, so a store may write them without checking.
    async fn create_new(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        self.create(deliveries).await
    }
    async fn get(&self, id: &DeliveryId) -> Result<Option<Delivery>, StoreError>;
    async fn attempts(&self, id: &DeliveryId) -> Result<Vec<Attempt>, StoreError>;
    async fn list(&self, filter: &DeliveryFilter) -> Result<Page<Delivery>, StoreError>;
    /// Appends an attempt and moves the delivery to `record.status`, and counts `record.sample`
    /// in the metrics rollups once (an attempt recorded again is not counted again): in the
    /// same transaction, or, for a store whose change stream shows each attempt once
    /// (DynamoDB), from that stream (`MetricsStore::count_from_stream`).
    async fn record_attempt(&self, id: &DeliveryId, record: &AttemptRecord, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// `record_attempt` for the attempt that delivered a stored delivery, where nobody reads
    /// the delivery back at once (the queue's consumer): a store may commit it after returning,
    /// with its next write (the local one, within `LATER_WITHIN`: one commit per event instead
    /// of two at a steady rate), and puts the delivery's task back if that write fails. Lost
    /// with a process that dies first, the delivery is still open at start-up and is sent
    /// again: at least once, as ever, with the same `webhook-id`.
    async fn record_delivered_soon(&self, delivery: &Delivery, record: &AttemptRecord, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.record_attempt(&delivery.id, record, at).await
    }
    /// Whether a new pending delivery is left unstored until its first attempt: its task
    /// carries it (`DeliveryTask::carrying`) and `store_attempted` stores it with that attempt,
    /// one write instead of two where every write is billed (DynamoDB). Until then no listing
    /// shows it. Only a queue that keeps what a task carries (SQS) goes with such a store.
    fn stores_at_first_attempt(&self) -> bool {
        false
    }
    /// Stores `delivery` (pending, not stored yet) with its first attempt, as `record_attempt`
    /// would leave it; one stored meanwhile (a task handed over twice) is left to
    /// `record_attempt`, which records the same attempt number once.
    async fn store_attempted(&self, delivery: &Delivery, record: &AttemptRecord, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.create(std::slice::from_ref(delivery)).await?;
        self.record_attempt(&delivery.id, record, at).await
    }
    /// Closes an unfinished (open or held) delivery without an attempt.
    async fn cancel(&self, id: &DeliveryId, reason: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Holds an open delivery (its webhook is not active); false when it was not open.
    async fn hold(&self, delivery: &Delivery, at: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Releases up to `limit` of a webhook's held deliveries, oldest first, as pending with
    /// their next attempt at `first_at`, `first_at + interval`, …, each with a fresh round of
    /// its retry policy; returns them as released.
    async fn release_held(&self, webhook: &WebhookId, slots: &Slots, limit: usize) -> Result<Vec<Delivery>, StoreError>;
    /// Marks a dead delivery reviewed (from then on it follows its type's retention); false
    /// when it is not dead or was acknowledged already.
    async fn acknowledge(&self, id: &DeliveryId, at: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Cancels every held delivery of a webhook with `reason`; returns how many.
    async fn cancel_held(&self, webhook: &WebhookId, reason: &str, at: DateTime<Utc>) -> Result<u64, StoreError>;
    /// After an event's erasure: cancels its open deliveries and clears the response excerpts
    /// of their attempts, keeping every outcome.
    async fn forget_event(&self, event: &EventId, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Reopens closed deliveries for a new round of attempts (a replay) and returns them.
    async fn reopen(&self, selection: &Reopen, at: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError>;
    /// Cancels every unfinished (open or held) delivery of a webhook; returns how many.
    async fn cancel_open_for(&self, webhook: &WebhookId, reason: &str, at: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Metrics rollups (`domain::metrics`), written as attempts are recorded.
#[async_trait]
pub trait MetricsStore: Send + Sync {
    /// The stored rollups `selection` covers, in any order.
    async fn rollups(&self, selection: &RollupSelection) -> Result<Vec<(RollupKey, Counts)>, StoreError>;
    /// Writes the rollups of attempts recorded but held back (a batch's, aggregated in memory)
    /// and returns what it wrote; empty for a store that writes them with the attempt.
    async fn flush(&self) -> Result<Rollup, StoreError>;
    /// Counts the attempts a store's change stream handed over (DynamoDB counts attempts from
    /// its table's stream, many deliveries per write) and writes them; nothing for a store
    /// that counts them with the attempt.
    async fn count_from_stream(&self, _samples: &[Sample]) -> Result<Rollup, StoreError> {
        Ok(Rollup::default())
    }
    /// Derives what a store does not write per attempt (on DynamoDB, the hour rollups from the
    /// minutes of the hours ended by `now`); nothing for a store that writes every level.
    async fn fold(&self, _now: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Evenly spaced times: the `i`-th (from 0) is `first_at + i * interval`.
#[derive(Debug, Clone, Copy)]
pub struct Slots {
    pub first_at: DateTime<Utc>,
    pub interval: Duration,
}

impl Slots {
    pub fn nth(&self, i: usize) -> DateTime<Utc> {
        let offset = self.interval.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX));
        self.first_at + chrono::Duration::from_std(offset).unwrap_or(chrono::Duration::MAX)
    }
}

/// The retention period's end: what is old enough goes.
#[async_trait]
pub trait Retention: Send + Sync {
    /// Deletes the closed deliveries past their retention (`RetentionPolicy::for_delivery`,
    /// counted from creation) with their attempts, and events past their type's retention that
    /// no delivery refers to any more. Returns (deliveries, events) deleted.
    async fn purge(&self, policy: &RetentionPolicy, now: DateTime<Utc>) -> Result<(u64, u64), StoreError>;
}

/// Bulk replays and their progress.
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// Inserts or replaces a replay.
    async fn save(&self, replay: &Replay) -> Result<(), StoreError>;
    async fn get(&self, id: &ReplayId) -> Result<Option<Replay>, StoreError>;
    /// The replays not finished yet, oldest first.
    async fn unfinished(&self) -> Result<Vec<Replay>, StoreError>;
}

/// Per-webhook delivery rate limits, shared by every consumer (on Lambda, by every instance).
#[async_trait]
pub trait RateGate: Send + Sync {
    /// Reserves the next send slot of `webhook`, slots `interval` apart, no further ahead of
    /// `now` than `horizon` (`rate_limit::reserve`).
    async fn reserve(
        &self,
        webhook: &WebhookId,
        interval: Duration,
        now: DateTime<Utc>,
        horizon: Duration,
    ) -> Result<Reservation, StoreError>;
}

/// Publisher API keys, stored by id with only a hash of the key text.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn insert(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn get(&self, id: &str) -> Result<Option<ApiKey>, StoreError>;
    /// Every key, revoked ones included, oldest first.
    async fn list(&self) -> Result<Vec<ApiKey>, StoreError>;
    /// `NotFound` when there is no such key; revoking twice keeps the first time.
    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    async fn touch(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    pub target: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// The audit trail: append and read, nothing else, so no caller can change or remove an entry.
#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Newest first.
    async fn list(&self, filter: &AuditFilter) -> Result<Page<AuditEntry>, StoreError>;
}

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}
