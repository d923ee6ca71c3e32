//! Endpoint health: recording each attempt in its webhook's health, stopping attempts to a
//! receiver that keeps failing (`failing`, its deliveries held), probing it on a backoff,
//! disabling it when it fails too long, and, when it answers again or someone enables it,
//! releasing what it held oldest first at the recovery rate. `maintain` runs the periodic part
//! (every second locally, every minute on AWS).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::deliver::Receiver;
use super::notify::Notice;
use super::{AttemptResult, Hookline, ServiceError};
use crate::domain::delivery::DeliveryStatus;
use crate::domain::health::{HealthChange, WebhookState};
use crate::domain::ids::WebhookId;
use crate::domain::outcome::Outcome;
use crate::domain::webhook::Webhook;
use crate::ports::{DeliveryTask, Slots, StateChange, WebhookFilter};

/// How far ahead of now releasing schedules held deliveries; what is left is released by a
/// later `maintain`, so a long backlog never floods the queue at once.
const RELEASE_AHEAD: Duration = Duration::from_secs(120);
/// The most deliveries one release step takes.
const RELEASE_STEP: usize = 500;

/// What one `maintain` pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Maintenance {
    pub probed: usize,
    pub recovered: usize,
    pub disabled: usize,
    pub released: usize,
    /// Deliveries bulk replays sent again.
    pub replayed: u64,
    /// Dead-letter copies removed because their delivery was replayed or reviewed.
    pub dead_letters_dropped: usize,
}

impl Hookline {
    /// Writes a success into the webhook's health when it ends a failure streak, or when none was
    /// written for a minute, by the webhook as read or by this process since (`RecentSuccesses`).
    async fn note_success(&self, webhook: &Webhook, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let first_lately = webhook.health.success_worth_recording(now) && self.recent_successes.take(&webhook.id, now);
        if webhook.health.failure_streak == 0 && !first_lately {
            return Ok(());
        }
        let written = self.stores.subscriptions.record_health(&webhook.id, &HealthChange::Success, now).await;
        if written.is_err() && first_lately {
            self.recent_successes.give_back(&webhook.id);
        }
        written?;
        Ok(())
    }

    /// Records an attempt in its webhook's health and says what it tells about the receiver;
    /// the attempt that shows it has kept failing long enough makes the webhook `failing`.
    pub(crate) async fn note_attempt(&self, webhook: &Webhook, result: &AttemptResult) -> Result<Receiver, ServiceError> {
        let now = self.clock.now();
        if result.outcome == Outcome::Delivered {
            self.note_success(webhook, now).await?;
            return Ok(Receiver::Up);
        }
        let error = result.error_summary().unwrap_or_else(|| "failed".to_owned());
        let failure = HealthChange::Failure { error };
        let Some(health) = self.stores.subscriptions.record_health(&webhook.id, &failure, now).await? else {
            return Ok(Receiver::Up);
        };
        let policy = &self.settings.health;
        if policy.is_failing(&health, now) {
            let reason = format!(
                "{} consecutive failed attempts since {}; last: {}",
                health.failure_streak,
                health.streak_started_at.unwrap_or(now).to_rfc3339(),
                health.last_error.as_deref().unwrap_or("failed")
            );
            if self.start_failing(webhook, &reason).await? {
                let since = self.clock.now();
                let last_error = health.last_error.as_deref();
                self.notify(Notice::Failing { webhook, reason: &reason, streak: health.failure_streak, last_error, since }).await;
            }
            return Ok(Receiver::Failing);
        }
        let down = policy.failing_after > 0 && health.failure_streak >= policy.failing_after;
        Ok(if down { Receiver::Down } else { Receiver::Up })
    }

    /// Moves an active webhook to failing; false when someone else moved it first.
    async fn start_failing(&self, webhook: &Webhook, reason: &str) -> Result<bool, ServiceError> {
        let now = self.clock.now();
        let change = StateChange { from: vec![WebhookState::Active], to: WebhookState::Failing, reason: Some(reason.to_owned()), at: now };
        if self.stores.subscriptions.transition(&webhook.id, &change).await?.is_none() {
            return Ok(false);
        }
        self.schedule_probe(webhook, self.settings.health.probe_interval).await?;
        tracing::warn!(webhook_id = %webhook.id, "webhook failing: its deliveries are held and it is probed");
        Ok(true)
    }

