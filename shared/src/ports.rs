//! Ports: the small capabilities the services need from the outside world.
//! Adapters (SQLite here; DynamoDB and SQS on AWS) implement them and translate their
//! own errors into the ones below.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::access::Principal;
use crate::domain::api_key::ApiKey;
use crate::domain::audit::{AuditAction, AuditEntry};
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::event::Event;
use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::domain::outcome::ErrorKind;
use crate::domain::stats::DeliveryStats;
use crate::domain::webhook::Webhook;

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
    /// Active webhooks subscribed to `event_type`: the fan-out query.
    async fn matching(&self, event_type: &str) -> Result<Vec<Webhook>, StoreError>;
    async fn deactivate(&self, id: &WebhookId, reason: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
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

#[async_trait]
pub trait EventStore: Send + Sync {
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
    /// Appends an attempt and moves the delivery to `record.status`.
    async fn record_attempt(&self, id: &DeliveryId, record: &AttemptRecord, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Closes an open delivery without an attempt (its webhook was deleted or deactivated).
    async fn cancel(&self, id: &DeliveryId, reason: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// After an event's erasure: cancels its open deliveries and clears the response excerpts
    /// of their attempts, keeping every outcome.
    async fn forget_event(&self, event: &EventId, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Reopens closed deliveries for a new round of attempts (a replay) and returns them.
    async fn reopen(&self, selection: &Reopen, at: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError>;
    /// Delivery health for deliveries created, and attempts started, since `since`.
    async fn stats(&self, since: DateTime<Utc>) -> Result<DeliveryStats, StoreError>;
    /// Cancels every open delivery of a webhook; returns how many.
    async fn cancel_open_for(&self, webhook: &WebhookId, reason: &str, at: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// The retention period's end: what is old enough goes.
#[async_trait]
pub trait Retention: Send + Sync {
    /// Deletes closed deliveries created before `before` with their attempts, and events older
    /// than that with no open delivery left. Returns (deliveries, events) deleted.
    async fn purge(&self, before: DateTime<Utc>) -> Result<(u64, u64), StoreError>;
}

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
}

impl DeliveryTask {
    pub fn of(delivery: &Delivery) -> Self {
        Self { delivery_id: delivery.id.clone(), webhook_id: delivery.webhook_id.clone(), event_id: delivery.event_id.clone() }
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

/// What became of a settled task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Finished with: gone from the queue, or gone once its consumer acknowledges it (the
    /// Lambda poller deletes what its batch response does not name as failed).
    Finished,
    /// Still in the queue, invisible until it is due again.
    Waiting,
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
    /// How long until the next task becomes visible, where the queue can tell cheaply (a
    /// polling consumer sleeps that long at most); `None` when it cannot or the queue is empty.
    async fn next_visible_in(&self) -> Result<Option<Duration>, QueueError> {
        Ok(None)
    }
    /// Resolves when tasks were enqueued since the last call, where the queue can tell (a local
    /// queue wakes its consumer at once); never, otherwise.
    async fn enqueued(&self) {
        std::future::pending::<()>().await;
    }
}

/// The response to one HTTP attempt (any status).
#[derive(Debug, Clone)]
pub struct SendResponse {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body_excerpt: String,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct SendError {
    pub kind: ErrorKind,
    pub detail: String,
}

/// One signed request, ready to send.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(&self, request: &OutboundRequest) -> Result<SendResponse, SendError>;
}

#[derive(Debug, thiserror::Error)]
#[error("could not resolve {host}: {detail}")]
pub struct ResolveError {
    pub host: String,
    pub detail: String,
}

/// DNS, as a port so tests can make a name resolve to any address.
#[async_trait]
pub trait Resolver: Send + Sync {
    async fn resolve(&self, host: &str) -> Result<Vec<std::net::IpAddr>, ResolveError>;
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
