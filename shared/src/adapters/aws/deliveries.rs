//! `DeliveryStore` over DynamoDB: one item per delivery holding its attempts (see `delivery_item`).
//! Every change to a delivery is one conditional `UpdateItem`; a change whose condition no
//! longer holds (the delivery closed meanwhile) is a no-op, as in the SQLite adapter.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem, Update};
use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;

use super::batch::{Transacted, all_distinct, put_all, transact};
use super::cursor::Cursors;
use super::delivery_item::{
    FRESH, attempt_value, attempted_item, attempts_of, delivery_key, from_item, legacy_event_partition, log_without_excerpts,
    open_statuses, recording_no_attempt, status_in, to_item, unfinished_statuses,
};
use super::held;
use super::item::{Item, expiry, get_s, is_live, key, n, s, time};
use super::reads::{get_item, items_of, query_all};
use super::subscriptions::webhook_ids_ever;
use super::walk::{Walk, every_item, page};
use super::{Dynamo, store_error, written};
use crate::adapters::cipher::SecretCipher;
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::domain::retention::RetentionPolicy;
use crate::ports::{AttemptRecord, DeliveryFilter, DeliveryStore, Page, Reopen, Slots, StoreError};

/// Attempts after this many keep no response excerpt, so a delivery replayed again and again
/// stays far below DynamoDB's 400 KB item limit.
const EXCERPTS_KEPT: u32 = 50;

pub struct DynamoDbDeliveryStore {
    db: Dynamo,
    cursors: Cursors,
    retention: RetentionPolicy,
}

impl DynamoDbDeliveryStore {
    /// Delivery items expire (TTL) their retention (`RetentionPolicy::for_delivery`) after
    /// their creation; a delivery that dies, is acknowledged or is replayed gets its expiry again.
    pub fn new(db: Dynamo, cipher: Arc<SecretCipher>, retention: RetentionPolicy) -> Self {
        Self { db, cursors: Cursors::new(cipher), retention }
    }

    /// The retention of a new delivery of `event_type`.
    fn period(&self, event_type: &str) -> Duration {
        self.retention.for_type(event_type)
    }

    /// Sets a delivery's expiry from what it now is (`item`, as just written); a dead one's
    /// event is kept at least as long, so it can still be replayed.
    async fn expire_as(&self, item: &Item) -> Result<(), StoreError> {
        let delivery = from_item(item)?;
        let period = self.retention.for_delivery(&delivery.event_type, delivery.status, delivery.acknowledged_at.is_some());
        let until = expiry(delivery.created_at, period);
        let set = |key: Item, condition: &str| {
            self.db
                .client
                .update_item()
                .table_name(&*self.db.table)
                .set_key(Some(key))
                .update_expression(recording_no_attempt("SET expires_at = :until"))
                .condition_expression(condition)
                .expression_attribute_values(":until", until.clone())
        };
        written(set(delivery_key(&delivery.id), "attribute_exists(PK)").send().await)?;
        if delivery.status == DeliveryStatus::Dead && delivery.acknowledged_at.is_none() {
            let event = key(format!("EVT#{}", delivery.event_id), "META");
            written(set(event, "attribute_exists(PK) AND expires_at < :until").send().await)?;
        }
        Ok(())
    }

    async fn load(&self, id: &DeliveryId) -> Result<Option<Item>, StoreError> {
        Ok(get_item(&self.db, delivery_key(id)).await?.filter(|item| is_live(item, Utc::now())))
    }

    async fn create_one(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let result = self
            .db
            .client
            .put_item()
            .table_name(&*self.db.table)
            .set_item(Some(to_item(delivery, self.period(&delivery.event_type))))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        written(result)?;
        // Also when the delivery existed: a fan-out handed over again after dying between the
        // two puts must still leave the marker (one whose delivery is no longer held is dropped
        // when released).
        if delivery.status == DeliveryStatus::Held {
            let marker = held::marker(delivery, self.period(&delivery.event_type));
            self.db.client.put_item().table_name(&*self.db.table).set_item(Some(marker)).send().await.map_err(store_error)?;
        }
        Ok(())
    }

