//! Managing webhooks: create, read, list, replace, delete and the test ping.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Hookline, ServiceError, not_found};
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::event::{Event, unix_millis};
use crate::domain::health::{Health, HealthChange, WebhookState};
use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::domain::secret::SigningSecret;
use crate::domain::webhook::{RetiredSecret, Webhook, WebhookDraft, WebhookRequest};
use crate::domain::webhook_url::{WebhookUrl, refused_ip};
use crate::ports::{AttemptRecord, Page, WebhookFilter};

/// What `POST /webhooks/{id}/test` reports.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestOutcome {
    pub success: bool,
    pub delivery_id: DeliveryId,
    pub event_id: EventId,
    pub attempt: Attempt,
}

impl Hookline {
    pub async fn create_webhook(&self, request: WebhookRequest) -> Result<Webhook, ServiceError> {
        let draft = self.parse_draft(request).await?;
        let now = self.clock.now();
        let stamp = Stamp { id: WebhookId::generate(unix_millis(now)), retired_secrets: Vec::new(), created_at: now, updated_at: now };
        let webhook = build(draft, stamp, None);
        self.stores.subscriptions.insert(&webhook).await?;
        tracing::info!(webhook_id = %webhook.id, "webhook created");
        Ok(webhook)
    }

    pub async fn webhook(&self, id: &str) -> Result<Webhook, ServiceError> {
        let id = WebhookId::parse(id).ok_or(ServiceError::NotFound("webhook"))?;
        self.stores.subscriptions.get(&id).await?.ok_or(ServiceError::NotFound("webhook"))
    }

    pub async fn list_webhooks(&self, filter: &WebhookFilter) -> Result<Page<Webhook>, ServiceError> {
        Ok(self.stores.subscriptions.list(filter).await?)
    }

    /// Replaces every field; a request without `secret` keeps the current one. `is_active: false`
    /// pauses the webhook; `is_active: true` on one that is not active enables it, releasing
    /// what it held.
    pub async fn replace_webhook(&self, id: &str, request: WebhookRequest) -> Result<Webhook, ServiceError> {
        let current = self.webhook(id).await?;
        let draft = self.parse_draft(request).await?;
        let now = self.clock.now();
        let stamp = Stamp {
            id: current.id.clone(),
            retired_secrets: current.retired_secrets.clone(),
            created_at: current.created_at,
            updated_at: now,
        };
        let enable = draft.is_active && !current.is_active();
        let mut replaced = build(draft, stamp, Some(current.secret.clone()));
        // The state changes only by pausing here; enabling goes through `enable_webhook`.
        replaced.health = current.health.clone();
        if replaced.state == WebhookState::Active || replaced.state == current.state {
            replaced.state = current.state;
            (replaced.state_changed_at, replaced.disabled_reason) = (current.state_changed_at, current.disabled_reason.clone());
        }
        self.stores.subscriptions.replace(&replaced).await.map_err(not_found("webhook"))?;
        if replaced.state != current.state {
            self.stores.subscriptions.record_health(&replaced.id, &HealthChange::NoProbe, now).await?;
            replaced.health.apply(&HealthChange::NoProbe, now);
        }
        if enable {
            return self.enable_webhook(id, true).await;
        }
        Ok(replaced)
    }

    /// Deletes a webhook; its open deliveries are cancelled (kept, with the reason), not dropped.
    pub async fn delete_webhook(&self, id: &str) -> Result<u64, ServiceError> {
        let webhook = self.webhook(id).await?;
        self.stores.subscriptions.delete(&webhook.id).await.map_err(not_found("webhook"))?;
        let cancelled = self.stores.deliveries.cancel_open_for(&webhook.id, "webhook was deleted", self.clock.now()).await?;
        tracing::info!(webhook_id = %webhook.id, cancelled, "webhook deleted");
        Ok(cancelled)
    }

    /// Sends a signed `webhook.test` ping now, once, and records it like any delivery.
    pub async fn test_webhook(&self, id: &str) -> Result<TestOutcome, ServiceError> {
        self.ping(&self.webhook(id).await?, DeliveryStatus::Dead).await
    }

    /// The test ping (also a failing webhook's probe), recorded like any delivery; a failed one
    /// is recorded as `failed` (a probe's as cancelled: no delivery was lost).
    pub(crate) async fn ping(&self, webhook: &Webhook, failed: DeliveryStatus) -> Result<TestOutcome, ServiceError> {
        let now = self.clock.now();
        let event = Event::test_ping(&webhook.name, now);
        self.stores.events.record(&event).await?;
        let delivery = Delivery::new(event.id.clone(), webhook.id.clone(), event.event_type.as_str(), now);
        let stored = !self.stores.deliveries.stores_at_first_attempt();
        if stored {
            self.stores.deliveries.create(std::slice::from_ref(&delivery)).await?;
        }
        let result = self.attempt(webhook, &event, &delivery, 1).await;
        let success = result.outcome == crate::domain::outcome::Outcome::Delivered;
        let status = if success { DeliveryStatus::Succeeded } else { failed };
        let record = AttemptRecord::new(&delivery, result.attempt.clone(), status, result.error_summary());
        self.record_attempt_of(&delivery, stored, &record).await?;
        // A ping's host may never flush otherwise (the `api` function).
        self.flush_metrics().await;
        Ok(TestOutcome { success, delivery_id: delivery.id, event_id: event.id, attempt: result.attempt })
    }

    async fn parse_draft(&self, request: WebhookRequest) -> Result<WebhookDraft, ServiceError> {
        let draft = request.parse(&self.settings.url_rules)?;
        self.check_resolved_addresses(&draft.url).await?;
        Ok(draft)
    }

    /// Refuses a host name that resolves to a refused address. A name that does not resolve
    /// yet is accepted: delivery resolves it again and records a `dns` error if it still fails.
    async fn check_resolved_addresses(&self, url: &WebhookUrl) -> Result<(), ServiceError> {
        let Some(host) = url.domain() else { return Ok(()) };
        let Ok(addresses) = self.resolver.resolve(host).await else { return Ok(()) };
        match addresses.into_iter().find(|ip| !self.settings.url_rules.net.allows(*ip)) {
            Some(refused) => Err(refused_ip(refused).into()),
            None => Ok(()),
        }
    }
}

/// The identity and timestamps a draft lacks.
struct Stamp {
    id: WebhookId,
    retired_secrets: Vec<RetiredSecret>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A webhook from a draft; `kept_secret` is the secret when the draft has none, and without
/// one a new secret is generated for the draft's signature profile.
fn build(draft: WebhookDraft, stamp: Stamp, kept_secret: Option<SigningSecret>) -> Webhook {
    let secret = draft.secret.or(kept_secret).unwrap_or_else(|| draft.signature.generate_secret());
    Webhook {
        id: stamp.id,
        name: draft.name,
        url: draft.url,
        secret,
        retired_secrets: stamp.retired_secrets,
        events: draft.events,
        state: if draft.is_active { WebhookState::Active } else { WebhookState::Paused },
        state_changed_at: stamp.updated_at,
        health: Health::default(),
        description: draft.description,
        headers: draft.headers,
        retry_policy: draft.retry_policy,
        rate_limit_per_sec: draft.rate_limit_per_sec,
        signature: draft.signature,
        filter: draft.filter,
        transform: draft.transform,
        disabled_reason: None,
        created_at: stamp.created_at,
        updated_at: stamp.updated_at,
    }
}
