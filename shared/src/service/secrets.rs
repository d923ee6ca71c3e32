//! Reading and rotating a webhook's signing secret.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Hookline, ServiceError};
use crate::domain::Invalid;
use crate::domain::secret::SigningSecret;
use crate::domain::webhook::{MAX_GRACE, Webhook};

/// How long the old secret keeps signing after a rotation, unless the request says otherwise.
const DEFAULT_GRACE: chrono::Duration = chrono::Duration::hours(24);

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// The new secret; generated when absent.
    pub secret: Option<String>,
    /// How long the old secret keeps signing: 0 to 604800 (7 days), 86400 when absent.
    pub grace_period_secs: Option<u64>,
}

/// A webhook's secrets as the secret routes show them: the current one in full, and when
/// each retired one stops signing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecretView {
    pub secret: String,
    /// The secret as the text GitHub- and Stripe-style verifiers are given (those profiles only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_text: Option<String>,
    pub retired_until: Vec<DateTime<Utc>>,
    /// Set when the secret is weaker than Standard Webhooks asks for (see `SigningSecret`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl SecretView {
    fn of(webhook: &Webhook, now: DateTime<Utc>) -> Self {
        let retired_until = webhook.retired_secrets.iter().map(|r| r.expires_at).filter(|at| *at > now).collect();
        Self {
            secret: webhook.secret.expose().to_owned(),
            secret_text: webhook.secret_text().map(str::to_owned),
            retired_until,
            warnings: webhook.secret_warnings(),
        }
    }
}

impl Hookline {
    pub async fn webhook_secret(&self, id: &str) -> Result<SecretView, ServiceError> {
        Ok(SecretView::of(&self.webhook(id).await?, self.clock.now()))
    }

    /// Issues a new secret; the old one keeps signing (a second `webhook-signature` entry)
    /// for the grace period, so receivers can switch without dropping a delivery.
    pub async fn rotate_secret(&self, id: &str, request: RotateRequest) -> Result<SecretView, ServiceError> {
        let grace = match request.grace_period_secs {
            None => DEFAULT_GRACE,
            // A number past what a duration holds is as much too long as 8 days.
            Some(secs) => i64::try_from(secs).ok().and_then(chrono::Duration::try_seconds).unwrap_or(chrono::Duration::MAX),
        };
        if grace > MAX_GRACE {
            return Err(Invalid::new("grace_period_secs", "must be at most 604800 (7 days)").into());
        }
        let new = request.secret.as_deref().map(SigningSecret::parse).transpose()?;
        let mut webhook = self.webhook(id).await?;
        let new = new.unwrap_or_else(|| webhook.signature.generate_secret());
        webhook.rotate(new, grace, self.clock.now());
        self.stores.subscriptions.replace(&webhook).await?;
        tracing::info!(webhook_id = %webhook.id, grace_secs = grace.num_seconds(), "signing secret rotated");
        Ok(SecretView::of(&webhook, self.clock.now()))
    }
}
