//! Reading the delivery history.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{Hookline, ServiceError};
use crate::domain::delivery::{Attempt, Delivery};
use crate::domain::health::WebhookState;
use crate::domain::ids::DeliveryId;
use crate::domain::metrics::{MetricsQuery, MetricsReport, Rollup, Sample};
use crate::ports::{DeliveryFilter, Page, StoreError, WebhookFilter};

/// One delivery with every attempt and the payload that was sent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub attempts_log: Vec<Attempt>,
    pub payload: Option<Value>,
}

impl Hookline {
    pub async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Page<Delivery>, ServiceError> {
        Ok(self.stores.deliveries.list(filter).await?)
    }

    /// Delivery health over the query's period, from the stored rollups.
    pub async fn metrics(&self, query: &MetricsQuery) -> Result<MetricsReport, ServiceError> {
        let rollups = self.stores.metrics.rollups(&query.selection()).await?;
        Ok(query.report(&rollups))
    }

    /// Writes the metrics a store holds back (a batch's rollups); logs and keeps them for the
    /// next flush when that fails, since metrics never hold up a delivery.
    pub async fn flush_metrics(&self) -> Rollup {
        kept_when_unwritten(self.stores.metrics.flush().await)
    }

    /// Counts the attempts the store's change stream handed over
    /// (`MetricsStore::count_from_stream`), kept for the next flush when that fails.
    pub async fn count_from_stream(&self, samples: &[Sample]) -> Rollup {
        kept_when_unwritten(self.stores.metrics.count_from_stream(samples).await)
    }

    /// How many webhooks are in each state (every state present), reading every webhook: for
    /// a host's gauges, where webhooks number in the hundreds.
    pub async fn webhook_states(&self) -> Result<BTreeMap<&'static str, u64>, ServiceError> {
        let mut states: BTreeMap<&'static str, u64> = WebhookState::ALL.iter().map(|state| (state.as_str(), 0)).collect();
        let mut filter = WebhookFilter { limit: 100, ..WebhookFilter::default() };
        loop {
            let page = self.stores.subscriptions.list(&filter).await?;
            for webhook in &page.items {
                *states.entry(webhook.state.as_str()).or_default() += 1;
            }
            match page.next_cursor {
                Some(cursor) => filter.cursor = Some(cursor),
                None => return Ok(states),
            }
        }
    }

    pub async fn delivery(&self, id: &str) -> Result<DeliveryDetail, ServiceError> {
        let id = DeliveryId::parse(id).ok_or(ServiceError::NotFound("delivery"))?;
        let delivery = self.stores.deliveries.get(&id).await?.ok_or(ServiceError::NotFound("delivery"))?;
        let attempts_log = self.stores.deliveries.attempts(&id).await?;
        let payload = match &delivery.body {
            Some(body) => serde_json::from_str(body).ok(),
            None => self.stores.events.get(&delivery.event_id).await?.and_then(|event| serde_json::from_str(&event.body).ok()),
        };
        Ok(DeliveryDetail { delivery, attempts_log, payload })
    }
}

/// What a metrics write wrote; nothing when it failed (the store keeps the rest for its next
/// flush), logged.
fn kept_when_unwritten(written: Result<Rollup, StoreError>) -> Rollup {
    written.unwrap_or_else(|error| {
        tracing::warn!(%error, "metrics rollups not written; they go with the next flush");
        Rollup::default()
    })
}