    /// Disables a webhook (a 410, or failing too long): nothing is attempted or probed, and
    /// what it gets is held until someone enables it.
    pub(crate) async fn disable(&self, webhook: &Webhook, reason: String) -> Result<bool, ServiceError> {
        let from = vec![WebhookState::Active, WebhookState::Paused, WebhookState::Failing];
        let change = StateChange { from, to: WebhookState::Disabled, reason: Some(reason.clone()), at: self.clock.now() };
        if self.stores.subscriptions.transition(&webhook.id, &change).await?.is_none() {
            return Ok(false);
        }
        self.stores.subscriptions.record_health(&webhook.id, &HealthChange::NoProbe, self.clock.now()).await?;
        tracing::warn!(webhook_id = %webhook.id, "webhook disabled");
        self.notify(Notice::Disabled { webhook, reason: &reason }).await;
        Ok(true)
    }

    /// Makes a webhook active again; what it held is released (oldest first, at the recovery
    /// rate) or, when `release_held` is false, cancelled.
    pub async fn enable_webhook(&self, id: &str, release_held: bool) -> Result<Webhook, ServiceError> {
        let webhook = self.webhook(id).await?;
        if !webhook.is_active() {
            let from = vec![WebhookState::Paused, WebhookState::Failing, WebhookState::Disabled];
            self.activate(&webhook, from, release_held).await?;
        }
        self.webhook(id).await
    }

    /// Moves a webhook from one of `from` to active; returns how many held deliveries it
    /// released at once, or `None` when someone else moved it first.
    async fn activate(&self, webhook: &Webhook, from: Vec<WebhookState>, release_held: bool) -> Result<Option<usize>, ServiceError> {
        let now = self.clock.now();
        let change = StateChange { from, to: WebhookState::Active, reason: None, at: now };
        let Some(active) = self.stores.subscriptions.transition(&webhook.id, &change).await? else { return Ok(None) };
        self.stores.subscriptions.record_health(&webhook.id, &HealthChange::NoProbe, now).await?;
        if release_held {
            let health = self.stores.subscriptions.record_health(&webhook.id, &HealthChange::Release { from: now }, now).await?;
            let active = Webhook { health: health.unwrap_or_default(), ..active };
            return Ok(Some(self.release_step(&active, now).await?));
        }
        let reason = "webhook was enabled without its held deliveries";
        let cancelled = self.stores.deliveries.cancel_held(&webhook.id, reason, now).await?;
        tracing::info!(webhook_id = %webhook.id, cancelled, "held deliveries discarded");
        Ok(Some(0))
    }

    /// The periodic part of endpoint health, for every webhook: disable what failed too long,
    /// probe what is due, and go on releasing held deliveries; then go on with bulk replays and
    /// sweep the dead letters, within the maintenance budget.
    pub async fn maintain(&self) -> Result<Maintenance, ServiceError> {
        let deadline = std::time::Instant::now() + self.settings.maintenance_budget;
        let mut done = self.maintain_webhooks().await?;
        done.replayed = self.advance_replays(deadline).await?;
        done.dead_letters_dropped = self.sweep_dead_letters(deadline).await?;
        // Probes' rollups, and any a host left unflushed; then the hours that ended.
        self.flush_metrics().await;
        if let Err(error) = self.stores.metrics.fold(self.clock.now()).await {
            tracing::warn!(%error, "hour rollups not folded; the next pass goes on");
        }
        Ok(done)
    }

    async fn maintain_webhooks(&self) -> Result<Maintenance, ServiceError> {
        let mut done = Maintenance::default();
        let mut filter = WebhookFilter { limit: 100, ..WebhookFilter::default() };
        loop {
            let page = self.stores.subscriptions.list(&filter).await?;
            for webhook in &page.items {
                self.maintain_one(webhook, &mut done).await?;
            }
            match page.next_cursor {
                Some(cursor) => filter.cursor = Some(cursor),
                None => return Ok(done),
            }
        }
    }

