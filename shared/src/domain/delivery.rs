//! Deliveries (one event to one webhook) and their attempts.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ids::{DeliveryId, EventId, WebhookId};
use super::outcome::ErrorKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt.
    Pending,
    /// At least one attempt failed; another is scheduled.
    Retrying,
    Succeeded,
    /// Every attempt failed (or the endpoint answered 410). Kept for review and replay.
    Dead,
    /// Its webhook was deleted, or re-enabled discarding what it held, before it could be sent.
    Cancelled,
    /// Kept, not attempted, while its webhook is paused, failing or disabled; released (made
    /// pending again, oldest first) when the webhook is active again.
    Held,
}

impl DeliveryStatus {
    pub const ALL: [Self; 6] = [Self::Pending, Self::Retrying, Self::Succeeded, Self::Dead, Self::Cancelled, Self::Held];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Retrying => "retrying",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
            Self::Held => "held",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }

    /// Pending and retrying deliveries still expect an attempt.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Retrying)
    }

    /// Not finished: open, or held for later. Deleting a webhook cancels these.
    pub fn is_unfinished(self) -> bool {
        self.is_open() || self == Self::Held
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub webhook_id: WebhookId,
    pub event_type: String,
    pub status: DeliveryStatus,
    /// Attempts made so far. The count lives here, not in the queue, so redelivered
    /// messages cannot inflate it.
    pub attempts: u32,
    /// The attempt count when the delivery was last replayed (0 if never): a replay gets the
    /// whole retry policy again, counted from here.
    pub attempts_before_replay: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    /// When someone reviewed it (a dead delivery): from then on normal retention applies.
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The body sent instead of the event's when the webhook transforms it: made once, at
    /// fan-out, so every attempt sends the same bytes. Shown as the delivery's `payload`.
    #[serde(skip)]
    pub body: Option<String>,
}

impl Delivery {
    pub fn new(event_id: EventId, webhook_id: WebhookId, event_type: &str, now: DateTime<Utc>) -> Self {
        Self {
            id: DeliveryId::for_pair(&event_id, &webhook_id),
            event_id,
            webhook_id,
            event_type: event_type.to_owned(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            attempts_before_replay: 0,
            next_attempt_at: Some(now),
            last_status_code: None,
            last_error: None,
            acknowledged_at: None,
            created_at: now,
            updated_at: now,
            body: None,
        }
    }
}

impl Delivery {
    /// The same delivery created held (its webhook is not active).
    pub fn held(self) -> Self {
        Self { status: DeliveryStatus::Held, next_attempt_at: None, ..self }
    }
}

/// One HTTP attempt and what came of it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    /// 1-based.
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub status_code: Option<u16>,
    /// The start of the response body, at most [`RESPONSE_EXCERPT_BYTES`].
    pub response_excerpt: Option<String>,
    pub error_kind: Option<ErrorKind>,
    pub error_detail: Option<String>,
    /// When the next attempt is due; `None` when this was the last.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// How much of a response body an attempt keeps.
pub const RESPONSE_EXCERPT_BYTES: usize = 4096;

/// Cuts `body` to at most [`RESPONSE_EXCERPT_BYTES`] on a character boundary.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(RESPONSE_EXCERPT_BYTES)]).into_owned();
    let mut end = text.len().min(RESPONSE_EXCERPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_capped_at_4_kib_on_a_character_boundary() {
        assert_eq!(excerpt(b"ok"), "ok");
        assert_eq!(excerpt(&vec![b'a'; 10_000]).len(), RESPONSE_EXCERPT_BYTES);
        let accented = "é".repeat(3000);
        assert!(excerpt(accented.as_bytes()).len() <= RESPONSE_EXCERPT_BYTES);
    }

    #[test]
    fn statuses_round_trip_and_only_pending_and_retrying_are_open() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        assert!(DeliveryStatus::Retrying.is_open());
        assert!(!DeliveryStatus::Dead.is_open());
        assert!(!DeliveryStatus::Held.is_open() && DeliveryStatus::Held.is_unfinished());
    }
}
