//! Delivery health over a period: the seed's metrics (success rate, average delivery time,
//! failures by endpoint, event type distribution, response time percentiles).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::delivery::{Attempt, Delivery, DeliveryStatus};
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

/// The nearest-rank position of quantile `q` among `count` sorted values: the percentile
/// rule, whether a store sorts in SQL (an `OFFSET`) or in memory.
pub fn rank(count: u64, q: f64) -> Option<u64> {
    let last = count.checked_sub(1)?;
    Some((last as f64 * q).round() as u64)
}

/// Attempt figures from their durations (any order) and how many failed.
pub fn attempt_stats(mut durations: Vec<u64>, failed: u64) -> AttemptStats {
    durations.sort_unstable();
    let total = durations.len() as u64;
    let percentile = |q: f64| rank(total, q).and_then(|at| durations.get(usize::try_from(at).ok()?).copied());
    AttemptStats {
        total,
        failed,
        avg_duration_ms: (total > 0).then(|| durations.iter().sum::<u64>() as f64 / total as f64),
        p50_duration_ms: percentile(0.50),
        p95_duration_ms: percentile(0.95),
        p99_duration_ms: percentile(0.99),
    }
}

/// Delivery health of the deliveries created since `since`, each with its attempts (those
/// started since `since` count), for a store that cannot aggregate itself.
pub fn aggregate(since: DateTime<Utc>, deliveries: &[(Delivery, Vec<Attempt>)]) -> DeliveryStats {
    let by_status: Vec<(DeliveryStatus, u64)> = deliveries.iter().map(|(delivery, _)| (delivery.status, 1)).collect();
    let mut by_type: BTreeMap<&str, u64> = BTreeMap::new();
    let mut failures: HashMap<&WebhookId, (u64, u64)> = HashMap::new();
    let (mut durations, mut failed) = (Vec::new(), 0);
    for (delivery, attempts) in deliveries {
        *by_type.entry(&delivery.event_type).or_default() += 1;
        let counted: Vec<&Attempt> = attempts.iter().filter(|a| a.started_at >= since).collect();
        let failed_here = counted.iter().filter(|a| a.error_kind.is_some()).count() as u64;
        durations.extend(counted.iter().map(|a| a.duration_ms));
        failed += failed_here;
        if failed_here > 0 {
            let entry = failures.entry(&delivery.webhook_id).or_default();
            entry.0 += failed_here;
            entry.1 += u64::from(delivery.status == DeliveryStatus::Dead);
        }
    }
    let mut failures_by_webhook: Vec<WebhookFailures> = failures
        .into_iter()
        .map(|(id, (failed_attempts, dead_deliveries))| WebhookFailures { webhook_id: id.clone(), failed_attempts, dead_deliveries })
        .collect();
    failures_by_webhook.sort_by(|a, b| b.failed_attempts.cmp(&a.failed_attempts).then_with(|| a.webhook_id.cmp(&b.webhook_id)));
    let mut event_types: Vec<EventTypeCount> =
        by_type.into_iter().map(|(event_type, deliveries)| EventTypeCount { event_type: event_type.to_owned(), deliveries }).collect();
    event_types.sort_by(|a, b| b.deliveries.cmp(&a.deliveries).then_with(|| a.event_type.cmp(&b.event_type)));
    DeliveryStats::new(since, &by_status, attempt_stats(durations, failed), failures_by_webhook, event_types)
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
    fn percentiles_take_the_nearest_rank() {
        let stats = attempt_stats((1..=100).rev().collect(), 0);
        assert_eq!((stats.p50_duration_ms, stats.p95_duration_ms, stats.p99_duration_ms), (Some(51), Some(95), Some(99)));
        assert_eq!(stats.avg_duration_ms, Some(50.5));
        assert_eq!(attempt_stats(Vec::new(), 0).p50_duration_ms, None);
        assert_eq!(rank(1, 0.99), Some(0));
    }

    #[test]
    fn there_is_no_success_rate_before_anything_finished() {
        let stats = DeliveryStats::new(Utc::now(), &[(DeliveryStatus::Pending, 2)], AttemptStats::default(), Vec::new(), Vec::new());
        assert_eq!(stats.success_rate, None);
    }
}
