//! The three workloads of the benchmark and what each measures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::receiver::BenchReceiver;
use super::server_process::ServerProcess;

pub enum Workload {
    /// Many events to one webhook from concurrent publishers.
    Throughput { events: usize, publishers: usize },
    /// Each event to many webhooks.
    Fanout { events: usize, webhooks: usize },
    /// A steady publish rate; accepted-to-received latency.
    Latency { per_second: usize, seconds: usize },
    /// `Fanout` with a content filter on every webhook that every event passes, so the
    /// deliveries are the same and the difference is the filters' cost.
    FanoutFiltered { events: usize, webhooks: usize },
    /// No Hookline: the publishers post the same events straight to the receiver, so the
    /// loopback path's own capacity on this host, in this run, is the yardstick of the others.
    Loopback { events: usize, publishers: usize },
}

#[derive(Debug, Clone, Default)]
pub struct Measurement {
    pub accepted_per_sec: f64,
    pub deliveries_per_sec: f64,
    pub first_publish_to_last_delivery: Duration,
    pub p50: Option<Duration>,
    pub p95: Option<Duration>,
    pub p99: Option<Duration>,
    pub cpu_seconds_per_1000: f64,
    pub peak_rss_mib: f64,
}

impl Workload {
    pub fn all(scale: f64) -> [Self; 5] {
        let scaled = |n: usize| ((n as f64 * scale).round() as usize).max(1);
        [
            Self::Loopback { events: scaled(20_000), publishers: 32 },
            Self::Throughput { events: scaled(20_000), publishers: 32 },
            Self::Fanout { events: scaled(1_000), webhooks: 50 },
            Self::FanoutFiltered { events: scaled(1_000), webhooks: 50 },
            Self::Latency { per_second: 100, seconds: scaled(30) },
        ]
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Throughput { .. } => "throughput",
            Self::Fanout { .. } => "fanout",
            Self::FanoutFiltered { .. } => "fanout-filtered",
            Self::Latency { .. } => "latency",
            Self::Loopback { .. } => "loopback",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Throughput { events, publishers } => format!("throughput: {events} events to 1 webhook, {publishers} publishers"),
            Self::Fanout { events, webhooks } => format!("fan-out: {events} events to {webhooks} webhooks"),
            Self::FanoutFiltered { events, webhooks } => {
                format!("fan-out, filtered: {events} events to {webhooks} webhooks, each with a filter they all pass")
            }
            Self::Latency { per_second, seconds } => format!("latency: {per_second} events/s for {seconds} s"),
            Self::Loopback { events, publishers } => {
                format!("loopback (no Hookline): {events} posts to the receiver, {publishers} publishers")
            }
        }
    }

    pub async fn run(&self, receiver: &BenchReceiver, run: usize) -> anyhow::Result<Measurement> {
        receiver.reset();
        if let Self::Loopback { events, publishers } = self {
            return loopback(receiver, run, *events, *publishers).await;
        }
        let server = ServerProcess::start(&format!("{}-{run}", self.name())).await?;
        let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
        let webhooks = match self {
            Self::Fanout { webhooks, .. } | Self::FanoutFiltered { webhooks, .. } => *webhooks,
            _ => 1,
        };
        let filter = matches!(self, Self::FanoutFiltered { .. }).then_some(PASSING_FILTER);
        let admin = Credentials { header: "authorization", value: format!("Bearer {}", server.admin_token) };
        for n in 0..webhooks {
            let mut body = json!({"name": format!("bench {n}"), "url": receiver.url, "events": ["customer.*"]});
            // Only when set: servers from before filters refuse the field (`bench --server`).
            if let Some(filter) = filter {
                body["filter"] = json!(filter);
            }
            post(&client, &server.address, "/api/v1/webhooks", &body, &admin).await?;
        }
        let key = post(&client, &server.address, "/api/v1/api-keys", &json!({"name": "bench"}), &admin).await?;
        let publisher = Credentials { header: "x-api-key", value: key["key"].as_str().unwrap_or_default().to_owned() };
        let cpu_before = server.cpu_seconds();
        let started = Instant::now();
        let (accepted_in, publish_starts) = match self {
            Self::Throughput { events, publishers } => {
                publish_concurrently(&client, &server.address, &publisher, run, *events, *publishers).await?
            }
            Self::Fanout { events, .. } | Self::FanoutFiltered { events, .. } => {
                publish_concurrently(&client, &server.address, &publisher, run, *events, 32).await?
            }
            Self::Latency { per_second, seconds } => {
                publish_steadily(&client, &server.address, &publisher, run, *per_second, *seconds).await?
            }
            Self::Loopback { .. } => unreachable!("measured without a server above"),
        };
        let expected = publish_starts.len() * webhooks;
        wait_for_deliveries(receiver, expected).await?;
        let last = receiver.last_arrival().unwrap_or_else(Instant::now);
        let total = last.duration_since(started);
        let cpu = server.cpu_seconds() - cpu_before;
        let mut measurement = Measurement {
            accepted_per_sec: publish_starts.len() as f64 / accepted_in.as_secs_f64(),
            deliveries_per_sec: expected as f64 / total.as_secs_f64(),
            first_publish_to_last_delivery: total,
            cpu_seconds_per_1000: cpu * 1000.0 / expected as f64,
            peak_rss_mib: server.peak_rss_mib(),
            ..Measurement::default()
        };
        if let Self::Latency { .. } = self {
            let mut latencies: Vec<Duration> = publish_starts
                .iter()
                .filter_map(|(id, start)| receiver.arrival_of(id).map(|arrived| arrived.saturating_duration_since(*start)))
                .collect();
            latencies.sort();
            measurement.p50 = percentile(&latencies, 0.50);
            measurement.p95 = percentile(&latencies, 0.95);
            measurement.p99 = percentile(&latencies, 0.99);
        }
        server.stop().await;
        Ok(measurement)
    }
}