    /// Closes an unfinished delivery as cancelled; false when it was not unfinished.
    async fn cancel_item(&self, id: &DeliveryId, reason: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let set = "SET #status = :cancelled, last_error = :reason, updated_at = :at REMOVE next_attempt_at";
        let request = self
            .update_if_status(id, recording_no_attempt(set), &unfinished_statuses(), "")
            .expression_attribute_values(":cancelled", s(DeliveryStatus::Cancelled.as_str()))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":at", time(at));
        Ok(written(request.send().await)?.is_some())
    }

    /// An update of one delivery on condition that its status is one of `from` (and `also`).
    fn update_if_status(
        &self,
        id: &DeliveryId,
        expression: impl Into<String>,
        from: &[DeliveryStatus],
        also: &str,
    ) -> UpdateItemFluentBuilder {
        let (condition, values) = status_in(from);
        let mut request = self
            .db
            .client
            .update_item()
            .table_name(&*self.db.table)
            .set_key(Some(delivery_key(id)))
            .update_expression(expression)
            .condition_expression(format!("{condition}{also}"))
            .expression_attribute_names("#status", "status");
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        request
    }

    /// Reopens one delivery if its status is one of `from`, due at `due`; returns it as reopened.
    async fn reopen_item(&self, id: &DeliveryId, from: &[DeliveryStatus], due: DateTime<Utc>) -> Result<Option<Delivery>, StoreError> {
        let set =
            "SET #status = :pending, attempts_before_replay = attempts, next_attempt_at = :due, updated_at = :at REMOVE acknowledged_at";
        let request = self
            .update_if_status(id, recording_no_attempt(set), from, "")
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .expression_attribute_values(":due", time(due))
            .expression_attribute_values(":at", time(Utc::now().min(due)))
            .return_values(ReturnValue::AllNew);
        let Some(item) = written(request.send().await)?.and_then(|output| output.attributes) else { return Ok(None) };
        if from.contains(&DeliveryStatus::Dead) {
            self.expire_as(&item).await?;
        }
        from_item(&item).map(Some)
    }

    /// Delivery ids of an event's deliveries. A delivery's id derives from its event and
    /// webhook, so each webhook that may have one (those there are and those deleted) gives a
    /// key to read; deliveries written by earlier versions are also found through their `GSI3`
    /// entry by event.
    async fn ids_of_event(&self, event: &EventId) -> Result<BTreeSet<DeliveryId>, StoreError> {
        let candidates: Vec<Item> =
            webhook_ids_ever(&self.db).await?.iter().map(|webhook| delivery_key(&DeliveryId::for_pair(event, webhook))).collect();
        let mut ids: BTreeSet<DeliveryId> =
            items_of(&self.db, &candidates).await?.iter().map(from_item).map(|d| Ok(d?.id)).collect::<Result<_, StoreError>>()?;
        let legacy = query_all(&self.db, Some("GSI3"), "GSI3PK", &legacy_event_partition(event)).await?;
        ids.extend(legacy.iter().filter_map(|item| DeliveryId::parse(get_s(item, "GSI3SK").ok()?)));
        Ok(ids)
    }

    async fn clear_excerpts(&self, id: &DeliveryId) -> Result<(), StoreError> {
        let Some(item) = self.load(id).await? else { return Ok(()) };
        let result = self
            .db
            .client
            .update_item()
            .table_name(&*self.db.table)
            .set_key(Some(delivery_key(id)))
            .update_expression(recording_no_attempt("SET #log = :log"))
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#log", "log")
            .expression_attribute_values(":log", log_without_excerpts(&attempts_of(&item)?))
            .send()
            .await;
        written(result).map(|_| ())
    }
}

#[async_trait]
impl DeliveryStore for DynamoDbDeliveryStore {
    async fn create(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        for chunk in deliveries.chunks(25) {
            join_all(chunk.iter().map(|d| self.create_one(d))).await.into_iter().collect::<Result<Vec<_>, _>>()?;
        }
        Ok(())
    }

