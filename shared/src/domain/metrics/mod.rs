//! Delivery metrics as rollups: every finished attempt is a `Sample`, counted into per-minute
//! and per-hour `Counts` for its webhook and event type as it is recorded, so a metrics query
//! reads a number of rollups that depends on the period and its buckets, never on the traffic.
//!
//! Two latencies, named apart: `attempt_duration` (one HTTP request) and `delivery_latency`
//! (from the event being recorded, when fan-out created the delivery, to the 2xx that finished
//! it; a replayed delivery's success is counted from its original event too).

mod histogram;
mod report;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use histogram::{BOUNDS_MS, BUCKETS, Histogram, Latency, bucket_of};
pub use report::{Bucket, EventTypeCount, MetricsQuery, MetricsReport, Point, Summary, TOO_MANY_BUCKETS, WebhookFailures};

use super::delivery::{Attempt, Delivery, DeliveryStatus};
use super::ids::WebhookId;
use super::outcome::ErrorKind;

/// How a delivery ended with an attempt, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Succeeded { latency_ms: u64 },
    Dead,
}

/// One recorded attempt, as the metrics see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub webhook_id: WebhookId,
    pub event_type: String,
    /// When the attempt started: the minute it is counted in.
    pub at: DateTime<Utc>,
    pub attempt_ms: u64,
    /// Why the attempt failed; `None` for a 2xx.
    pub error_kind: Option<ErrorKind>,
    pub finished: Option<Finished>,
}

impl Sample {
    /// The sample of `attempt` of `delivery`, which left the delivery `status`.
    pub fn of(delivery: &Delivery, attempt: &Attempt, status: DeliveryStatus) -> Self {
        let answered_at = attempt.started_at + Duration::milliseconds(i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX / 2));
        let finished = match status {
            DeliveryStatus::Succeeded => {
                let latency = (answered_at - delivery.created_at).num_milliseconds();
                Some(Finished::Succeeded { latency_ms: u64::try_from(latency).unwrap_or(0) })
            }
            DeliveryStatus::Dead => Some(Finished::Dead),
            _ => None,
        };
        Self {
            webhook_id: delivery.webhook_id.clone(),
            event_type: delivery.event_type.clone(),
            at: attempt.started_at,
            attempt_ms: attempt.duration_ms,
            error_kind: attempt.error_kind,
            finished,
        }
    }
}

/// What happened in one rollup: attempts, deliveries finished, and both latencies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    #[serde(rename = "a", default)]
    pub attempts: u64,
    #[serde(rename = "f", default)]
    pub failed_attempts: u64,
    #[serde(rename = "s", default)]
    pub succeeded: u64,
    #[serde(rename = "d", default)]
    pub dead: u64,
    #[serde(rename = "ad", default)]
    pub attempt_duration: Histogram,
    #[serde(rename = "dl", default)]
    pub delivery_latency: Histogram,
}

impl Counts {
    pub fn observe(&mut self, sample: &Sample) {
        self.attempts += 1;
        self.failed_attempts += u64::from(sample.error_kind.is_some());
        self.attempt_duration.observe(sample.attempt_ms);
        match sample.finished {
            Some(Finished::Succeeded { latency_ms }) => {
                self.succeeded += 1;
                self.delivery_latency.observe(latency_ms);
            }
            Some(Finished::Dead) => self.dead += 1,
            None => {}
        }
    }

    pub fn merge(&mut self, other: &Self) {
        self.attempts += other.attempts;
        self.failed_attempts += other.failed_attempts;
        self.succeeded += other.succeeded;
        self.dead += other.dead;
        self.attempt_duration.merge(&other.attempt_duration);
        self.delivery_latency.merge(&other.delivery_latency);
    }
}

/// The two granularities rollups are kept at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Minute,
    Hour,
}

impl Level {
    pub const ALL: [Self; 2] = [Self::Minute, Self::Hour];

    pub fn width(self) -> Duration {
        match self {
            Self::Minute => Duration::minutes(1),
            Self::Hour => Duration::hours(1),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "m",
            Self::Hour => "h",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|level| level.as_str() == raw)
    }

    /// How long rollups at this level are kept: minutes for a week and a day, hours for 400
    /// days (a year's charts and more).
    pub fn retention(self) -> Duration {
        match self {
            Self::Minute => Duration::days(8),
            Self::Hour => Duration::days(400),
        }
    }

