//! Reading the delivery history.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{Hookline, ServiceError};
use crate::domain::delivery::{Attempt, Delivery};
use crate::domain::ids::DeliveryId;
use crate::domain::stats::DeliveryStats;
use crate::ports::{DeliveryFilter, Page};

/// One delivery with every attempt and the payload that was sent.
#[derive(Debug, Serialize)]
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

    /// Delivery health since `since` (the last 24 hours when `None`).
    pub async fn delivery_stats(&self, since: Option<DateTime<Utc>>) -> Result<DeliveryStats, ServiceError> {
        let since = since.unwrap_or_else(|| self.clock.now() - chrono::Duration::hours(24));
        Ok(self.stores.deliveries.stats(since).await?)
    }

    pub async fn delivery(&self, id: &str) -> Result<DeliveryDetail, ServiceError> {
        let id = DeliveryId::parse(id).ok_or(ServiceError::NotFound("delivery"))?;
        let delivery = self.stores.deliveries.get(&id).await?.ok_or(ServiceError::NotFound("delivery"))?;
        let attempts_log = self.stores.deliveries.attempts(&id).await?;
        let payload = self.stores.events.get(&delivery.event_id).await?.and_then(|event| serde_json::from_str(&event.body).ok());
        Ok(DeliveryDetail { delivery, attempts_log, payload })
    }
}