/// A filter every bench event passes, of the shape subscribers write: a field test and a
/// comparison.
const PASSING_FILTER: &str = r#"data.email.endsWith("@example.com") && data.id >= 0 && event_type == "customer.created""#;

/// The publishers posting straight to the receiver: what this host's loopback HTTP path
/// carries with the same client, bodies and concurrency, and no server in between.
async fn loopback(receiver: &BenchReceiver, run: usize, events: usize, publishers: usize) -> anyhow::Result<Measurement> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let address = receiver.url.trim_end_matches("/hook").to_owned();
    let anyone = Credentials { header: "x-api-key", value: "none".into() };
    let started = Instant::now();
    let (accepted_in, starts) = publish_concurrently(&client, &address, &anyone, run, events, publishers).await?;
    wait_for_deliveries(receiver, starts.len()).await?;
    let total = receiver.last_arrival().unwrap_or_else(Instant::now).duration_since(started);
    Ok(Measurement {
        accepted_per_sec: starts.len() as f64 / accepted_in.as_secs_f64(),
        deliveries_per_sec: starts.len() as f64 / total.as_secs_f64(),
        first_publish_to_last_delivery: total,
        ..Measurement::default()
    })
}

pub(super) fn event(run: usize, n: usize) -> Value {
    json!({
        "id": format!("bench-{run}-{n}"),
        "event_type": "customer.created",
        "data": {"id": n, "portal_id": format!("{}", 100_000 + n), "full_name": "Bench Customer", "email": "bench@example.com"},
        "metadata": {"triggered_by": "bench", "source": "hookline-bench"}
    })
}

/// The one header that authenticates a request.
#[derive(Clone)]
pub(super) struct Credentials {
    pub header: &'static str,
    pub value: String,
}

pub(super) async fn post(
    client: &reqwest::Client,
    address: &str,
    path: &str,
    body: &Value,
    credentials: &Credentials,
) -> anyhow::Result<Value> {
    let response = send(client, address, path, body, credentials).await?;
    if !response.status().is_success() {
        bail!("{path} answered {}", response.status());
    }
    Ok(serde_json::from_slice(&response.bytes().await?).unwrap_or(Value::Null))
}

/// POSTs `body` as JSON with `credentials`, whatever the answer.
pub(super) async fn send(
    client: &reqwest::Client,
    address: &str,
    path: &str,
    body: &Value,
    credentials: &Credentials,
) -> reqwest::Result<reqwest::Response> {
    let request = client.post(format!("{address}{path}")).header(credentials.header, &credentials.value);
    request.header("content-type", "application/json").body(body.to_string()).send().await
}

type PublishStarts = Vec<(String, Instant)>;

