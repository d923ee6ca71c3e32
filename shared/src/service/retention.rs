//! Retention: events and delivery records expire after their type's period; dead deliveries
//! wait for review up to the dead-letter limit.

use super::{Hookline, ServiceError};
use crate::domain::retention::RetentionPolicy;

impl Hookline {
    /// Deletes what is past its retention, except deliveries still open or held (and their events).
    pub async fn purge_expired(&self, policy: &RetentionPolicy) -> Result<(u64, u64), ServiceError> {
        let (deliveries, events) = self.stores.retention.purge(policy, self.clock.now()).await?;
        if deliveries + events > 0 {
            tracing::info!(deliveries, events, "expired records purged");
        }
        Ok((deliveries, events))
    }
}