    /// Deliveries of events recorded just now cannot exist yet: written 25 per request,
    /// without conditions.
    async fn create_new(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        if deliveries.len() <= 1 || !all_distinct(deliveries.iter().map(|d| d.id.as_str())) {
            return self.create(deliveries).await;
        }
        let markers = deliveries.iter().filter(|d| d.status == DeliveryStatus::Held).map(|d| held::marker(d, self.period(&d.event_type)));
        put_all(&self.db, deliveries.iter().map(|d| to_item(d, self.period(&d.event_type))).chain(markers).collect()).await
    }

    async fn get(&self, id: &DeliveryId) -> Result<Option<Delivery>, StoreError> {
        self.load(id).await?.as_ref().map(from_item).transpose()
    }

    async fn attempts(&self, id: &DeliveryId) -> Result<Vec<Attempt>, StoreError> {
        self.load(id).await?.as_ref().map_or(Ok(Vec::new()), attempts_of)
    }

    async fn list(&self, filter: &DeliveryFilter) -> Result<Page<Delivery>, StoreError> {
        let walk = match &filter.webhook_id {
            Some(webhook) => Walk::of_webhook(webhook.as_str(), filter.since),
            None => Walk::of_webhooks(&webhook_ids_ever(&self.db).await?, filter.since),
        };
        page(&self.db, &self.cursors, &walk, filter).await
    }

