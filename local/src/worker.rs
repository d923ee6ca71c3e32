//! The local mode's delivery workers: a dispatcher claims visible tasks from the delivery
//! queue (any `DeliveryQueue`; SQLite's in local mode) and runs each through
//! `Hookline::deliver_claimed` concurrently, up to `concurrency` at once and
//! `per_webhook` at once for any one webhook, so one slow endpoint cannot hold up the rest.
//! It wakes when tasks are enqueued, when a retry comes due, or when a delivery finishes.

use std::collections::HashMap;
use std::time::Duration;

use hookline_core::config::Config;
use hookline_core::domain::ids::WebhookId;
use hookline_core::ports::{ClaimLimits, Claimed};
use hookline_core::service::Hookline;
use tokio::sync::watch;
use tokio::task::{Id, JoinError, JoinSet};

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

impl WorkerPool {
    pub fn new(hookline: Hookline, config: WorkerConfig) -> Self {
        Self { hookline, config }
    }

    /// Delivers until `shutdown` turns true, then waits for the deliveries in flight.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut in_flight = InFlight::default();
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut fruitless_looks: u32 = 0;
        while !*shutdown.borrow() {
            while let Some(joined) = tasks.try_join_next_with_id() {
                in_flight.finished(&joined);
            }
            let free = self.config.concurrency.max(1).saturating_sub(tasks.len());
            let claimed = if free == 0 { Vec::new() } else { self.claim(free, &in_flight.per_webhook).await };
            let filled_every_slot = claimed.len() == free;
            fruitless_looks = if claimed.is_empty() { fruitless_looks.saturating_add(1) } else { 0 };
            for task in claimed {
                let webhook = task.task.webhook_id.clone();
                in_flight.started(tasks.spawn(self.deliver(task)).id(), webhook);
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
                Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => in_flight.finished(&joined),
                () = tokio::time::sleep(idle) => {}
                _ = shutdown.changed() => {}
            }
        }
        while tasks.join_next().await.is_some() {}
        tracing::info!("delivery workers drained");
    }

    async fn claim(&self, free: usize, in_flight: &HashMap<WebhookId, usize>) -> Vec<Claimed> {
        let limits = ClaimLimits { max: free, per_webhook: self.config.per_webhook, in_flight };
        match self.hookline.stores.queue.claim(&limits).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(%error, "could not claim delivery tasks");
                tokio::time::sleep(MAX_IDLE).await;
                Vec::new()
            }
        }
    }

    fn deliver(&self, claimed: Claimed) -> impl Future<Output = ()> + Send + 'static {
        let hookline = self.hookline.clone();
        async move { run_task(&hookline, &claimed).await }
    }
}

/// Deliveries in flight per webhook, as the dispatcher spawned them and joined them (a task
/// that panicked is joined too), so a claim reads the counts without copying them.
#[derive(Default)]
struct InFlight {
    per_webhook: HashMap<WebhookId, usize>,
    webhook_of: HashMap<Id, WebhookId>,
}

impl InFlight {
    fn started(&mut self, task: Id, webhook: WebhookId) {
        match self.per_webhook.get_mut(&webhook) {
            Some(count) => *count += 1,
            None => {
                self.per_webhook.insert(webhook.clone(), 1);
            }
        }
        self.webhook_of.insert(task, webhook);
    }

    fn finished(&mut self, joined: &Result<(Id, ()), JoinError>) {
        let task = match joined {
            Ok((task, ())) => *task,
            Err(error) => error.id(),
        };
        let Some(webhook) = self.webhook_of.remove(&task) else { return };
        if let Some(count) = self.per_webhook.get_mut(&webhook) {
            *count -= 1;
            if *count == 0 {
                self.per_webhook.remove(&webhook);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_webhook_counts_its_deliveries_until_each_is_joined_even_one_that_panicked() {
        let (first, second) = (WebhookId::generate(1), WebhookId::generate(2));
        let (mut tasks, mut in_flight) = (JoinSet::new(), InFlight::default());
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        in_flight.started(tasks.spawn(async { panic!("a delivery that panicked") }).id(), first.clone());
        in_flight.started(tasks.spawn(async {}).id(), first.clone());
        in_flight.started(
            tasks
                .spawn(async {
                    let _ = wait.await;
                })
                .id(),
            second.clone(),
        );
        assert_eq!(in_flight.per_webhook, HashMap::from([(first.clone(), 2), (second.clone(), 1)]));
        for _ in 0..2 {
            let joined = tasks.join_next_with_id().await.unwrap();
            in_flight.finished(&joined);
        }
        assert_eq!(in_flight.per_webhook, HashMap::from([(second.clone(), 1)]));
        release.send(()).unwrap();
        let joined = tasks.join_next_with_id().await.unwrap();
        in_flight.finished(&joined);
        assert!(in_flight.per_webhook.is_empty() && in_flight.webhook_of.is_empty());
    }
}
