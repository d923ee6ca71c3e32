//! The audit trail: who changed what, when, and from where. Entries are only ever appended.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Who acted: a token's subject, and the address the request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub subject: String,
    pub source: Option<String>,
}

/// The changes the audit trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum AuditAction {
    #[serde(rename = "webhook.create")]
    WebhookCreate,
    #[serde(rename = "webhook.update")]
    WebhookUpdate,
    #[serde(rename = "webhook.delete")]
    WebhookDelete,
    #[serde(rename = "webhook.secret.read")]
    SecretRead,
    #[serde(rename = "webhook.secret.rotate")]
    SecretRotate,
    #[serde(rename = "webhook.replay")]
    WebhookReplay,
    #[serde(rename = "webhook.enable")]
    WebhookEnable,
    #[serde(rename = "delivery.replay")]
    DeliveryReplay,
    #[serde(rename = "delivery.acknowledge")]
    DeliveryAcknowledge,
    #[serde(rename = "deliveries.replay")]
    DeliveriesReplay,
    #[serde(rename = "api_key.create")]
    ApiKeyCreate,
    #[serde(rename = "api_key.revoke")]
    ApiKeyRevoke,
    #[serde(rename = "event.erase")]
    EventErase,
}

impl AuditAction {
    pub const ALL: [Self; 13] = [
        Self::WebhookCreate,
        Self::WebhookUpdate,
        Self::WebhookDelete,
        Self::SecretRead,
        Self::SecretRotate,
        Self::WebhookReplay,
        Self::WebhookEnable,
        Self::DeliveryReplay,
        Self::DeliveryAcknowledge,
        Self::DeliveriesReplay,
        Self::ApiKeyCreate,
        Self::ApiKeyRevoke,
        Self::EventErase,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebhookCreate => "webhook.create",
            Self::WebhookUpdate => "webhook.update",
            Self::WebhookDelete => "webhook.delete",
            Self::SecretRead => "webhook.secret.read",
            Self::SecretRotate => "webhook.secret.rotate",
            Self::WebhookReplay => "webhook.replay",
            Self::WebhookEnable => "webhook.enable",
            Self::DeliveryReplay => "delivery.replay",
            Self::DeliveryAcknowledge => "delivery.acknowledge",
            Self::DeliveriesReplay => "deliveries.replay",
            Self::ApiKeyCreate => "api_key.create",
            Self::ApiKeyRevoke => "api_key.revoke",
            Self::EventErase => "event.erase",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == raw)
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: AuditAction,
    /// The id of what was changed.
    pub target: String,
    pub source: Option<String>,
}

impl AuditEntry {
    pub fn new(actor: &Actor, action: AuditAction, target: &str, at: DateTime<Utc>) -> Self {
        Self { at, actor: actor.subject.clone(), action, target: target.to_owned(), source: actor.source.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_their_names() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
        }
    }
}
