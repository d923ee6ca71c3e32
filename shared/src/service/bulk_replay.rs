//! Bulk replays: dead, cancelled or held deliveries selected by webhook, type and time, sent
//! again page by page. A replay starts at once and goes on in later `maintain` passes, so one
//! of any size finishes without any single invocation running long; progress is saved after
//! every page, and replaying a delivery twice (a pass cut short) changes nothing. On SQS, the
//! dead-letter sweep then removes the DLQ copies of deliveries that were replayed or reviewed.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::notify::Notice;
use super::{Hookline, ServiceError};
use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::event::unix_millis;
use crate::domain::ids::ReplayId;
use crate::domain::replay::{Replay, ReplayRequest};
use crate::ports::{DeadLetter, DeliveryFilter, DeliveryTask, Reopen};

/// Deliveries read per page of a replay.
const PAGE: usize = 200;
/// Deliveries reopened at once.
const REOPEN_CONCURRENCY: usize = 16;
/// How long starting a replay may take before the answer (the rest goes on in `maintain`).
const FIRST_STEPS: Duration = Duration::from_secs(2);
/// The dead-letter reason of a delivery that failed its last attempt.
const DEAD: &str = "dead";

impl Hookline {
    /// Starts a bulk replay and takes its first steps; `replay_status` reports the rest.
    pub async fn start_replay(&self, request: ReplayRequest) -> Result<Replay, ServiceError> {
        let filter = request.parse()?;
        if let Some(webhook) = &filter.webhook_id {
            self.stores.subscriptions.get(webhook).await?.ok_or(ServiceError::NotFound("webhook"))?;
        }
        let now = self.clock.now();
        let replay = Replay::new(ReplayId::generate(unix_millis(now)), filter, now);
        self.stores.replays.save(&replay).await?;
        self.advance_replay(replay, Instant::now() + FIRST_STEPS).await
    }

    pub async fn replay_status(&self, id: &str) -> Result<Replay, ServiceError> {
        let id = ReplayId::parse(id).ok_or(ServiceError::NotFound("replay"))?;
        self.stores.replays.get(&id).await?.ok_or(ServiceError::NotFound("replay"))
    }

    /// Goes on with every unfinished replay until `deadline`; returns how many deliveries it replayed.
    pub(crate) async fn advance_replays(&self, deadline: Instant) -> Result<u64, ServiceError> {
        let mut replayed = 0;
        for replay in self.stores.replays.unfinished().await? {
            if Instant::now() >= deadline {
                break;
            }
            let before = replay.replayed;
            replayed += self.advance_replay(replay, deadline).await?.replayed - before;
        }
        Ok(replayed)
    }

    async fn advance_replay(&self, mut replay: Replay, deadline: Instant) -> Result<Replay, ServiceError> {
        while !replay.is_finished() && Instant::now() < deadline {
            if let Some(status) = replay.current_status() {
                let page = self.replay_page(&replay, status).await?;
                let selected: Vec<&Delivery> =
                    page.items.iter().filter(|d| replay.filter.until.is_none_or(|until| d.created_at <= until)).collect();
                replay.matched += selected.len() as u64;
                replay.replayed += self.reopen_all(&selected).await? as u64;
                replay.advance(page.next_cursor);
            }
            let now = self.clock.now();
            if replay.current_status().is_none() {
                replay.finished_at = Some(now);
            }
            replay.updated_at = now;
            self.stores.replays.save(&replay).await?;
        }
        if let Some(finished) = replay.finished_at.filter(|at| *at == replay.updated_at) {
            tracing::info!(replay_id = %replay.id, matched = replay.matched, replayed = replay.replayed, %finished, "replay finished");
            let webhook_id = replay.filter.webhook_id.as_ref().map(|id| id.as_str());
            let (matched, replayed) = (replay.matched as usize, replay.replayed as usize);
            self.notify(Notice::ReplayFinished { replay_id: Some(replay.id.as_str()), webhook_id, matched, replayed }).await;
        }
        Ok(replay)
    }

    async fn replay_page(&self, replay: &Replay, status: DeliveryStatus) -> Result<crate::ports::Page<Delivery>, ServiceError> {
        let filter = DeliveryFilter {
            webhook_id: replay.filter.webhook_id.clone(),
            status: Some(status),
            event_type: replay.filter.event_type.clone(),
            since: replay.filter.since,
            limit: PAGE,
            cursor: replay.cursor.clone(),
        };
        Ok(self.stores.deliveries.list(&filter).await?)
    }

    /// Reopens the deliveries (those still closed or held) and queues them; returns how many.
    async fn reopen_all(&self, deliveries: &[&Delivery]) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let mut reopened: Vec<Delivery> = Vec::with_capacity(deliveries.len());
        for chunk in deliveries.chunks(REOPEN_CONCURRENCY) {
            let selections: Vec<Reopen> = chunk.iter().map(|delivery| Reopen::One(delivery.id.clone())).collect();
            for result in join_all(selections.iter().map(|selection| self.stores.deliveries.reopen(selection, now))).await {
                reopened.extend(result?);
            }
        }
        let tasks: Vec<DeliveryTask> = reopened.iter().map(DeliveryTask::of).collect();
        self.stores.queue.enqueue(&tasks).await?;
        Ok(reopened.len())
    }

    /// Removes from the dead letters (SQS's DLQ) the copies of deliveries no longer waiting
    /// for review (replayed, acknowledged, or gone with retention), until `deadline`; returns
    /// how many. The DLQ alarm then clears once what is left has been dealt with.
    pub(crate) async fn sweep_dead_letters(&self, deadline: Instant) -> Result<usize, ServiceError> {
        let mut dropped = 0;
        while Instant::now() < deadline {
            let letters = self.stores.queue.dead_letters(10).await?;
            if letters.is_empty() {
                break;
            }
            let checks = letters.iter().map(|letter| self.reviewed(letter));
            let verdicts = join_all(checks).await;
            let mut settled: Vec<DeadLetter> = Vec::new();
            for (letter, reviewed) in letters.into_iter().zip(verdicts) {
                if reviewed? {
                    settled.push(letter);
                }
            }
            self.stores.queue.drop_dead_letters(&settled).await?;
            dropped += settled.len();
        }
        Ok(dropped)
    }

    /// A dead delivery's copy whose delivery is no longer dead and unreviewed.
    async fn reviewed(&self, letter: &DeadLetter) -> Result<bool, ServiceError> {
        let Some(task) = letter.task.as_ref().filter(|_| letter.reason.as_deref() == Some(DEAD)) else { return Ok(false) };
        Ok(match self.stores.deliveries.get(&task.delivery_id).await? {
            None => true,
            Some(delivery) => delivery.status != DeliveryStatus::Dead || delivery.acknowledged_at.is_some(),
        })
    }
}
