//! Delivery health from delivery items (each with its attempts), computed in the function:
//! DynamoDB has no aggregation. The figures match the SQLite adapter's for deliveries created
//! since the start of the period; attempts are counted for those deliveries.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::delivery_item::{attempts_of, from_item};
use super::item::Item;
use crate::domain::delivery::DeliveryStatus;
use crate::domain::ids::WebhookId;
use crate::domain::stats::{AttemptStats, DeliveryStats, EventTypeCount, WebhookFailures};
use crate::ports::StoreError;

pub fn stats_of(since: DateTime<Utc>, items: &[Item]) -> Result<DeliveryStats, StoreError> {
    let mut by_status: Vec<(DeliveryStatus, u64)> = Vec::with_capacity(items.len());
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let mut failures: HashMap<WebhookId, (u64, u64)> = HashMap::new();
    let mut durations = Vec::new();
    let mut failed = 0;
    for item in items {
        let delivery = from_item(item)?;
        by_status.push((delivery.status, 1));
        *by_type.entry(delivery.event_type.clone()).or_default() += 1;
        let attempts: Vec<_> = attempts_of(item)?.into_iter().filter(|a| a.started_at >= since).collect();
        let failed_here = attempts.iter().filter(|a| a.error_kind.is_some()).count() as u64;
        durations.extend(attempts.iter().map(|a| a.duration_ms));
        failed += failed_here;
        if failed_here > 0 {
            let entry = failures.entry(delivery.webhook_id.clone()).or_default();
            entry.0 += failed_here;
            entry.1 += u64::from(delivery.status == DeliveryStatus::Dead);
        }
    }
    let mut failures_by_webhook: Vec<WebhookFailures> = failures
        .into_iter()
        .map(|(webhook_id, (failed_attempts, dead_deliveries))| WebhookFailures { webhook_id, failed_attempts, dead_deliveries })
        .collect();
    failures_by_webhook.sort_by(|a, b| b.failed_attempts.cmp(&a.failed_attempts).then_with(|| a.webhook_id.cmp(&b.webhook_id)));
    let mut event_types: Vec<EventTypeCount> =
        by_type.into_iter().map(|(event_type, deliveries)| EventTypeCount { event_type, deliveries }).collect();
    event_types.sort_by(|a, b| b.deliveries.cmp(&a.deliveries).then_with(|| a.event_type.cmp(&b.event_type)));
    Ok(DeliveryStats::new(since, &by_status, attempt_stats(durations, failed), failures_by_webhook, event_types))
}

fn attempt_stats(mut durations: Vec<u64>, failed: u64) -> AttemptStats {
    durations.sort_unstable();
    let total = durations.len() as u64;
    let percentile = |q: f64| -> Option<u64> {
        let last = durations.len().checked_sub(1)?;
        durations.get(((last as f64) * q).round() as usize).copied()
    };
    AttemptStats {
        total,
        failed,
        avg_duration_ms: (total > 0).then(|| durations.iter().sum::<u64>() as f64 / total as f64),
        p50_duration_ms: percentile(0.50),
        p95_duration_ms: percentile(0.95),
        p99_duration_ms: percentile(0.99),
    }
}
