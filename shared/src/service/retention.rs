//! Retention: events and delivery records expire after the configured period.

use std::time::Duration;

use super::{Hookline, ServiceError};

impl Hookline {
    /// Deletes what is older than `retention`, except deliveries still open and their events.
    pub async fn purge_expired(&self, retention: Duration) -> Result<(u64, u64), ServiceError> {
        let cutoff = self.clock.now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let (deliveries, events) = self.stores.retention.purge(cutoff).await?;
        if deliveries + events > 0 {
            tracing::info!(deliveries, events, "expired records purged");
        }
        Ok((deliveries, events))
    }
}