    async fn record_attempt(&self, id: &DeliveryId, record: &AttemptRecord, at: DateTime<Utc>) -> Result<(), StoreError> {
        let attempt = &record.attempt;
        let logged = if attempt.number > EXCERPTS_KEPT { Attempt { response_excerpt: None, ..attempt.clone() } } else { attempt.clone() };
        let mut set = vec![
            "#status = :status",
            "attempts = :number",
            "updated_at = :at",
            "#log = list_append(if_not_exists(#log, :empty), :entry)",
            "#fresh = :number",
        ];
        let mut remove = Vec::new();
        let mut values: Vec<(String, AttributeValue)> = vec![
            (":status".into(), s(record.status.as_str())),
            (":number".into(), n(attempt.number)),
            (":at".into(), time(at)),
            (":empty".into(), AttributeValue::L(Vec::new())),
            (":entry".into(), AttributeValue::L(vec![attempt_value(&logged)])),
        ];
        for (assignment, name, placeholder, value) in [
            ("next_attempt_at = :next", "next_attempt_at", ":next", attempt.next_attempt_at.map(time)),
            ("last_status_code = :code", "last_status_code", ":code", attempt.status_code.map(n)),
            ("last_error = :error", "last_error", ":error", record.last_error.as_deref().map(s)),
        ] {
            match value {
                Some(value) => {
                    set.push(assignment);
                    values.push((placeholder.into(), value));
                }
                None => remove.push(name),
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let mut request = self
            .update_if_status(id, expression, &open_statuses(), " AND attempts < :number")
            .expression_attribute_names("#log", "log")
            .expression_attribute_names("#fresh", FRESH)
            .return_values(ReturnValue::AllNew);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match written(request.send().await)?.and_then(|output| output.attributes) {
            Some(item) if record.status == DeliveryStatus::Dead => self.expire_as(&item).await,
            _ => Ok(()),
        }
    }

    /// A delivery costs one put with its first attempt instead of a put and an update.
    fn stores_at_first_attempt(&self) -> bool {
        true
    }

    async fn store_attempted(&self, delivery: &Delivery, record: &AttemptRecord, at: DateTime<Utc>) -> Result<(), StoreError> {
        let item = attempted_item(delivery, record, at, self.period(&delivery.event_type));
        let request = self.db.client.put_item().table_name(&*self.db.table).set_item(Some(item.clone()));
        if written(request.condition_expression("attribute_not_exists(PK)").send().await)?.is_none() {
            return self.record_attempt(&delivery.id, record, at).await;
        }
        if record.status == DeliveryStatus::Dead { self.expire_as(&item).await } else { Ok(()) }
    }

    async fn cancel(&self, id: &DeliveryId, reason: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.cancel_item(id, reason, at).await.map(|_| ())
    }

    /// The delivery and its marker in one transaction, so no held delivery lacks its marker.
    async fn hold(&self, delivery: &Delivery, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let (condition, values) = status_in(&open_statuses());
        let mut update = Update::builder()
            .table_name(&*self.db.table)
            .set_key(Some(delivery_key(&delivery.id)))
            .update_expression(recording_no_attempt("SET #status = :held, updated_at = :at REMOVE next_attempt_at"))
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":held", s(DeliveryStatus::Held.as_str()))
            .expression_attribute_values(":at", time(at));
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        let update = TransactWriteItem::builder().update(update.build().map_err(store_error)?).build();
        let writes = vec![update, held::put_marker(&self.db, delivery, self.period(&delivery.event_type))?];
        Ok(matches!(transact(&self.db, writes).await?, Transacted::Written))
    }

    async fn release_held(&self, webhook: &WebhookId, slots: &Slots, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let mut released = Vec::new();
        for marker in held::oldest(&self.db, webhook, limit).await? {
            if let Some(id) = held::delivery_of(&marker) {
                let slot = slots.nth(released.len());
                released.extend(self.reopen_item(&id, &[DeliveryStatus::Held], slot).await?);
            }
            held::delete_marker(&self.db, &marker).await?;
        }
        Ok(released)
    }

    async fn cancel_held(&self, webhook: &WebhookId, reason: &str, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut cancelled = 0;
        loop {
            let markers = held::oldest(&self.db, webhook, 100).await?;
            if markers.is_empty() {
                return Ok(cancelled);
            }
            for marker in markers {
                if let Some(id) = held::delivery_of(&marker) {
                    cancelled += u64::from(self.cancel_item(&id, reason, at).await?);
                }
                held::delete_marker(&self.db, &marker).await?;
            }
        }
    }

    async fn acknowledge(&self, id: &DeliveryId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let request = self
            .update_if_status(
                id,
                recording_no_attempt("SET acknowledged_at = :at, updated_at = :at"),
                &[DeliveryStatus::Dead],
                " AND attribute_not_exists(acknowledged_at)",
            )
            .expression_attribute_values(":at", time(at))
            .return_values(ReturnValue::AllNew);
        let Some(item) = written(request.send().await)?.and_then(|output| output.attributes) else { return Ok(false) };
        self.expire_as(&item).await?;
        Ok(true)
    }

    async fn forget_event(&self, event: &EventId, at: DateTime<Utc>) -> Result<(), StoreError> {
        for id in self.ids_of_event(event).await? {
            self.cancel_item(&id, "event was erased", at).await?;
            self.clear_excerpts(&id).await?;
        }
        Ok(())
    }

    async fn reopen(&self, selection: &Reopen, at: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        match selection {
            Reopen::One(id) => {
                let closed: Vec<DeliveryStatus> = DeliveryStatus::ALL.into_iter().filter(|status| !status.is_open()).collect();
                Ok(self.reopen_item(id, &closed, at).await?.into_iter().collect())
            }
            Reopen::DeadOf { webhook, since } => {
                let mut reopened = Vec::new();
                for item in every_item(&self.db, &Walk::of_webhook(webhook.as_str(), *since)).await? {
                    if get_s(&item, "status")? == DeliveryStatus::Dead.as_str() {
                        reopened.extend(self.reopen_item(&from_item(&item)?.id, &[DeliveryStatus::Dead], at).await?);
                    }
                }
                Ok(reopened)
            }
        }
    }

    async fn cancel_open_for(&self, webhook: &WebhookId, reason: &str, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut cancelled = 0;
        for item in every_item(&self.db, &Walk::of_webhook(webhook.as_str(), None)).await? {
            let delivery = from_item(&item)?;
            if delivery.status.is_unfinished() && self.cancel_item(&delivery.id, reason, at).await? {
                cancelled += 1;
            }
        }
        Ok(cancelled)
    }
}
