//! Delivery health over a period: the seed's metrics (success rate, average delivery time,
//! failures by endpoint, event type distribution, response time percentiles).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::delivery::DeliveryStatus;
use super::ids::WebhookId;

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryStats {
    /// Deliveries created (and attempts started) at or after this time are counted.
    pub since: DateTime<Utc>,
    /// Deliveries by status; every status is present.
    pub deliveries: BTreeMap<&'static str, u64>,
    /// Succeeded ÷ (succeeded + dead); `None` before any delivery finished.
    pub success_rate: Option<f64>,
    pub attempts: AttemptStats,
    /// Webhooks with failed attempts, most failures first.
    pub failures_by_webhook: Vec<WebhookFailures>,
    /// Deliveries per event type, most first.
    pub event_types: Vec<EventTypeCount>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AttemptStats {
    pub total: u64,
    pub failed: u64,
    pub avg_duration_ms: Option<f64>,
    pub p50_duration_ms: Option<u64>,
    pub p95_duration_ms: Option<u64>,
    pub p99_duration_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookFailures {
    pub webhook_id: WebhookId,
    pub failed_attempts: u64,
    pub dead_deliveries: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventTypeCount {
    pub event_type: String,
    pub deliveries: u64,
}

impl DeliveryStats {
    /// Assembles the figures; `by_status` may leave statuses out (they count zero).
    pub fn new(
        since: DateTime<Utc>,
        by_status: &[(DeliveryStatus, u64)],
        attempts: AttemptStats,
        failures_by_webhook: Vec<WebhookFailures>,
        event_types: Vec<EventTypeCount>,
    ) -> Self {
        let mut deliveries: BTreeMap<&'static str, u64> = DeliveryStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        for (status, count) in by_status {
            *deliveries.entry(status.as_str()).or_default() += count;
        }
        let (succeeded, dead) = (deliveries["succeeded"], deliveries["dead"]);
        let finished = succeeded + dead;
        let success_rate = (finished > 0).then(|| succeeded as f64 / finished as f64);
        Self { since, deliveries, success_rate, attempts, failures_by_webhook, event_types }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_success_rate_counts_only_finished_deliveries() {
        let stats = DeliveryStats::new(
            Utc::now(),
            &[(DeliveryStatus::Succeeded, 3), (DeliveryStatus::Dead, 1), (DeliveryStatus::Retrying, 5)],
            AttemptStats::default(),
            Vec::new(),
            Vec::new(),
        );
        assert_eq!(stats.success_rate, Some(0.75));
        assert_eq!(stats.deliveries["pending"], 0);
        assert_eq!(stats.deliveries["retrying"], 5);
    }

    #[test]
    fn there_is_no_success_rate_before_anything_finished() {
        let stats = DeliveryStats::new(Utc::now(), &[(DeliveryStatus::Pending, 2)], AttemptStats::default(), Vec::new(), Vec::new());
        assert_eq!(stats.success_rate, None);
    }
}