    /// The start of the rollup `at` falls in.
    pub fn start_of(self, at: DateTime<Utc>) -> DateTime<Utc> {
        floor(at, self.width())
    }
}

/// `at` rounded down to a whole `width` since the epoch (whole seconds; any date chrono holds).
pub fn floor(at: DateTime<Utc>, width: Duration) -> DateTime<Utc> {
    let (seconds, width) = (at.timestamp(), width.num_seconds().max(1));
    DateTime::from_timestamp(seconds - seconds.rem_euclid(width), 0).unwrap_or(at)
}

/// Which rollup counts go to: a level's period, a webhook and an event type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub level: Level,
    pub start: DateTime<Utc>,
    pub webhook_id: WebhookId,
    pub event_type: String,
}

/// Samples counted by rollup, in memory: a batch's, before it is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollup {
    pub groups: BTreeMap<RollupKey, Counts>,
}

impl Rollup {
    /// Counts `sample` at every level.
    pub fn observe(&mut self, sample: &Sample) {
        for level in Level::ALL {
            let key = RollupKey {
                level,
                start: level.start_of(sample.at),
                webhook_id: sample.webhook_id.clone(),
                event_type: sample.event_type.clone(),
            };
            self.groups.entry(key).or_default().observe(sample);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The rollups at one level.
    pub fn at(&self, level: Level) -> impl Iterator<Item = (&RollupKey, &Counts)> {
        self.groups.iter().filter(move |(key, _)| key.level == level)
    }
}

/// Stored rollups a query asks for: `level`'s periods starting in `[from, until)`, narrowed
/// to one webhook or event type when given.
#[derive(Debug, Clone)]
pub struct RollupSelection {
    pub level: Level,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub webhook_id: Option<WebhookId>,
    pub event_type: Option<String>,
}

impl RollupSelection {
    pub fn covers(&self, key: &RollupKey) -> bool {
        key.level == self.level
            && key.start >= self.from
            && key.start < self.until
            && self.webhook_id.as_ref().is_none_or(|id| *id == key.webhook_id)
            && self.event_type.as_ref().is_none_or(|t| *t == key.event_type)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::ids::EventId;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, h, m, s).single().unwrap_or_default()
    }

    fn attempt(started_at: DateTime<Utc>, duration_ms: u64, failed: bool) -> Attempt {
        Attempt {
            number: 1,
            started_at,
            duration_ms,
            status_code: Some(if failed { 500 } else { 200 }),
            response_excerpt: None,
            error_kind: failed.then_some(crate::domain::outcome::ErrorKind::HttpStatus),
            error_detail: None,
            next_attempt_at: None,
        }
    }

    #[test]
    fn a_success_counts_its_latency_from_the_event_being_recorded() {
        let delivery = Delivery::new(EventId::generate(0), WebhookId::generate(0), "invoice.paid", at(10, 0, 0));
        let sample = Sample::of(&delivery, &attempt(at(10, 0, 2), 500, false), DeliveryStatus::Succeeded);
        assert_eq!(sample.finished, Some(Finished::Succeeded { latency_ms: 2_500 }));
        let failed = Sample::of(&delivery, &attempt(at(10, 0, 2), 500, true), DeliveryStatus::Retrying);
        assert_eq!((failed.error_kind.is_some(), failed.finished), (true, None));
    }

    #[test]
    fn a_sample_is_counted_in_its_minute_and_its_hour() {
        let delivery = Delivery::new(EventId::generate(0), WebhookId::generate(0), "invoice.paid", at(10, 0, 0));
        let mut rollup = Rollup::default();
        rollup.observe(&Sample::of(&delivery, &attempt(at(10, 7, 31), 20, true), DeliveryStatus::Dead));
        rollup.observe(&Sample::of(&delivery, &attempt(at(10, 8, 1), 20, false), DeliveryStatus::Succeeded));
        let minutes: Vec<_> = rollup.at(Level::Minute).map(|(key, counts)| (key.start, counts.attempts)).collect();
        assert_eq!(minutes, vec![(at(10, 7, 0), 1), (at(10, 8, 0), 1)]);
        let hours: Vec<_> =
            rollup.at(Level::Hour).map(|(key, counts)| (key.start, counts.attempts, counts.dead, counts.succeeded)).collect();
        assert_eq!(hours, vec![(at(10, 0, 0), 2, 1, 1)]);
    }
}