/// `events` events from `publishers` concurrent publishers; returns how long acceptance took.
async fn publish_concurrently(
    client: &reqwest::Client,
    address: &str,
    publisher: &Credentials,
    run: usize,
    events: usize,
    publishers: usize,
) -> anyhow::Result<(Duration, PublishStarts)> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..publishers {
        let (client, address, next, publisher) = (client.clone(), address.to_owned(), next.clone(), publisher.clone());
        tasks.spawn(async move {
            let mut starts = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= events {
                    return Ok::<_, anyhow::Error>(starts);
                }
                let body = event(run, n);
                starts.push((format!("bench-{run}-{n}"), Instant::now()));
                post(&client, &address, "/api/v1/events", &body, &publisher).await?;
            }
        });
    }
    let mut all = Vec::with_capacity(events);
    while let Some(done) = tasks.join_next().await {
        all.extend(done.context("a publisher panicked")??);
    }
    Ok((started.elapsed(), all))
}

/// `per_second` events each second for `seconds`, each publish on its own task.
async fn publish_steadily(
    client: &reqwest::Client,
    address: &str,
    publisher: &Credentials,
    run: usize,
    per_second: usize,
    seconds: usize,
) -> anyhow::Result<(Duration, PublishStarts)> {
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / u32::try_from(per_second.max(1)).unwrap_or(1));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let mut starts = Vec::new();
    for n in 0..per_second * seconds {
        ticker.tick().await;
        let (client, address, body, publisher) = (client.clone(), address.to_owned(), event(run, n), publisher.clone());
        starts.push((format!("bench-{run}-{n}"), Instant::now()));
        tasks.spawn(async move { post(&client, &address, "/api/v1/events", &body, &publisher).await.map(|_| ()) });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("a publisher panicked")??;
    }
    Ok((started.elapsed(), starts))
}

async fn wait_for_deliveries(receiver: &BenchReceiver, expected: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while receiver.count() < expected {
        if Instant::now() > deadline {
            bail!("only {} of {expected} deliveries arrived", receiver.count());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    let last = sorted.len().checked_sub(1)?;
    sorted.get(((last as f64) * q).round() as usize).copied()
}

fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

impl Measurement {
    /// The median of each figure across runs (`runs` is never empty).
    pub fn median(runs: &[Self]) -> Self {
        let of = |f: fn(&Self) -> f64| median(runs.iter().map(f).collect());
        let of_duration = |f: fn(&Self) -> Option<Duration>| {
            let values: Vec<Duration> = runs.iter().filter_map(f).collect();
            (!values.is_empty()).then(|| median(values))
        };
        Self {
            accepted_per_sec: of(|m| m.accepted_per_sec),
            deliveries_per_sec: of(|m| m.deliveries_per_sec),
            first_publish_to_last_delivery: median(runs.iter().map(|m| m.first_publish_to_last_delivery).collect()),
            p50: of_duration(|m| m.p50),
            p95: of_duration(|m| m.p95),
            p99: of_duration(|m| m.p99),
            cpu_seconds_per_1000: of(|m| m.cpu_seconds_per_1000),
            peak_rss_mib: of(|m| m.peak_rss_mib),
        }
    }

    /// The figures as one JSON object, for `scripts/bench-compare.sh`.
    pub fn json(&self, workload: &str) -> Value {
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
        json!({
            "workload": workload,
            "accepted_per_sec": self.accepted_per_sec,
            "deliveries_per_sec": self.deliveries_per_sec,
            "p50_ms": ms(self.p50),
            "p95_ms": ms(self.p95),
            "p99_ms": ms(self.p99),
            "cpu_seconds_per_1000": self.cpu_seconds_per_1000,
            "peak_rss_mib": self.peak_rss_mib,
        })
    }

    pub fn summary(&self) -> String {
        let ms = |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.2} ms", d.as_secs_f64() * 1000.0));
        format!(
            "accepted {:.0}/s, delivered {:.0}/s, first publish to last delivery {:.2} s, p50 {} p95 {} p99 {}, {:.3} CPU s per 1000 deliveries, peak RSS {:.1} MiB",
            self.accepted_per_sec,
            self.deliveries_per_sec,
            self.first_publish_to_last_delivery.as_secs_f64(),
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            self.cpu_seconds_per_1000,
            self.peak_rss_mib
        )
    }
}
