//! Content filters and transformations in fan-out: which of an event's subscribers their
//! filters let through, with what body, and the failures (an expression that errors on the
//! event: not delivered) recorded in each webhook's health once per fan-out; and the dry run,
//! a filter and transformation tried on recent events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Hookline, ServiceError};
use crate::domain::Invalid;
use crate::domain::catalog::{self, EventTypeInfo};
use crate::domain::content_filter::ContentFilter;
use crate::domain::event::{Event, PublishRequest};
use crate::domain::expression::EnvelopeInput;
use crate::domain::filter::{any_matches, parse_patterns};
use crate::domain::health::HealthChange;
use crate::domain::ids::{EventId, WebhookId};
use crate::domain::transform::Transform;
use crate::domain::webhook::Webhook;
use crate::ports::DeliveryFilter;

/// The filter and transformation failures of one fan-out: per webhook, how many events and
/// the last error.
#[derive(Default)]
pub(crate) struct ExpressionFailures(BTreeMap<WebhookId, (u64, String)>);

impl ExpressionFailures {
    fn add(&mut self, webhook: &WebhookId, error: String) {
        let entry = self.0.entry(webhook.clone()).or_insert((0, String::new()));
        entry.0 += 1;
        entry.1 = error;
    }
}

/// A subscriber an event goes to, with the body its transformation made of it (if it has one).
pub(crate) struct Recipient<'w> {
    pub webhook: &'w Webhook,
    pub body: Option<String>,
}

/// The `webhooks` an event goes to: those whose filter lets it through (every one without a
/// filter), each with its transformed body (at most `max_body` bytes). A webhook whose filter or
/// transformation fails on the event is left out and the failure noted. The event is converted
/// for expressions only when one of the webhooks has one.
pub(crate) fn recipients<'w>(
    event: &Event,
    webhooks: Vec<&'w Webhook>,
    max_body: usize,
    failures: &mut ExpressionFailures,
) -> Vec<Recipient<'w>> {
    if webhooks.iter().all(|webhook| webhook.filter.is_none() && webhook.transform.is_none()) {
        return webhooks.into_iter().map(|webhook| Recipient { webhook, body: None }).collect();
    }
    let envelope: Value = serde_json::from_str(&event.body).unwrap_or(Value::Null);
    let input = EnvelopeInput::of(&envelope);
    webhooks
        .into_iter()
        .filter_map(|webhook| match shape(webhook.filter.as_ref(), webhook.transform.as_ref(), &input, max_body) {
            Ok(Shaped::Send(body)) => Some(Recipient { webhook, body }),
            Ok(Shaped::FilteredOut) => None,
            Err(error) => {
                failures.add(&webhook.id, error);
                None
            }
        })
        .collect()
}

/// What a filter and a transformation make of an event.
enum Shaped {
    FilteredOut,
    /// Sent, with the transformed body (the envelope when `None`).
    Send(Option<String>),
}

/// Applies `filter`, then `transform`; `Err` says which failed and why.
fn shape(filter: Option<&ContentFilter>, transform: Option<&Transform>, input: &EnvelopeInput, max_body: usize) -> Result<Shaped, String> {
    if let Some(filter) = filter
        && !filter.matches(input).map_err(|error| format!("filter: {error}"))?
    {
        return Ok(Shaped::FilteredOut);
    }
    match transform {
        Some(transform) => {
            transform.apply(input, max_body).map(|body| Shaped::Send(Some(body))).map_err(|error| format!("transform: {error}"))
        }
        None => Ok(Shaped::Send(None)),
    }
}

impl Hookline {
    /// Records each webhook's filter and transformation failures in its health. Best effort:
    /// the fan-out is done and must not be repeated for a figure.
    pub(crate) async fn record_expression_failures(&self, failures: ExpressionFailures) {
        let now = self.clock.now();
        for (webhook, (count, error)) in failures.0 {
            let change = HealthChange::ExpressionErrors { count, error };
            if let Err(error) = self.stores.subscriptions.record_health(&webhook, &change, now).await {
                tracing::warn!(webhook_id = %webhook, %error, "could not record filter or transformation failures");
            }
        }
    }
}

/// `POST /webhooks/filter/test`: a filter and a transformation (one or both) tried on recent
/// events before they are saved.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterTestRequest {
    /// A CEL expression, as a webhook's `filter` takes it.
    pub filter: Option<String>,
    /// A CEL expression, as a webhook's `transform` takes it.
    pub transform: Option<String>,
    /// Only events of these types (patterns as a webhook's `events`); every type when absent.
    pub event_types: Option<Vec<String>>,
    /// How many events to try, newest first: 1 to 200 (default 50).
    pub limit: Option<usize>,
}

