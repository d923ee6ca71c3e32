//! What this process did, counted in memory for the metrics each host exposes its own way:
//! Prometheus text on the local binary's `/metrics` (cumulative, as Prometheus expects), and
//! one CloudWatch EMF document per Lambda invocation (what the invocation did, then reset).
//! The durable, queryable figures are the rollups (`domain::metrics`); these are live signals.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use crate::domain::delivery::DeliveryStatus;
use crate::domain::metrics::{Finished, Histogram, Sample};

/// How many raw values of each latency a tally keeps for a host that reports values (EMF takes
/// at most 100 per metric).
pub const RAW_VALUES: usize = 100;

#[derive(Debug, Default)]
pub struct Tally(Mutex<Counters>);

/// Counts since the process started, or since the last `take`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Events recorded (not duplicates), by type.
    pub published: BTreeMap<String, u64>,
    /// Deliveries by the status they reached: `pending` or `held` when fan-out created them,
    /// `succeeded` or `dead` when an attempt finished them.
    pub deliveries: BTreeMap<&'static str, u64>,
    /// Attempts by outcome (`success`, `failure`) and error kind (`none` for a success).
    pub attempts: BTreeMap<(&'static str, &'static str), u64>,
    pub attempt_duration: Histogram,
    pub delivery_latency: Histogram,
    /// The first `RAW_VALUES` attempt durations and delivery latencies, in milliseconds.
    pub attempt_ms: Vec<u64>,
    pub latency_ms: Vec<u64>,
    /// Publish requests refused because the delivery backlog was at its limit.
    pub refused_overloaded: u64,
}

impl Counters {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Tally {
    fn with(&self, change: impl FnOnce(&mut Counters)) {
        change(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub fn published(&self, event_type: &str) {
        self.with(|counters| *counters.published.entry(event_type.to_owned()).or_default() += 1);
    }

    pub fn created(&self, status: DeliveryStatus, count: u64) {
        if count > 0 {
            self.with(|counters| *counters.deliveries.entry(status.as_str()).or_default() += count);
        }
    }

    pub fn refused_overloaded(&self) {
        self.with(|counters| counters.refused_overloaded += 1);
    }

    pub fn attempted(&self, sample: &Sample) {
        self.with(|counters| {
            let label = match sample.error_kind {
                None => ("success", "none"),
                Some(kind) => ("failure", kind.as_str()),
            };
            *counters.attempts.entry(label).or_default() += 1;
            counters.attempt_duration.observe(sample.attempt_ms);
            keep(&mut counters.attempt_ms, sample.attempt_ms);
            let status = match sample.finished {
                Some(Finished::Succeeded { latency_ms }) => {
                    counters.delivery_latency.observe(latency_ms);
                    keep(&mut counters.latency_ms, latency_ms);
                    DeliveryStatus::Succeeded
                }
                Some(Finished::Dead) => DeliveryStatus::Dead,
                None => return,
            };
            *counters.deliveries.entry(status.as_str()).or_default() += 1;
        });
    }

    /// The counts so far.
    pub fn snapshot(&self) -> Counters {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The counts since the last `take`, starting again from zero.
    pub fn take(&self) -> Counters {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn keep(values: &mut Vec<u64>, value: u64) {
    if values.len() < RAW_VALUES {
        values.push(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::WebhookId;
    use crate::domain::outcome::ErrorKind;

    fn sample(error_kind: Option<ErrorKind>, finished: Option<Finished>) -> Sample {
        Sample {
            webhook_id: WebhookId::generate(0),
            event_type: "invoice.paid".into(),
            at: chrono::Utc::now(),
            attempt_ms: 12,
            error_kind,
            finished,
        }
    }

    #[test]
    fn attempts_are_counted_by_outcome_and_deliveries_by_how_they_ended() {
        let tally = Tally::default();
        tally.published("invoice.paid");
        tally.created(DeliveryStatus::Pending, 2);
        tally.attempted(&sample(Some(ErrorKind::Timeout), None));
        tally.attempted(&sample(None, Some(Finished::Succeeded { latency_ms: 900 })));
        let counters = tally.take();
        assert_eq!(counters.attempts.get(&("failure", "timeout")), Some(&1));
        assert_eq!(counters.attempts.get(&("success", "none")), Some(&1));
        assert_eq!((counters.deliveries.get("pending"), counters.deliveries.get("succeeded")), (Some(&2), Some(&1)));
        assert_eq!((counters.attempt_ms.len(), counters.latency_ms), (2, vec![900]));
        assert!(tally.take().is_empty(), "taken means started again");
    }
}
