//! A metrics query and its answer: totals and a time series, assembled from stored rollups.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{Counts, Latency, Level, RollupKey, RollupSelection, floor};
use crate::domain::Invalid;
use crate::domain::ids::WebhookId;

/// The most points one answer's series may have.
pub const TOO_MANY_BUCKETS: i64 = 1_500;

/// How wide each point of the series is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum Bucket {
    #[serde(rename = "1m")]
    Minute,
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "1d")]
    Day,
}

impl Bucket {
    const ALL: [Self; 3] = [Self::Minute, Self::Hour, Self::Day];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|bucket| bucket.label() == raw)
    }

    /// How the query names it (`1m`, `1h`, `1d`), as it is serialised.
    fn label(self) -> &'static str {
        match self {
            Self::Minute => "1m",
            Self::Hour => "1h",
            Self::Day => "1d",
        }
    }

    pub fn width(self) -> Duration {
        match self {
            Self::Minute => Duration::minutes(1),
            Self::Hour => Duration::hours(1),
            Self::Day => Duration::days(1),
        }
    }

    /// The rollups a series of this width is summed from.
    pub fn level(self) -> Level {
        match self {
            Self::Minute => Level::Minute,
            Self::Hour | Self::Day => Level::Hour,
        }
    }

    /// The width a period is charted at when the query does not say: minutes up to 6 hours,
    /// hours up to 14 days, days beyond.
    pub fn for_period(period: Duration) -> Self {
        if period <= Duration::hours(6) {
            Self::Minute
        } else if period <= Duration::days(14) {
            Self::Hour
        } else {
            Self::Day
        }
    }
}

/// A metrics query, validated: the period is widened to whole buckets.
#[derive(Debug, Clone)]
pub struct MetricsQuery {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub bucket: Bucket,
    pub webhook_id: Option<WebhookId>,
    pub event_type: Option<String>,
}

impl MetricsQuery {
    /// `since` defaults to 24 hours before `until`, `until` to `now`, `bucket` to the period's.
    pub fn new(
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        bucket: Option<Bucket>,
        now: DateTime<Utc>,
    ) -> Result<Self, Invalid> {
        let until = until.unwrap_or(now);
        let since = since.unwrap_or(until - Duration::hours(24));
        if since >= until {
            return Err(Invalid::new("since", "must be before until"));
        }
        let bucket = bucket.unwrap_or_else(|| Bucket::for_period(until - since));
        let width = bucket.width();
        let since = floor(since, width);
        let until = if floor(until, width) == until { until } else { floor(until, width) + width };
        let points = (until - since).num_seconds() / width.num_seconds();
        if points > TOO_MANY_BUCKETS {
            let detail =
                format!("{points} buckets of {}; at most {TOO_MANY_BUCKETS}: choose a wider bucket or a shorter period", bucket.label());
            return Err(Invalid::new("bucket", detail));
        }
        Ok(Self { since, until, bucket, webhook_id: None, event_type: None })
    }

    /// The stored rollups this query sums.
    pub fn selection(&self) -> RollupSelection {
        RollupSelection {
            level: self.bucket.level(),
            from: self.since,
            until: self.until,
            webhook_id: self.webhook_id.clone(),
            event_type: self.event_type.clone(),
        }
    }

    /// Sums `rollups` (as a store returned them for `selection()`) into the answer.
    pub fn report(&self, rollups: &[(RollupKey, Counts)]) -> MetricsReport {
        let width = self.bucket.width();
        let mut totals = Counts::default();
        let mut points: BTreeMap<DateTime<Utc>, Counts> = BTreeMap::new();
        let mut by_webhook: HashMap<&WebhookId, (u64, u64)> = HashMap::new();
        let mut by_type: HashMap<&str, (u64, u64)> = HashMap::new();
        for (key, counts) in rollups {
            totals.merge(counts);
            let point = floor(key.start, width);
            points.entry(point).or_default().merge(counts);
            if counts.failed_attempts > 0 || counts.dead > 0 {
                let failures = by_webhook.entry(&key.webhook_id).or_default();
                failures.0 += counts.failed_attempts;
                failures.1 += counts.dead;
            }
            let of_type = by_type.entry(&key.event_type).or_default();
            of_type.0 += counts.succeeded + counts.dead;
            of_type.1 += counts.attempts;
        }
        let series = self.every_point().map(|at| Point { at, summary: Summary::of(&points.remove(&at).unwrap_or_default()) }).collect();
        MetricsReport {
            since: self.since,
            until: self.until,
            bucket: self.bucket,
            totals: Summary::of(&totals),
            failures_by_webhook: failures_by_webhook(by_webhook),
            event_types: event_types(by_type),
            series,
        }
    }

    fn every_point(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let width = self.bucket.width();
        std::iter::successors(Some(self.since), move |at| Some(*at + width)).take_while(|at| *at < self.until)
    }
}

fn failures_by_webhook(by_webhook: HashMap<&WebhookId, (u64, u64)>) -> Vec<WebhookFailures> {
    let mut failures: Vec<WebhookFailures> = by_webhook
        .into_iter()
        .map(|(id, (failed_attempts, dead_deliveries))| WebhookFailures { webhook_id: id.clone(), failed_attempts, dead_deliveries })
        .collect();
    failures.sort_by(|a, b| b.failed_attempts.cmp(&a.failed_attempts).then_with(|| a.webhook_id.cmp(&b.webhook_id)));
    failures
}

