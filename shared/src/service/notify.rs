//! Hookline's own events (`hookline.*`, the seed's "failed delivery notifications"): published
//! like any event, signed, retried and logged the same way, to the webhooks subscribed to them.
//! An event about a webhook is never sent to that webhook, and a dead delivery of one of these
//! events raises no further one, so a failing operations endpoint cannot feed on itself.
//! Publishing them is best effort: a failure is logged and never undoes what it reports.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Hookline, ServiceError};
use crate::domain::catalog;
use crate::domain::delivery::Delivery;
use crate::domain::event::{Event, EventType, format_timestamp};
use crate::domain::webhook::Webhook;

/// What Hookline tells operators about.
pub(crate) enum Notice<'a> {
    Failing { webhook: &'a Webhook, reason: &'a str, streak: u32, last_error: Option<&'a str>, since: DateTime<Utc> },
    Recovered { webhook: &'a Webhook, failing_since: DateTime<Utc>, released: usize },
    Disabled { webhook: &'a Webhook, reason: &'a str },
    DeliveryDead { delivery: &'a Delivery, attempts: u32, last_error: Option<&'a str> },
    ReplayFinished { replay_id: Option<&'a str>, webhook_id: Option<&'a str>, matched: usize, replayed: usize },
}

impl Notice<'_> {
    /// The event type and its data.
    fn describe(&self, now: DateTime<Utc>) -> (&'static str, Value) {
        let about = |webhook: &Webhook| json!({"webhook_id": webhook.id, "webhook_name": webhook.name, "url": webhook.url.as_str()});
        let with = |mut base: Value, more: Value| {
            if let (Some(base), Some(more)) = (base.as_object_mut(), more.as_object()) {
                base.extend(more.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())));
            }
            base
        };
        match self {
            Self::Failing { webhook, reason, streak, last_error, since } => (
                "hookline.webhook.failing",
                with(
                    about(webhook),
                    json!({"reason": reason, "failure_streak": streak, "failing_since": format_timestamp(*since), "last_error": last_error}),
                ),
            ),
            Self::Recovered { webhook, failing_since, released } => (
                "hookline.webhook.recovered",
                with(
                    about(webhook),
                    json!({"failing_since": format_timestamp(*failing_since), "recovered_at": format_timestamp(now), "released": released}),
                ),
            ),
            Self::Disabled { webhook, reason } => ("hookline.webhook.disabled", with(about(webhook), json!({"reason": reason}))),
            Self::DeliveryDead { delivery, attempts, last_error } => (
                "hookline.delivery.dead",
                with(
                    json!({"delivery_id": delivery.id, "webhook_id": delivery.webhook_id, "event_id": delivery.event_id,
                           "event_type": delivery.event_type, "attempts": attempts}),
                    json!({"last_error": last_error}),
                ),
            ),
            Self::ReplayFinished { replay_id, webhook_id, matched, replayed } => (
                "hookline.replay.finished",
                with(json!({"matched": matched, "replayed": replayed}), json!({"replay_id": replay_id, "webhook_id": webhook_id})),
            ),
        }
    }
}

impl Hookline {
    /// Publishes Hookline's event about `notice`; never fails (a failure is logged).
    pub(crate) async fn notify(&self, notice: Notice<'_>) {
        if matches!(&notice, Notice::DeliveryDead { delivery, .. } if catalog::is_operational(&delivery.event_type)) {
            return;
        }
        let (event_type, data) = notice.describe(self.clock.now());
        if let Err(error) = self.publish_operational(event_type, data).await {
            tracing::error!(%error, event_type, "could not publish Hookline's own event");
        }
    }

    async fn publish_operational(&self, event_type: &'static str, data: Value) -> Result<(), ServiceError> {
        let Some(event_type) = EventType::operational(event_type) else { return Ok(()) };
        let event = Event::operational(event_type, data, self.clock.now())?;
        self.stores.events.record(&event).await?;
        if self.fanned_out_by_stream() {
            self.tally.published(event.event_type.as_str());
        } else {
            self.fan_out_all(&[(&event, true)]).await?;
        }
        Ok(())
    }
}

/// The webhook an operational event is about, which it is not sent to.
pub(crate) fn about_webhook(event: &Event) -> Option<String> {
    if !catalog::is_operational(event.event_type.as_str()) {
        return None;
    }
    let envelope: Value = serde_json::from_str(&event.body).ok()?;
    envelope["data"]["webhook_id"].as_str().map(str::to_owned)
}
