//! `GET /metrics` in Prometheus's text format (OpenMetrics), encoded by `prometheus-client`
//! from this process's tally (counters and histograms since start) and gauges read at scrape
//! time: the queue's depth and lag, and webhooks by state. Served on the API with an admin
//! token, and without one on `--metrics-listen` (an address only the scraper reaches).

use std::fmt::Error as FmtError;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hookline_core::api::AppState;
use hookline_core::api::auth::Admin;
use hookline_core::domain::metrics::{BOUNDS_MS, Histogram};
use hookline_core::ports::QueueDepth;
use hookline_core::service::{Counters, Hookline};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `/metrics` behind an admin token, to merge into the API's router.
pub fn authenticated(state: AppState) -> Router {
    Router::new().route("/metrics", get(scrape_as_admin)).with_state(state)
}

/// `/metrics` open to whoever reaches the address it is served on.
pub fn open(hookline: Hookline) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(hookline)
}

async fn scrape_as_admin(_caller: Admin, State(hookline): State<Hookline>) -> Response {
    scrape(State(hookline)).await
}

async fn scrape(State(hookline): State<Hookline>) -> Response {
    match render(&hookline).await {
        Ok(text) => ([(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "metrics could not be read");
            (StatusCode::SERVICE_UNAVAILABLE, "metrics could not be read\n").into_response()
        }
    }
}

/// The exposition text of everything this process knows now.
pub async fn render(hookline: &Hookline) -> anyhow::Result<String> {
    let snapshot = Snapshot {
        counters: hookline.tally.snapshot(),
        queue: hookline.stores.queue.depth().await?.unwrap_or_default(),
        backlog_limit: hookline.settings.max_backlog.unwrap_or(0),
        webhooks: hookline.webhook_states().await?.into_iter().collect(),
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}

/// One scrape's values.
#[derive(Debug)]
struct Snapshot {
    counters: Counters,
    queue: QueueDepth,
    /// Publishing is refused at this depth (0: never).
    backlog_limit: u64,
    webhooks: Vec<(&'static str, u64)>,
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), FmtError> {
        let c = &self.counters;
        let published = c.published.iter().map(|(event_type, n)| ([("event_type", event_type.as_str())], *n));
        counter_family(&mut encoder, "hookline_events_published", "Events recorded (duplicates not counted), by type.", published)?;
        let deliveries = c.deliveries.iter().map(|(status, n)| ([("status", *status)], *n));
        let help = "Deliveries by the status they reached: pending or held when created, succeeded or dead when an attempt finished them.";
        counter_family(&mut encoder, "hookline_deliveries", help, deliveries)?;
        let attempts = c.attempts.iter().map(|((outcome, kind), n)| ([("outcome", *outcome), ("error_kind", *kind)], *n));
        counter_family(&mut encoder, "hookline_attempts", "HTTP attempts, by outcome and error kind.", attempts)?;
        histogram(&mut encoder, "hookline_attempt_duration", "One HTTP attempt, from sending to the answer.", &c.attempt_duration)?;
        let help = "From the event being recorded to the 2xx that finished its delivery, retries included.";
        histogram(&mut encoder, "hookline_delivery_latency", help, &c.delivery_latency)?;
        gauge(
            &mut encoder,
            "hookline_queue_depth",
            "Tasks in the delivery queue (due, waiting to retry, or in flight).",
            None,
            self.queue.tasks as f64,
        )?;
        let help = "Publishing is refused (503) while the queue holds this many tasks; 0 when there is no limit.";
        gauge(&mut encoder, "hookline_queue_limit", help, None, self.backlog_limit as f64)?;
        let refused = std::iter::once(([("reason", "overloaded")], c.refused_overloaded));
        counter_family(&mut encoder, "hookline_publish_refused", "Publish requests refused with 503, by reason.", refused)?;
        let age = self.queue.oldest_due_age.as_secs_f64();
        gauge(
            &mut encoder,
            "hookline_oldest_task_age",
            "How long the oldest due task has waited for a worker.",
            Some(&Unit::Seconds),
            age,
        )?;
        let mut family = encoder.encode_descriptor("hookline_webhooks", "Webhooks by state.", None, MetricType::Gauge)?;
        for (state, count) in &self.webhooks {
            ConstGauge::new(*count as i64).encode(family.encode_family(&[("state", *state)])?)?;
        }
        Ok(())
    }
}

fn counter_family<'a, const N: usize>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl Iterator<Item = ([(&'static str, &'a str); N], u64)>,
) -> Result<(), FmtError> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, unit: Option<&Unit>, value: f64) -> Result<(), FmtError> {
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?)
}

/// A histogram in seconds, from the tally's fixed millisecond buckets.
fn histogram(encoder: &mut DescriptorEncoder, name: &str, help: &str, histogram: &Histogram) -> Result<(), FmtError> {
    let mut metric = encoder.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
    let buckets: Vec<(f64, u64)> = (0..=BOUNDS_MS.len())
        .map(|bucket| {
            let bound = BOUNDS_MS.get(bucket).map_or(f64::INFINITY, |ms| *ms as f64 / 1000.0);
            (bound, histogram.buckets.get(&bucket).copied().unwrap_or(0))
        })
        .collect();
    metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(histogram.sum_ms as f64 / 1000.0, histogram.count, &buckets, None)
}
