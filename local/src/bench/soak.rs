//! The soak: one server for a long time at a steady load, as a user runs it: events published
//! in batches of 100 at a fixed rate to one webhook while two clients keep listing deliveries.
//! Every interval it prints deliveries per second, resident memory, and the sizes of the data
//! file and its WAL, so throughput decay and unbounded growth show.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use super::receiver::BenchReceiver;
use super::server_process::ServerProcess;
use super::workloads::{Credentials, event, post};

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
        let publishing =
            tokio::spawn(publish_batches(client.clone(), server.address.clone(), publisher, self.events_per_second, self.seconds));
        println!("minute  delivered/s  RSS MiB  db MiB  WAL MiB");
        let started = Instant::now();
        let (mut last_count, mut last_at) = (0, Instant::now());
        while started.elapsed() < Duration::from_secs(self.seconds) {
            tokio::time::sleep(self.report_every).await;
            let (count, now) = (receiver.count(), Instant::now());
            let rate = (count - last_count) as f64 / now.duration_since(last_at).as_secs_f64();
            let (db, wal) = server.file_sizes_mib();
            println!("{:6.1}  {rate:11.0}  {:7.1}  {db:6.1}  {wal:7.1}", started.elapsed().as_secs_f64() / 60.0, server.rss_mib());
            (last_count, last_at) = (count, now);
        }
        let published = publishing.await.context("the publisher panicked")??;
        stop.store(true, Ordering::Relaxed);
        for lister in listers {
            let _ = lister.await;
        }
        println!("soak: {published} events published, {} delivered, peak RSS {:.1} MiB", receiver.count(), server.peak_rss_mib());
        server.stop().await;
        Ok(())
    }
}

/// Batches of 100 at `per_second` events a second for `seconds`; returns how many were published.
async fn publish_batches(
    client: reqwest::Client,
    address: String,
    publisher: Credentials,
    per_second: usize,
    seconds: u64,
) -> anyhow::Result<usize> {
    let batches_per_second = (per_second as f64 / 100.0).max(0.1);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / batches_per_second));
    let started = Instant::now();
    let mut published = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        let events: Vec<_> = (published..published + 100).map(|n| event(0, n)).collect();
        post(&client, &address, "/api/v1/events/batch", &json!({"events": events}), &publisher).await?;
        published += 100;
    }
    Ok(published)
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