/// How a filter and a transformation fared on the events they were tried on.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FilterTestReport {
    /// `recent`: the newest events delivered to any webhook; `catalog`: the catalog's example
    /// of each selected type, when no recent event was found.
    pub source: &'static str,
    pub evaluated: usize,
    /// Events that would be delivered.
    pub matched: usize,
    /// Events an expression failed on (a missing field, a type mismatch): not delivered.
    pub failed: usize,
    /// Up to five events that would be delivered: each as published and as it would be sent.
    pub examples: Vec<FilterExample>,
    /// Up to five failures: the event and why.
    pub failures: Vec<FilterFailure>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FilterExample {
    /// The envelope, as published.
    pub event: Value,
    /// The body the receiver would get: the transformation's, or the envelope.
    pub sent: Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FilterFailure {
    pub event_id: String,
    pub error: String,
}

const SHOWN: usize = 5;
/// How many recent deliveries the dry run looks through for events of the selected types.
const DELIVERIES_SCANNED: usize = 1_000;

impl Hookline {
    pub async fn test_filter(&self, request: FilterTestRequest) -> Result<FilterTestReport, ServiceError> {
        let filter = request.filter.as_deref().map(ContentFilter::compile).transpose()?;
        let transform = request.transform.as_deref().map(Transform::compile).transpose()?;
        if filter.is_none() && transform.is_none() {
            return Err(Invalid::new("filter", "give a filter, a transform, or both").into());
        }
        let limit = match request.limit {
            None => 50,
            Some(limit @ 1..=200) => limit,
            Some(_) => return Err(Invalid::new("limit", "must be 1 to 200").into()),
        };
        let patterns = match &request.event_types {
            Some(raw) => Some(parse_patterns(raw).map_err(|invalid| {
                let index = invalid.field.strip_prefix("events").unwrap_or_default();
                Invalid::new(format!("event_types{index}"), invalid.detail)
            })?),
            None => None,
        };
        let wanted = |event_type: &str| patterns.as_ref().is_none_or(|patterns| any_matches(patterns, event_type));
        let mut events = self.recent_events(&wanted, limit).await?;
        let source = if events.is_empty() {
            events = catalog::subscribable()
                .filter(|info| wanted(&info.event_type))
                .filter_map(|info| example(info, self.clock.now()))
                .collect();
            "catalog"
        } else {
            "recent"
        };
        let shaping = (filter.as_ref(), transform.as_ref(), self.settings.max_event_bytes);
        Ok(report(shaping, &events, source))
    }

    /// The newest events (up to `limit`) of wanted types that were delivered to any webhook.
    async fn recent_events(&self, wanted: &(dyn Fn(&str) -> bool + Sync), limit: usize) -> Result<Vec<Value>, ServiceError> {
        let mut ids: Vec<EventId> = Vec::new();
        let mut page = DeliveryFilter { limit: 100, ..DeliveryFilter::default() };
        let mut scanned = 0;
        while ids.len() < limit && scanned < DELIVERIES_SCANNED {
            let deliveries = self.stores.deliveries.list(&page).await?;
            scanned += deliveries.items.len();
            for delivery in deliveries.items.iter().filter(|d| wanted(&d.event_type)) {
                if ids.len() < limit && !ids.contains(&delivery.event_id) {
                    ids.push(delivery.event_id.clone());
                }
            }
            match deliveries.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => break,
            }
        }
        let events = futures_util::future::join_all(ids.iter().map(|id| self.stores.events.get(id))).await;
        let mut envelopes = Vec::with_capacity(events.len());
        for event in events {
            if let Some(event) = event? {
                envelopes.push(serde_json::from_str(&event.body).unwrap_or(Value::Null));
            }
        }
        Ok(envelopes)
    }
}

/// The catalog's example of `info` as a delivered envelope.
fn example(info: &EventTypeInfo, now: chrono::DateTime<chrono::Utc>) -> Option<Value> {
    let request =
        PublishRequest { id: None, event_type: info.event_type.clone(), timestamp: None, data: info.example.clone(), metadata: None };
    let event = Event::from_request(request, now, "example").ok()?;
    serde_json::from_str(&event.body).ok()
}

fn report(
    (filter, transform, max_body): (Option<&ContentFilter>, Option<&Transform>, usize),
    envelopes: &[Value],
    source: &'static str,
) -> FilterTestReport {
    let mut report =
        FilterTestReport { source, evaluated: envelopes.len(), matched: 0, failed: 0, examples: Vec::new(), failures: Vec::new() };
    for envelope in envelopes {
        match shape(filter, transform, &EnvelopeInput::of(envelope), max_body) {
            Ok(Shaped::Send(body)) => {
                report.matched += 1;
                if report.examples.len() < SHOWN {
                    let sent = body.and_then(|body| serde_json::from_str(&body).ok()).unwrap_or_else(|| envelope.clone());
                    report.examples.push(FilterExample { event: envelope.clone(), sent });
                }
            }
            Ok(Shaped::FilteredOut) => {}
            Err(error) => {
                report.failed += 1;
                if report.failures.len() < SHOWN {
                    let event_id = envelope.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                    report.failures.push(FilterFailure { event_id, error });
                }
            }
        }
    }
    report
}
