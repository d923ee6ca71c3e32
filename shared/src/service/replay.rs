//! Replaying: closed deliveries get a new round of attempts under their webhook's policy,
//! one at a time or all of a webhook's dead deliveries at once (after an outage is fixed).

use chrono::{DateTime, Utc};

use super::notify::Notice;
use super::{Hookline, ServiceError};
use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::ids::DeliveryId;
use crate::ports::{DeliveryTask, Reopen};

impl Hookline {
    /// Replays one closed delivery (dead, cancelled, or succeeded to resend it). Replaying an
    /// open delivery only makes sure it is queued, so a replay interrupted half way can be repeated.
    pub async fn replay_delivery(&self, id: &str) -> Result<Delivery, ServiceError> {
        let id = DeliveryId::parse(id).ok_or(ServiceError::NotFound("delivery"))?;
        let delivery = self.stores.deliveries.get(&id).await?.ok_or(ServiceError::NotFound("delivery"))?;
        self.webhook_open_for_replay(&delivery).await?;
        if delivery.status.is_open() {
            self.stores.queue.enqueue(&[DeliveryTask::of(&delivery)]).await?;
            return Ok(delivery);
        }
        let mut reopened = self.reopen(&Reopen::One(id)).await?;
        reopened.pop().ok_or_else(|| ServiceError::Conflict("the delivery changed while it was being replayed".into()))
    }

    /// Marks a dead delivery reviewed: it leaves the dead letters awaiting review and from then
    /// on follows its type's retention. Acknowledging it again changes nothing.
    pub async fn acknowledge_delivery(&self, id: &str) -> Result<Delivery, ServiceError> {
        let id = DeliveryId::parse(id).ok_or(ServiceError::NotFound("delivery"))?;
        let delivery = self.stores.deliveries.get(&id).await?.ok_or(ServiceError::NotFound("delivery"))?;
        if delivery.status != DeliveryStatus::Dead {
            return Err(ServiceError::Conflict(format!(
                "delivery {id} is {}; only dead deliveries are acknowledged",
                delivery.status.as_str()
            )));
        }
        self.stores.deliveries.acknowledge(&id, self.clock.now()).await?;
        self.stores.deliveries.get(&id).await?.ok_or(ServiceError::NotFound("delivery"))
    }

    /// Replays every dead delivery of a webhook (created since `since`, when given); returns how many.
    pub async fn replay_dead_of(&self, webhook_id: &str, since: Option<DateTime<Utc>>) -> Result<usize, ServiceError> {
        let webhook = self.webhook(webhook_id).await?;
        if !webhook.is_active() {
            return Err(ServiceError::Conflict(format!("webhook {} is inactive; reactivate it first", webhook.id)));
        }
        let replayed = self.reopen(&Reopen::DeadOf { webhook: webhook.id.clone(), since }).await?.len();
        let webhook_id = Some(webhook.id.as_str());
        self.notify(Notice::ReplayFinished { replay_id: None, webhook_id, matched: replayed, replayed }).await;
        Ok(replayed)
    }

    async fn webhook_open_for_replay(&self, delivery: &Delivery) -> Result<(), ServiceError> {
        match self.stores.subscriptions.get(&delivery.webhook_id).await? {
            Some(webhook) if webhook.is_active() => Ok(()),
            Some(webhook) => Err(ServiceError::Conflict(format!("webhook {} is inactive; reactivate it first", webhook.id))),
            None => Err(ServiceError::Conflict(format!("webhook {} was deleted", delivery.webhook_id))),
        }
    }

    async fn reopen(&self, selection: &Reopen) -> Result<Vec<Delivery>, ServiceError> {
        let reopened = self.stores.deliveries.reopen(selection, self.clock.now()).await?;
        let tasks: Vec<DeliveryTask> = reopened.iter().map(DeliveryTask::of).collect();
        self.stores.queue.enqueue(&tasks).await?;
        tracing::info!(replayed = reopened.len(), "deliveries replayed");
        Ok(reopened)
    }
}
