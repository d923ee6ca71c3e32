//! Ingesting events: validate against the catalog, store once, fan out to every matching webhook.

use serde::Serialize;
use serde_json::Value;

use super::{Hookline, ServiceError};
use crate::domain::api_key::ApiKey;
use crate::domain::delivery::Delivery;
use crate::domain::event::{Event, PublishRequest};
use crate::domain::ids::EventId;
use crate::domain::json::from_value;
use crate::ports::{DeliveryTask, Recorded};

/// The answer to one publish.
#[derive(Debug, Clone, Serialize)]
pub struct PublishOutcome {
    pub id: EventId,
    pub event_type: &'static str,
    /// How many deliveries the event fanned out to (0 for a duplicate).
    pub deliveries: usize,
    /// True when this id was already published: nothing new was queued.
    pub duplicate: bool,
}

/// Who publishes: the ingestion path (`metadata.source` default) and, over HTTP, the API key,
/// which may limit the event types allowed.
#[derive(Debug, Clone, Copy)]
pub struct PublishAs<'a> {
    pub source: &'a str,
    pub key: Option<&'a ApiKey>,
}

/// One entry of a batch's answer: the outcome, or why that event was refused.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum BatchItem {
    Accepted(PublishOutcome),
    Refused { code: &'static str, detail: String, field: Option<String> },
}

impl Hookline {
    /// Publishes one event. Safe to retry with the same `id`: a publish that stopped half
    /// way (event stored, deliveries not yet queued) is completed, a finished one is a duplicate.
    pub async fn publish(&self, request: PublishRequest, by: PublishAs<'_>) -> Result<PublishOutcome, ServiceError> {
        if let Some(key) = by.key.filter(|key| !key.may_publish(&request.event_type)) {
            return Err(ServiceError::Forbidden(format!("API key {} may not publish {}", key.id, request.event_type)));
        }
        let event = Event::from_request(request, self.clock.now(), by.source)?;
        let limit = self.settings.max_event_bytes;
        if event.body.len() > limit {
            return Err(ServiceError::PayloadTooLarge { actual: event.body.len(), limit });
        }
        let duplicate =
            |deliveries| PublishOutcome { id: event.id.clone(), event_type: event.event_type.as_str(), deliveries, duplicate: true };
        match self.events.record(&event).await? {
            Recorded::Existing { same_content: false, .. } => {
                return Err(ServiceError::Conflict(format!("event id '{}' was already used for a different event", event.id)));
            }
            Recorded::Existing { fanned_out: true, .. } => return Ok(duplicate(0)),
            Recorded::New | Recorded::Existing { fanned_out: false, .. } => {}
        }
        let deliveries = self.fan_out(&event).await?;
        Ok(PublishOutcome { duplicate: false, ..duplicate(deliveries) })
    }

    /// Publishes each item on its own; one bad item does not refuse the others.
    pub async fn publish_batch(&self, items: Vec<Value>, by: PublishAs<'_>) -> Vec<BatchItem> {
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            results.push(match from_value::<PublishRequest>(item) {
                Ok(request) => self.publish(request, by).await.map_or_else(refusal, BatchItem::Accepted),
                Err(invalid) => refusal(invalid.into()),
            });
        }
        results
    }

    /// Finishes the fan-out of events stored by a process that stopped before queueing their
    /// deliveries, so an event never stays stored but undelivered. Run at start-up.
    pub async fn resume_fan_out(&self) -> Result<usize, ServiceError> {
        let unfinished = self.events.unfanned().await?;
        for event in &unfinished {
            self.fan_out(event).await?;
        }
        Ok(unfinished.len())
    }

    async fn fan_out(&self, event: &Event) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let webhooks = self.subscriptions.matching(event.event_type.as_str()).await?;
        let deliveries: Vec<Delivery> =
            webhooks.iter().map(|webhook| Delivery::new(event.id.clone(), webhook.id.clone(), event.event_type.as_str(), now)).collect();
        let tasks: Vec<DeliveryTask> = deliveries.iter().map(DeliveryTask::of).collect();
        // Both are idempotent and both must be done before the event counts as fanned out;
        // issued together, they usually share one commit.
        let (created, enqueued) = tokio::join!(self.attempts.create(&deliveries), self.queue.enqueue(&tasks));
        created?;
        enqueued?;
        self.events.mark_fanned_out(&event.id).await?;
        Ok(deliveries.len())
    }
}

fn refusal(error: ServiceError) -> BatchItem {
    match error {
        ServiceError::Invalid(invalid) => BatchItem::Refused {
            code: "validation_failed",
            detail: invalid.to_string(),
            field: Some(invalid.field).filter(|f| !f.is_empty()),
        },
        ServiceError::PayloadTooLarge { .. } => BatchItem::Refused { code: "payload_too_large", detail: error.to_string(), field: None },
        ServiceError::Conflict(detail) => BatchItem::Refused { code: "conflict", detail, field: Some("id".into()) },
        ServiceError::Forbidden(detail) => BatchItem::Refused { code: "forbidden", detail, field: Some("event_type".into()) },
        other => {
            tracing::error!(error = %other, "batch item failed");
            BatchItem::Refused { code: "internal_error", detail: "the event could not be stored; retry it".into(), field: None }
        }
    }
}
