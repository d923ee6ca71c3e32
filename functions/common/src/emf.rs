//! CloudWatch Embedded Metric Format: one JSON document per `ingest` and `deliver` invocation,
//! written as a log line, from which CloudWatch makes metrics without an API call. It holds
//! what the invocation did (the process's tally, taken and reset), under the Prometheus names
//! of the local binary; a label becomes part of the name (`hookline_deliveries_total{status=
//! "dead"}` is `hookline_deliveries_dead_total`), since one document carries one value per name.
//! Latencies are lists of the invocation's values (at most 100), from which CloudWatch computes
//! percentiles.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hookline_core::service::Counters;
use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Hookline";

/// Where documents go: standard output (CloudWatch Logs), or kept in memory for tests.
#[derive(Clone, Default)]
pub enum MetricsLog {
    #[default]
    Stdout,
    Kept(Arc<Mutex<Vec<String>>>),
}

impl MetricsLog {
    pub fn kept() -> Self {
        Self::Kept(Arc::default())
    }

    /// The documents kept so far, parsed.
    pub fn documents(&self) -> Vec<Value> {
        match self {
            Self::Stdout => Vec::new(),
            Self::Kept(lines) => {
                lines.lock().unwrap_or_else(PoisonError::into_inner).iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
            }
        }
    }

    fn write(&self, line: String) {
        match self {
            Self::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            Self::Kept(lines) => lines.lock().unwrap_or_else(PoisonError::into_inner).push(line),
        }
    }
}

/// Writes the invocation's document, when it did anything. The `function` dimension is the
/// deployed function's name (`hookline-<stage>-deliver`, what the template's alarms select).
pub fn emit(log: &MetricsLog, function: &str, counters: &Counters, oldest_task_age: Option<Duration>) {
    if let Some(document) = document(function, counters, oldest_task_age, Utc::now()) {
        log.write(document.to_string());
    }
}

/// The EMF document of `counters`; `None` when there is nothing to report.
pub fn document(function: &str, counters: &Counters, oldest_task_age: Option<Duration>, at: DateTime<Utc>) -> Option<Value> {
    let mut values: Vec<(String, &str, Value)> = Vec::new();
    let mut count = |name: String, value: u64| {
        if value > 0 {
            values.push((name, "Count", json!(value)));
        }
    };
    count("hookline_events_published_total".into(), counters.published.values().sum());
    for (status, n) in &counters.deliveries {
        count(format!("hookline_deliveries_{status}_total"), *n);
    }
    count("hookline_attempts_total".into(), counters.attempts.values().sum());
    count(
        "hookline_attempts_failed_total".into(),
        counters.attempts.iter().filter(|((outcome, _), _)| *outcome == "failure").map(|(_, n)| n).sum(),
    );
    let seconds = |values: &[u64]| json!(values.iter().map(|ms| *ms as f64 / 1000.0).collect::<Vec<_>>());
    if !counters.attempt_ms.is_empty() {
        values.push(("hookline_attempt_duration_seconds".into(), "Seconds", seconds(&counters.attempt_ms)));
    }
    if !counters.latency_ms.is_empty() {
        values.push(("hookline_delivery_latency_seconds".into(), "Seconds", seconds(&counters.latency_ms)));
    }
    if let Some(age) = oldest_task_age {
        values.push(("hookline_oldest_task_age_seconds".into(), "Seconds", json!(age.as_secs_f64())));
    }
    if values.is_empty() {
        return None;
    }
    let definitions: Vec<Value> = values.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect();
    let mut document = Map::new();
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [["function"]], "Metrics": definitions}],
        }),
    );
    document.insert("function".into(), json!(function));
    for (name, _, value) in values {
        document.insert(name, value);
    }
    Some(Value::Object(document))
}

#[cfg(test)]
mod tests {
    use hookline_core::domain::delivery::DeliveryStatus;
    use hookline_core::service::Tally;

    use super::*;

    #[test]
    fn an_invocation_that_did_nothing_writes_nothing() {
        assert!(document("deliver", &Counters::default(), None, Utc::now()).is_none());
    }

    #[test]
    fn counts_are_named_like_the_prometheus_metrics_with_the_label_in_the_name() {
        let tally = Tally::default();
        tally.published("invoice.paid");
        tally.created(DeliveryStatus::Held, 2);
        let document = document("ingest", &tally.take(), Some(Duration::from_millis(1500)), Utc::now()).unwrap_or_default();
        assert_eq!(document["hookline_events_published_total"], 1);
        assert_eq!(document["hookline_deliveries_held_total"], 2);
        assert_eq!(document["hookline_oldest_task_age_seconds"], 1.5);
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Metrics"].as_array().map(Vec::len), Some(3));
        assert_eq!(document["function"], "ingest");
    }
}