fn event_types(by_type: HashMap<&str, (u64, u64)>) -> Vec<EventTypeCount> {
    let mut types: Vec<EventTypeCount> = by_type
        .into_iter()
        .map(|(event_type, (deliveries, attempts))| EventTypeCount { event_type: event_type.to_owned(), deliveries, attempts })
        .collect();
    types.sort_by(|a, b| {
        b.deliveries.cmp(&a.deliveries).then_with(|| b.attempts.cmp(&a.attempts)).then_with(|| a.event_type.cmp(&b.event_type))
    });
    types
}

/// Delivery health over a period: the seed's metrics, from rollups.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MetricsReport {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub bucket: Bucket,
    pub totals: Summary,
    /// Webhooks with failed attempts or dead deliveries, most failed attempts first.
    pub failures_by_webhook: Vec<WebhookFailures>,
    /// Deliveries finished (succeeded or dead) and attempts made, per event type, most first.
    pub event_types: Vec<EventTypeCount>,
    /// One point per bucket of the period, oldest first, empty buckets included.
    pub series: Vec<Point>,
}

/// The figures of a period or of one bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub attempts: u64,
    pub failed_attempts: u64,
    /// Deliveries finished by a 2xx.
    pub succeeded: u64,
    /// Deliveries that ran out of attempts (or got a 410).
    pub dead: u64,
    /// Succeeded ÷ (succeeded + dead); `None` when nothing finished.
    pub success_rate: Option<f64>,
    /// One HTTP request, from sending to the answer (or the error).
    pub attempt_duration: Latency,
    /// From the event being recorded to the 2xx that finished the delivery, retries included:
    /// the seed's "average delivery time".
    pub delivery_latency: Latency,
}

impl Summary {
    pub fn of(counts: &Counts) -> Self {
        let finished = counts.succeeded + counts.dead;
        Self {
            attempts: counts.attempts,
            failed_attempts: counts.failed_attempts,
            succeeded: counts.succeeded,
            dead: counts.dead,
            success_rate: (finished > 0).then(|| counts.succeeded as f64 / finished as f64),
            attempt_duration: counts.attempt_duration.latency(),
            delivery_latency: counts.delivery_latency.latency(),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Point {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookFailures {
    pub webhook_id: WebhookId,
    pub failed_attempts: u64,
    pub dead_deliveries: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventTypeCount {
    pub event_type: String,
    pub deliveries: u64,
    pub attempts: u64,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::metrics::{Finished, Sample};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, h, m, 0).single().unwrap_or_default()
    }

    fn counts(samples: &[(u64, bool, Option<Finished>)]) -> Counts {
        let mut counts = Counts::default();
        for (attempt_ms, failed, finished) in samples {
            let sample = Sample {
                webhook_id: WebhookId::generate(0),
                event_type: String::new(),
                at: at(0, 0),
                attempt_ms: *attempt_ms,
                error_kind: failed.then_some(crate::domain::outcome::ErrorKind::HttpStatus),
                finished: *finished,
            };
            counts.observe(&sample);
        }
        counts
    }

    fn key(start: DateTime<Utc>, webhook_id: &WebhookId, event_type: &str) -> RollupKey {
        RollupKey { level: Level::Minute, start, webhook_id: webhook_id.clone(), event_type: event_type.into() }
    }

    #[test]
    fn the_period_is_widened_to_whole_buckets_and_defaults_to_a_day() {
        let now = at(10, 30) + Duration::seconds(20);
        let query = MetricsQuery::new(None, None, Some(Bucket::Hour), now).unwrap();
        assert_eq!((query.since, query.until), (at(10, 0) - Duration::days(1), at(11, 0)));
        assert_eq!(MetricsQuery::new(Some(at(9, 0)), Some(at(10, 0)), None, now).unwrap().bucket, Bucket::Minute);
        assert!(MetricsQuery::new(Some(at(10, 0)), Some(at(9, 0)), None, now).is_err());
        let too_many = MetricsQuery::new(Some(at(0, 0) - Duration::days(7)), None, Some(Bucket::Minute), now);
        assert_eq!(too_many.unwrap_err().field, "bucket");
    }

    #[test]
    fn the_report_sums_rollups_into_totals_and_buckets() {
        let (crm, noc) = (WebhookId::generate(1), WebhookId::generate(2));
        let query = MetricsQuery::new(Some(at(10, 0)), Some(at(10, 3)), Some(Bucket::Minute), at(11, 0)).unwrap();
        let rollups = vec![
            (key(at(10, 0), &crm, "invoice.paid"), counts(&[(10, false, Some(Finished::Succeeded { latency_ms: 10 }))])),
            (key(at(10, 2), &noc, "network.device.down"), counts(&[(30, true, None), (30, true, Some(Finished::Dead))])),
        ];
        let report = query.report(&rollups);
        assert_eq!((report.totals.attempts, report.totals.failed_attempts, report.totals.success_rate), (3, 2, Some(0.5)));
        assert_eq!(report.series.iter().map(|p| p.summary.attempts).collect::<Vec<_>>(), vec![1, 0, 2]);
        assert_eq!(report.failures_by_webhook.len(), 1);
        assert_eq!((report.failures_by_webhook[0].failed_attempts, report.failures_by_webhook[0].dead_deliveries), (2, 1));
        assert_eq!(report.event_types[0].event_type, "network.device.down");
        assert_eq!(report.totals.delivery_latency.avg_ms, Some(10.0));
    }
}
