//! The local mode's delivery workers: a dispatcher claims visible tasks from the delivery
//! queue (any `DeliveryQueue`; SQLite's in local mode) and runs each through
//! `Hookline::deliver_claimed` concurrently, up to `concurrency` at once and
//! `per_webhook` at once for any one webhook, so one slow endpoint cannot hold up the rest.
//! It wakes when tasks are enqueued, when a retry comes due, or when a delivery finishes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookline_core::config::Config;
use hookline_core::domain::ids::WebhookId;
use hookline_core::ports::{ClaimLimits, Claimed};
use hookline_core::service::Hookline;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The longest the dispatcher sleeps without checking the queue.
const MAX_IDLE: Duration = Duration::from_secs(1);
/// How long to wait before looking again when every visible task belongs to a webhook at its
/// cap; it doubles while nothing can be claimed (up to `MAX_IDLE`), since each look scans them.
const SATURATED_IDLE: Duration = Duration::from_millis(25);

#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Deliveries in flight at once to a single webhook.
    pub per_webhook: usize,
}

impl WorkerConfig {
    pub fn of(config: &Config) -> Self {
        Self { concurrency: config.workers, per_webhook: config.per_webhook_concurrency }
    }
}

/// The workers drain the queue of the services they deliver with (`hookline.stores.queue`).
pub struct WorkerPool {
    hookline: Hookline,
    config: WorkerConfig,
}

/// Deliveries in flight per webhook, shared with the tasks so each one counts itself out.
type InFlight = Arc<Mutex<HashMap<WebhookId, usize>>>;

impl WorkerPool {
    pub fn new(hookline: Hookline, config: WorkerConfig) -> Self {
        Self { hookline, config }
    }

    /// Delivers until `shutdown` turns true, then waits for the deliveries in flight.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let counts: InFlight = Arc::default();
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut fruitless_looks: u32 = 0;
        while !*shutdown.borrow() {
            while tasks.try_join_next().is_some() {}
            let free = self.config.concurrency.max(1).saturating_sub(tasks.len());
            let claimed = if free == 0 { Vec::new() } else { self.claim(free, &counts).await };
            let filled_every_slot = claimed.len() == free;
            fruitless_looks = if claimed.is_empty() { fruitless_looks.saturating_add(1) } else { 0 };
            for task in claimed {
                tasks.spawn(self.deliver(task, counts.clone()));
            }
            if filled_every_slot && free > 0 {
                continue;
            }
            let next_visible = self.hookline.stores.queue.next_visible_in().await.ok().flatten();
            // Visible tasks that could not be claimed belong to webhooks at their cap (or no slot
            // is free): an enqueue changes nothing, a finished delivery or a short wait does.
            let saturated = next_visible == Some(Duration::ZERO);
            // Unless they were enqueued after the claim looked: a claim that took something looks
            // once more before the dispatcher waits as if the webhooks were at their cap.
            if saturated && fruitless_looks == 0 && free > 0 {
                continue;
            }
            let idle = if saturated {
                (SATURATED_IDLE * 2u32.pow(fruitless_looks.saturating_sub(1).min(6))).min(MAX_IDLE)
            } else {
                next_visible.unwrap_or(MAX_IDLE).min(MAX_IDLE)
            };
            tokio::select! {
                () = self.hookline.stores.queue.enqueued(), if !saturated => {}
                // A new task may be for a webhook with room, but look at most every SATURATED_IDLE.
                () = async {
                    tokio::time::sleep(SATURATED_IDLE).await;
                    self.hookline.stores.queue.enqueued().await;
                }, if saturated => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                () = tokio::time::sleep(idle) => {}
                _ = shutdown.changed() => {}
            }
        }
        while tasks.join_next().await.is_some() {}
        tracing::info!("delivery workers drained");
    }

    async fn claim(&self, free: usize, counts: &InFlight) -> Vec<Claimed> {
        let in_flight = counts.lock().map(|c| c.clone()).unwrap_or_default();
        let limits = ClaimLimits { max: free, per_webhook: self.config.per_webhook, in_flight: &in_flight };
        match self.hookline.stores.queue.claim(&limits).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(%error, "could not claim delivery tasks");
                tokio::time::sleep(MAX_IDLE).await;
                Vec::new()
            }
        }
    }

    fn deliver(&self, claimed: Claimed, counts: InFlight) -> impl Future<Output = ()> + Send + 'static {
        let guard = CountedIn::new(counts, claimed.task.webhook_id.clone());
        let hookline = self.hookline.clone();
        async move {
            run_task(&hookline, &claimed).await;
            drop(guard);
        }
    }
}

/// Counts one delivery in flight for its webhook, and out again when dropped (even on panic).
struct CountedIn {
    counts: InFlight,
    webhook: WebhookId,
}

impl CountedIn {
    fn new(counts: InFlight, webhook: WebhookId) -> Self {
        if let Ok(mut map) = counts.lock() {
            *map.entry(webhook.clone()).or_default() += 1;
        }
        Self { counts, webhook }
    }
}

impl Drop for CountedIn {
    fn drop(&mut self) {
        if let Ok(mut map) = self.counts.lock()
            && let Some(count) = map.get_mut(&self.webhook)
        {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.webhook);
            }
        }
    }
}

/// One task: deliver, then settle the claim. A failure leaves the claim to expire, so the
/// task is tried again after the visibility timeout: nothing is lost.
async fn run_task(hookline: &Hookline, claimed: &Claimed) {
    if let Err(error) = hookline.deliver_claimed(claimed).await {
        tracing::error!(delivery_id = %claimed.task.delivery_id, %error, "delivery failed; it will be retried after the visibility timeout");
    }
}