    async fn maintain_one(&self, webhook: &Webhook, done: &mut Maintenance) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let policy = &self.settings.health;
        match webhook.state {
            WebhookState::Failing if policy.should_disable(webhook.state_changed_at, now) => {
                let reason = format!("failing since {}; probes stopped", webhook.state_changed_at.to_rfc3339());
                done.disabled += usize::from(self.disable(webhook, reason).await?);
            }
            WebhookState::Failing if webhook.health.next_probe_at.is_none_or(|at| at <= now) => {
                done.probed += 1;
                if let Some(released) = self.probe(webhook).await? {
                    done.recovered += 1;
                    done.released += released;
                }
            }
            WebhookState::Active if webhook.health.release_next_at.is_some() => {
                done.released += self.release_step(webhook, now).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// After deliveries were held for webhooks that were not active when looked at: any of them
    /// that became active meanwhile (its release may have run before they were held) releases
    /// them at the next `maintain`, so none stays held behind an active webhook.
    pub(crate) async fn recheck_held_for(&self, webhooks: &[&WebhookId]) -> Result<(), ServiceError> {
        let now = self.clock.now();
        for id in webhooks {
            if self.stores.subscriptions.get(id).await?.is_some_and(|webhook| webhook.is_active()) {
                self.stores.subscriptions.record_health(id, &HealthChange::Release { from: now }, now).await?;
            }
        }
        Ok(())
    }

    /// Sends a failing webhook a signed `webhook.test`; a 2xx makes it active and starts
    /// releasing what it held (returns how many at once), anything else doubles the wait
    /// before the next probe (returns `None`).
    async fn probe(&self, webhook: &Webhook) -> Result<Option<usize>, ServiceError> {
        let pinged = self.ping(webhook, DeliveryStatus::Cancelled).await?;
        if pinged.success {
            self.stores.subscriptions.record_health(&webhook.id, &HealthChange::Success, self.clock.now()).await?;
            let recovered = self.activate(webhook, vec![WebhookState::Failing], true).await?;
            if let Some(released) = recovered {
                tracing::info!(webhook_id = %webhook.id, released, "webhook recovered: held deliveries are being released");
                self.notify(Notice::Recovered { webhook, failing_since: webhook.state_changed_at, released }).await;
            }
            return Ok(recovered);
        }
        let waited = Duration::from_secs(webhook.health.probe_interval_secs);
        self.schedule_probe(webhook, self.settings.health.next_probe_interval(waited)).await?;
        Ok(None)
    }

    async fn schedule_probe(&self, webhook: &Webhook, interval: Duration) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let at = now + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
        self.stores.subscriptions.record_health(&webhook.id, &HealthChange::ProbeAt { at, interval }, now).await?;
        Ok(())
    }

    /// Releases held deliveries into time slots up to `RELEASE_AHEAD` from now, continuing
    /// from the slot the last step reached; returns how many it released.
    async fn release_step(&self, webhook: &Webhook, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let interval = self.settings.health.release_interval(None);
        let horizon = now + chrono::Duration::from_std(RELEASE_AHEAD).unwrap_or(chrono::Duration::MAX);
        let mut next = webhook.health.release_next_at.unwrap_or(now).max(now);
        if next >= horizon {
            return Ok(0);
        }
        let mut released = 0;
        while next < horizon {
            let room = (horizon - next).to_std().unwrap_or_default().as_secs_f64() / interval.as_secs_f64().max(1e-6);
            let limit = (room.ceil() as usize).clamp(1, RELEASE_STEP);
            let slots = Slots { first_at: next, interval };
            let batch = self.stores.deliveries.release_held(&webhook.id, &slots, limit).await?;
            let tasks: Vec<DeliveryTask> = batch.iter().map(DeliveryTask::of).collect();
            self.stores.queue.enqueue(&tasks).await?;
            released += batch.len();
            next = slots.nth(batch.len());
            if batch.len() < limit {
                self.stores.subscriptions.record_health(&webhook.id, &HealthChange::Releasing { next_at: None }, now).await?;
                return Ok(released);
            }
        }
        self.stores.subscriptions.record_health(&webhook.id, &HealthChange::Releasing { next_at: Some(next) }, now).await?;
        Ok(released)
    }
}
