//! The port contracts, checked against each backend through the ports alone (no HTTP): every
//! check runs against the SQLite adapters and against the DynamoDB and SQS adapters on the
//! emulator, with the same inputs and the same expected results.

mod deliveries;
mod events;
mod queue;
mod records;
mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hookline_core::adapters::aws::{
    Cursors, Dynamo, DynamoDbApiKeyStore, DynamoDbAttemptLog, DynamoDbAuditLog, DynamoDbEventStore, DynamoDbSubscriptionStore,
    SqsDeliveryQueue,
};
use hookline_core::adapters::cipher::SecretCipher;
use hookline_core::adapters::sqlite::{
    Db, SqliteApiKeyStore, SqliteAttemptLog, SqliteAuditLog, SqliteDeliveryQueue, SqliteEventStore, SqliteSubscriptionStore,
};
use hookline_core::domain::event::{Event, PublishRequest};
use hookline_core::domain::ids::WebhookId;
use hookline_core::domain::secret::SigningSecret;
use hookline_core::domain::webhook::{Webhook, WebhookRequest};
use hookline_core::domain::webhook_url::UrlRules;
use hookline_core::ports::{ApiKeyStore, AttemptLog, AuditLog, DeliveryQueue, EventStore, SubscriptionStore};
use hookline_tests::emulator::Emulator;
use hookline_tests::temp_path;
use serde_json::json;

/// One backend's adapters, as the services see them.
pub struct Backend {
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub events: Arc<dyn EventStore>,
    pub attempts: Arc<dyn AttemptLog>,
    pub queue: Arc<dyn DeliveryQueue>,
    pub api_keys: Arc<dyn ApiKeyStore>,
    pub audit: Arc<dyn AuditLog>,
    /// Whether settling with a receipt from an earlier claim is refused. SQS documents that it
    /// may not be, and the emulator accepts it, so only the SQLite queue is held to it.
    pub refuses_stale_receipts: bool,
}

/// How long a claimed task stays invisible in these checks.
pub const VISIBILITY: Duration = Duration::from_secs(1);

pub fn sqlite() -> Backend {
    let db = Arc::new(Db::open(&temp_path("conformance.db")).unwrap());
    let cipher = Arc::new(SecretCipher::new(&[9u8; 32]).unwrap());
    Backend {
        subscriptions: Arc::new(SqliteSubscriptionStore::new(db.clone(), cipher)),
        events: Arc::new(SqliteEventStore::new(db.clone())),
        attempts: Arc::new(SqliteAttemptLog::new(db.clone())),
        queue: Arc::new(SqliteDeliveryQueue::new(db.clone(), VISIBILITY)),
        api_keys: Arc::new(SqliteApiKeyStore::new(db.clone())),
        audit: Arc::new(SqliteAuditLog::new(db)),
        refuses_stale_receipts: true,
    }
}

/// A fresh table and queue on the emulator.
pub async fn aws() -> Backend {
    let emulator = Emulator::connect().await;
    let table = emulator.fresh_table().await;
    let queues = emulator.fresh_queues(VISIBILITY, 5).await;
    let db = Dynamo::new(emulator.dynamodb.clone(), &table);
    let cipher = Arc::new(SecretCipher::new(&[9u8; 32]).unwrap());
    let retention = chrono::Duration::days(30);
    Backend {
        subscriptions: Arc::new(DynamoDbSubscriptionStore::new(db.clone(), cipher.clone())),
        events: Arc::new(DynamoDbEventStore::new(db.clone(), retention)),
        attempts: Arc::new(DynamoDbAttemptLog::new(db.clone(), cipher.clone(), retention)),
        queue: Arc::new(SqsDeliveryQueue::new(emulator.sqs.clone(), &queues.queue_url, &queues.dlq_url)),
        api_keys: Arc::new(DynamoDbApiKeyStore::new(db.clone())),
        audit: Arc::new(DynamoDbAuditLog::new(db, Cursors::new(cipher))),
        refuses_stale_receipts: false,
    }
}

pub fn now() -> DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(Utc::now(), 3)
}

pub fn webhook(events: &[&str], active: bool) -> Webhook {
    let request: WebhookRequest = serde_json::from_value(json!({
        "name": "conformance", "url": "https://example.com/hook", "events": events, "is_active": active,
        "headers": {"x-tenant": "acme"}, "retry_policy": {"preset": "svix"}
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
        is_active: draft.is_active,
        description: Some("checks".into()),
        headers: draft.headers,
        retry_policy: draft.retry_policy,
        disabled_reason: None,
        created_at: at,
        updated_at: at,
    }
}

pub fn event(id: &str, user: &str) -> Event {
    let request: PublishRequest = serde_json::from_value(json!({"id": id, "event_type": "auth.login", "data": {"user_id": user}})).unwrap();
    Event::from_request(request, now(), "conformance").unwrap()
}
