//! The port contracts, checked against each backend through the ports alone (no HTTP): every
//! check runs against the SQLite adapters and against the DynamoDB and SQS adapters on the
//! emulator, with the same inputs and the same expected results.

mod attempt_stream;
mod deliveries;
mod events;
mod health;
mod metrics;
mod queue;
mod records;
mod subscriptions;
mod unsharded;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hookline_core::adapters::aws::Acknowledgement;
use hookline_core::adapters::cipher::SecretCipher;
use hookline_core::backend::{self, AwsBackend};
use hookline_core::config::Config;
use hookline_core::domain::event::{Event, PublishRequest};
use hookline_core::domain::health::{Health, WebhookState};
use hookline_core::domain::ids::WebhookId;
use hookline_core::domain::retention::RetentionPolicy;
use hookline_core::domain::secret::SigningSecret;
use hookline_core::domain::webhook::{Webhook, WebhookRequest};
use hookline_core::domain::webhook_url::UrlRules;
use hookline_core::service::Stores;
use hookline_tests::emulator::Emulator;
use hookline_tests::temp_path;
use serde_json::json;

/// One backend's adapters, opened by the composition root.
pub struct Backend {
    pub stores: Stores,
    /// Whether settling with a receipt from an earlier claim is refused. SQS documents that it
    /// may not be, and the emulator accepts it, so only the SQLite queue is held to it.
    pub refuses_stale_receipts: bool,
}

/// How long a claimed task stays invisible in these checks.
pub const VISIBILITY: Duration = Duration::from_secs(1);

/// The adapters as the composition root opens them.
async fn open(backend: backend::Backend, refuses_stale_receipts: bool) -> Backend {
    let config = Config { visibility_timeout: VISIBILITY, retention: retention_policy(), ..Config::default() };
    let cipher = Arc::new(SecretCipher::new(&[9u8; 32]).unwrap());
    Backend { stores: backend.open(&config, cipher).await.unwrap(), refuses_stale_receipts }
}

/// The retention the backends are opened with (DynamoDB items take their expiry from it when
/// written): the defaults, and `auth.*` kept 7 days.
pub fn retention_policy() -> RetentionPolicy {
    RetentionPolicy { by_type: vec![RetentionPolicy::parse_rule("auth.*=7").unwrap()], ..RetentionPolicy::default() }
}

/// A fresh SQLite file.
pub async fn sqlite() -> Backend {
    open(backend::Backend::Sqlite { path: temp_path("conformance.db") }, true).await
}

/// A fresh table and queue on the emulator, whose consumer claims and deletes its own messages.
pub async fn aws() -> Backend {
    aws_with_table().await.0
}

/// `aws()`, with the emulator's clients and the table's name for what the ports do not reach.
pub async fn aws_with_table() -> (Backend, Emulator, String) {
    let emulator = Emulator::connect().await;
    let table = emulator.fresh_table().await;
    let queues = emulator.fresh_queues(VISIBILITY, 5).await;
    let aws = AwsBackend {
        dynamodb: emulator.dynamodb.clone(),
        sqs: emulator.sqs.clone(),
        table: table.clone(),
        queue_url: queues.queue_url,
        dlq_url: queues.dlq_url,
        acknowledgement: Acknowledgement::Delete,
    };
    (open(backend::Backend::Aws(aws), false).await, emulator, table)
}

pub fn now() -> DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(Utc::now(), 3)
}

/// A webhook stored in `backend`, as every delivery's is (everyone's deliveries are listed
/// through the webhooks there are and were).
pub async fn stored_webhook(backend: &Backend) -> WebhookId {
    let subscriber = webhook(&["*"], true);
    backend.stores.subscriptions.insert(&subscriber).await.unwrap();
    subscriber.id
}

pub fn webhook(events: &[&str], active: bool) -> Webhook {
    let request: WebhookRequest = serde_json::from_value(json!({
        "name": "conformance", "url": "https://example.com/hook", "events": events, "is_active": active,
        "headers": {"x-tenant": "acme"}, "retry_policy": {"preset": "svix"},
        "signature": {"profile": "stripe", "header_prefix": "Acme"}, "filter": "data.amount > 500.0", "transform": "{\"amount\": data.amount}"
    }))
    .unwrap();
    let draft = request.parse(&UrlRules::default()).unwrap();
    let at = now();
    Webhook {
        id: WebhookId::generate(hookline_core::domain::event::unix_millis(at)),
        name: draft.name,
        url: draft.url,
        secret: SigningSecret::generate(),
        retired_secrets: Vec::new(),
        events: draft.events,
        state: if draft.is_active { WebhookState::Active } else { WebhookState::Paused },
        state_changed_at: at,
        health: Health::default(),
        description: Some("checks".into()),
        headers: draft.headers,
        retry_policy: draft.retry_policy,
        rate_limit_per_sec: Some(20.0),
        signature: draft.signature,
        filter: draft.filter,
        transform: draft.transform,
        disabled_reason: None,
        created_at: at,
        updated_at: at,
    }
}

pub fn event(id: &str, user: &str) -> Event {
    let request: PublishRequest = serde_json::from_value(json!({"id": id, "event_type": "auth.login", "data": {"user_id": user}})).unwrap();
    Event::from_request(request, now(), "conformance").unwrap()
}
