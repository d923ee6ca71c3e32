//! Use cases over the ports: managing webhooks, ingesting events, delivering them and
//! reading the history. Every host (the local binary, the Lambda functions) calls these.

mod audit;
mod bulk_replay;
mod deliver;
mod erase;
mod filtering;
mod health;
mod ingest;
mod keys;
mod manage;
mod notify;
mod query;
mod recent_successes;
mod replay;
mod retention;
mod secrets;
mod telemetry;

use std::sync::Arc;

pub use deliver::{AttemptResult, plan_next};
pub use filtering::{FilterExample, FilterFailure, FilterTestReport, FilterTestRequest};
pub use health::Maintenance;
pub use ingest::{PublishAs, PublishOutcome};
pub use keys::{ApiKeyRequest, CreatedApiKey};
pub use manage::TestOutcome;
pub use query::DeliveryDetail;
pub use recent_successes::RecentSuccesses;
pub use secrets::{RotateRequest, SecretView};
pub use telemetry::{Counters, RAW_VALUES, Tally};

use crate::domain::Invalid;
use crate::domain::health::HealthPolicy;
use crate::domain::retry::RetryPolicy;
use crate::domain::webhook_url::UrlRules;
use crate::ports::{
    ApiKeyStore, AuditLog, Clock, DeliveryQueue, DeliveryStore, EventStore, MetricsStore, QueueError, RateGate, ReplayStore, Resolver,
    Retention, StoreError, SubscriptionStore, WebhookSender,
};

/// Deployment-wide rules the services apply.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Applies to webhooks that do not set their own.
    pub retry_policy: RetryPolicy,
    pub url_rules: UrlRules,
    /// The largest serialised event envelope accepted.
    pub max_event_bytes: usize,
    /// When a webhook fails, how it is probed, disabled and recovered.
    pub health: HealthPolicy,
    /// How long one `maintain` pass may go on with replays and the dead-letter sweep.
    pub maintenance_budget: std::time::Duration,
    /// Publishing is refused while the delivery queue holds this many tasks (where the queue
    /// can tell its depth: the local one).
    pub max_backlog: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            retry_policy: RetryPolicy::default(),
            url_rules: UrlRules::default(),
            max_event_bytes: 256 * 1024,
            health: HealthPolicy::default(),
            maintenance_budget: std::time::Duration::from_secs(40),
            max_backlog: None,
        }
    }
}

/// One backend's storage and queue adapters, as the use cases see them.
#[derive(Clone)]
pub struct Stores {
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub api_keys: Arc<dyn ApiKeyStore>,
    pub audit: Arc<dyn AuditLog>,
    pub events: Arc<dyn EventStore>,
    /// Deliveries with their attempts.
    pub deliveries: Arc<dyn DeliveryStore>,
    /// Metrics rollups, counted as attempts are recorded.
    pub metrics: Arc<dyn MetricsStore>,
    pub retention: Arc<dyn Retention>,
    pub queue: Arc<dyn DeliveryQueue>,
    /// Per-webhook delivery rate limits, shared by every consumer.
    pub rate_gate: Arc<dyn RateGate>,
    /// Bulk replays and their progress.
    pub replays: Arc<dyn ReplayStore>,
}

/// Everything the use cases need, wired once per process (by `backend::assemble`). A clone is
/// one reference count: the API takes one for every request and the workers for every delivery.
#[derive(Clone)]
pub struct Hookline(Arc<Parts>);

impl Hookline {
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for Hookline {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// What a `Hookline` is made of.
pub struct Parts {
    pub stores: Stores,
    pub sender: Arc<dyn WebhookSender>,
    pub resolver: Arc<dyn Resolver>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    /// What this process did, for the host's own metrics (Prometheus, EMF).
    pub tally: Tally,
    /// Successes this process wrote into webhooks' health lately.
    pub recent_successes: RecentSuccesses,
}

/// Maps a store's `NotFound` to "`what` not found", and any other store error through.
pub(crate) fn not_found(what: &'static str) -> impl FnOnce(StoreError) -> ServiceError {
    move |error| match error {
        StoreError::NotFound => ServiceError::NotFound(what),
        other => other.into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// No valid credentials: answered 401 without saying what was wrong with them.
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("payload of {actual} bytes is over the limit of {limit} bytes")]
    PayloadTooLarge { actual: usize, limit: usize },
    /// The delivery backlog is at its limit: publishing is refused until it drains.
    #[error("the delivery backlog holds {backlog} tasks, at its limit of {limit}; publish again later")]
    Overloaded { backlog: u64, limit: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}
