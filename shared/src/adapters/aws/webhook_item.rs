//! A webhook as stored in DynamoDB: one JSON document (`doc`) with its signing secrets sealed,
//! copied into the webhook's item and into each of its event-type index items.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::adapters::cipher::SecretCipher;
use crate::adapters::shaping::StoredShaping;
use crate::domain::filter::EventPattern;
use crate::domain::health::{Health, WebhookState};
use crate::domain::ids::WebhookId;
use crate::domain::retry::RetryPolicy;
use crate::domain::secret::SigningSecret;
use crate::domain::webhook::{RetiredSecret, Webhook};
use crate::domain::webhook_url::WebhookUrl;
use crate::ports::StoreError;

#[derive(Serialize, Deserialize)]
struct WebhookDoc {
    id: String,
    name: String,
    url: String,
    /// Sealed with the webhook id as associated data.
    secret: String,
    /// Sealed JSON of `[RetiredDoc]`.
    retired_secrets: String,
    events: Vec<String>,
    /// Documents written before states had only `is_active`.
    #[serde(default)]
    state: Option<WebhookState>,
    #[serde(default)]
    state_changed_at: Option<DateTime<Utc>>,
    is_active: bool,
    description: Option<String>,
    headers: BTreeMap<String, String>,
    retry_policy: Option<RetryPolicy>,
    #[serde(default)]
    rate_limit_per_sec: Option<f64>,
    #[serde(flatten)]
    shaping: StoredShaping,
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct RetiredDoc {
    secret: String,
    expires_at: DateTime<Utc>,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("stored webhook {what} does not parse").into())
}

/// The stored document for `webhook`, its secrets sealed with `cipher`.
pub fn to_doc(webhook: &Webhook, cipher: &SecretCipher) -> String {
    let id = webhook.id.as_str();
    let retired: Vec<RetiredDoc> =
        webhook.retired_secrets.iter().map(|r| RetiredDoc { secret: r.secret.expose().to_owned(), expires_at: r.expires_at }).collect();
    let doc = WebhookDoc {
        id: id.to_owned(),
        name: webhook.name.clone(),
        url: webhook.url.as_str().to_owned(),
        secret: cipher.seal(webhook.secret.expose(), id),
        retired_secrets: cipher.seal(&serde_json::to_string(&retired).unwrap_or_default(), id),
        events: webhook.events.iter().map(EventPattern::as_string).collect(),
        state: Some(webhook.state),
        state_changed_at: Some(webhook.state_changed_at),
        is_active: webhook.is_active(),
        description: webhook.description.clone(),
        headers: webhook.headers.clone(),
        retry_policy: webhook.retry_policy.clone(),
        rate_limit_per_sec: webhook.rate_limit_per_sec,
        shaping: StoredShaping::of(webhook),
        disabled_reason: webhook.disabled_reason.clone(),
        created_at: webhook.created_at,
        updated_at: webhook.updated_at,
    };
    serde_json::to_string(&doc).unwrap_or_default()
}

pub fn from_doc(raw: &str, cipher: &SecretCipher) -> Result<Webhook, StoreError> {
    let doc: WebhookDoc = serde_json::from_str(raw).map_err(|_| corrupt("document"))?;
    let open = |sealed: &str| cipher.open(sealed, &doc.id).map_err(|_| corrupt("secret"));
    let retired: Vec<RetiredDoc> = serde_json::from_str(&open(&doc.retired_secrets)?).map_err(|_| corrupt("retired secrets"))?;
    let retired_secrets = retired
        .into_iter()
        .map(|r| {
            Ok(RetiredSecret { secret: SigningSecret::parse(&r.secret).map_err(|_| corrupt("retired secret"))?, expires_at: r.expires_at })
        })
        .collect::<Result<_, StoreError>>()?;
    let state = doc.state.unwrap_or(match (doc.is_active, &doc.disabled_reason) {
        (true, _) => WebhookState::Active,
        (false, Some(_)) => WebhookState::Disabled,
        (false, None) => WebhookState::Paused,
    });
    let shaping = doc.shaping.compile().map_err(corrupt)?;
    Ok(Webhook {
        id: WebhookId::parse(&doc.id).ok_or_else(|| corrupt("id"))?,
        name: doc.name,
        url: WebhookUrl::from_stored(&doc.url).ok_or_else(|| corrupt("url"))?,
        secret: SigningSecret::parse(&open(&doc.secret)?).map_err(|_| corrupt("secret"))?,
        retired_secrets,
        events: doc.events.iter().map(|raw| EventPattern::from_stored(raw)).collect(),
        state,
        state_changed_at: doc.state_changed_at.unwrap_or(doc.updated_at),
        health: Health::default(),
        description: doc.description,
        headers: doc.headers,
        retry_policy: doc.retry_policy,
        rate_limit_per_sec: doc.rate_limit_per_sec,
        signature: shaping.signature,
        filter: shaping.filter,
        transform: shaping.transform,
        disabled_reason: doc.disabled_reason,
        created_at: doc.created_at,
        updated_at: doc.updated_at,
    })
}
