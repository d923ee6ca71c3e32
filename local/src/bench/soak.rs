//! The soak: one server for a long time at a steady load, as a user runs it: events published
//! in batches of 100 at a fixed rate to one webhook while two clients keep listing deliveries.
//! Every interval it prints deliveries per second, resident memory, and the sizes of the data
//! file and its WAL, so throughput decay and unbounded growth show. At a rate past what the
//! server delivers, the backlog reaches `--max-backlog` and the publisher waits out each 503
//! (its `Retry-After`) and sends the batch again, as the overload policy asks; the refusals
//! are counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use super::receiver::BenchReceiver;
use super::server_process::ServerProcess;
use super::workloads::{Credentials, event, post, send};

/// How long a refused publisher waits when the 503 names no `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How the soak runs.
pub struct Soak {
    pub seconds: u64,
    pub events_per_second: usize,
    pub report_every: Duration,
}

impl Soak {
    pub async fn run(&self, receiver: &BenchReceiver) -> anyhow::Result<()> {
        receiver.reset();
        let server = ServerProcess::start("soak").await?;
        let client = reqwest::Client::builder().pool_max_idle_per_host(16).build()?;
        let admin = Credentials { header: "authorization", value: format!("Bearer {}", server.admin_token) };
        post(&client, &server.address, "/api/v1/webhooks", &json!({"name": "soak", "url": receiver.url, "events": ["customer.*"]}), &admin)
            .await?;
        let key = post(&client, &server.address, "/api/v1/api-keys", &json!({"name": "soak"}), &admin).await?;
        let publisher = Credentials { header: "x-api-key", value: key["key"].as_str().unwrap_or_default().to_owned() };
        let stop = Arc::new(AtomicBool::new(false));
        let listers: Vec<_> =
            (0..2).map(|_| tokio::spawn(list_until(client.clone(), server.address.clone(), admin.clone(), stop.clone()))).collect();
        let refused = Arc::new(AtomicU64::new(0));
        let target = Target { client: client.clone(), address: server.address.clone(), publisher, refused: refused.clone() };
        let publishing = tokio::spawn(publish_batches(target, self.events_per_second, self.seconds));
        println!("minute  delivered/s  RSS MiB  db MiB  WAL MiB  refused");
        let started = Instant::now();
        let (mut last_count, mut last_at) = (0, Instant::now());
        while started.elapsed() < Duration::from_secs(self.seconds) {
            tokio::time::sleep(self.report_every).await;
            let (count, now) = (receiver.count(), Instant::now());
            let rate = (count - last_count) as f64 / now.duration_since(last_at).as_secs_f64();
            let (db, wal) = server.file_sizes_mib();
            let minute = started.elapsed().as_secs_f64() / 60.0;
            println!("{minute:6.1}  {rate:11.0}  {:7.1}  {db:6.1}  {wal:7.1}  {:7}", server.rss_mib(), refused.load(Ordering::Relaxed));
            (last_count, last_at) = (count, now);
        }
        let published = publishing.await.context("the publisher panicked")??;
        stop.store(true, Ordering::Relaxed);
        for lister in listers {
            let _ = lister.await;
        }
        let refusals = refused.load(Ordering::Relaxed);
        println!(
            "soak: {published} events published, {} delivered, {refusals} batches refused, peak RSS {:.1} MiB",
            receiver.count(),
            server.peak_rss_mib()
        );
        server.stop().await;
        Ok(())
    }
}

/// Where the soak publishes, and its count of refused batches.
struct Target {
    client: reqwest::Client,
    address: String,
    publisher: Credentials,
    refused: Arc<AtomicU64>,
}

/// Batches of 100 at `per_second` events a second for `seconds`; returns how many were published.
async fn publish_batches(target: Target, per_second: usize, seconds: u64) -> anyhow::Result<usize> {
    let batches_per_second = (per_second as f64 / 100.0).max(0.1);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / batches_per_second));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    let mut published = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        let events: Vec<_> = (published..published + 100).map(|n| event(0, n)).collect();
        publish_until_accepted(&target, &json!({"events": events})).await?;
        published += 100;
    }
    Ok(published)
}

/// Posts one batch, waiting out each 503 `overloaded` for its `Retry-After` and sending it again.
async fn publish_until_accepted(target: &Target, batch: &serde_json::Value) -> anyhow::Result<()> {
    loop {
        let response = send(&target.client, &target.address, "/api/v1/events/batch", batch, &target.publisher).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status != reqwest::StatusCode::SERVICE_UNAVAILABLE {
            anyhow::bail!("/api/v1/events/batch answered {status}");
        }
        target.refused.fetch_add(1, Ordering::Relaxed);
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        tokio::time::sleep(retry_after.map_or(DEFAULT_RETRY_AFTER, Duration::from_secs)).await;
    }
}

/// Lists the newest deliveries again and again, as a dashboard or a script polling would.
async fn list_until(client: reqwest::Client, address: String, admin: Credentials, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let request = client.get(format!("{address}/api/v1/webhooks/deliveries?limit=100")).header(admin.header, &admin.value);
        if request.send().await.and_then(|response| response.error_for_status()).is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
