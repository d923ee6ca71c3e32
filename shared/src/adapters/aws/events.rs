//! `EventStore` over DynamoDB: `EVT#<id>` items written once with a conditional put, and
//! nothing else: the table's stream fans out what is recorded (`FanOut::FromStream`). Events
//! written by earlier versions, which fanned out inline, may still sit in the sparse `GSI1`
//! partition `UNFANNED` (sharded by event id, or unsharded before that) until marked; they
//! are still read and marked.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::Utc;

use super::item::{Item, expiry, get_s, get_time, is_live, key, n, opt_s, put_opt, s, time};
use super::reads::{get_item, index_items};
use super::shards::{UNFANNED_SHARDS, every_shard};
use super::{Dynamo, condition_failed, store_error, written};
use crate::domain::event::{Event, EventType};
use crate::domain::ids::EventId;
use crate::domain::retention::RetentionPolicy;
use crate::domain::trace::TraceContext;
use crate::ports::{EventStore, FanOut, Recorded, StoreError};
use futures_util::future::join_all;

/// How many writes a batch of events sends at once.
const CONCURRENT: usize = 25;

/// The `GSI1` partition of events earlier versions had not fanned out yet, before sharding.
const UNFANNED: &str = "UNFANNED";

pub struct DynamoDbEventStore {
    db: Dynamo,
    retention: RetentionPolicy,
}

impl DynamoDbEventStore {
    /// Events expire (TTL) their type's retention after they were recorded.
    pub fn new(db: Dynamo, retention: RetentionPolicy) -> Self {
        Self { db, retention }
    }

    fn item(&self, event: &Event) -> Item {
        // Counted from when Hookline received it: a publisher's old timestamp must not expire it at once.
        event_item(event, expiry(Utc::now(), self.retention.for_type(event.event_type.as_str())))
    }

    /// Puts the event unless its id is taken; `Err` with what holds it otherwise.
    async fn put_new(&self, event: &Event) -> Result<Result<(), Option<Item>>, StoreError> {
        let result = self
            .db
            .client
            .put_item()
            .table_name(&*self.db.table)
            .set_item(Some(self.item(event)))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(error) if condition_failed(&error) => Ok(Err(match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(e)) => e.item().cloned(),
                _ => None,
            })),
            Err(error) => Err(store_error(error)),
        }
    }

    /// Deletes the event `id` if it has expired (TTL had not got to it yet).
    async fn delete_expired(&self, id: &EventId) -> Result<(), StoreError> {
        let result = self
            .db
            .client
            .delete_item()
            .table_name(&*self.db.table)
            .set_key(Some(key(format!("EVT#{id}"), "META")))
            .condition_expression("expires_at < :now")
            .expression_attribute_values(":now", n(Utc::now().timestamp()))
            .send()
            .await;
        written(result).map(|_| ())
    }

    async fn load(&self, id: &EventId) -> Result<Option<Item>, StoreError> {
        Ok(self.load_any(id).await?.filter(|item| is_live(item, Utc::now())))
    }

    /// The stored item, expired or not.
    async fn load_any(&self, id: &EventId) -> Result<Option<Item>, StoreError> {
        get_item(&self.db, key(format!("EVT#{id}"), "META")).await
    }
}

/// An event as stored.
fn event_item(event: &Event, expires_at: AttributeValue) -> Item {
    let mut item = key(format!("EVT#{}", event.id), "META");
    item.insert("event_type".into(), s(event.event_type.as_str()));
    item.insert("occurred_at".into(), time(event.occurred_at));
    item.insert("body".into(), s(&event.body));
    item.insert("fingerprint".into(), s(&event.fingerprint));
    put_opt(&mut item, "trace", event.trace.map(|trace| s(trace.to_string())));
    item.insert("expires_at".into(), expires_at);
    item
}

fn existing(stored: &Item, event: &Event) -> Result<Recorded, StoreError> {
    Ok(Recorded::Existing { fanned_out: !stored.contains_key("GSI1PK"), same_content: get_s(stored, "fingerprint")? == event.fingerprint })
}

/// Two publishers raced for the id of an expired event and neither result can be read back.
fn taken(event: &Event) -> StoreError {
    StoreError::Backend(format!("event {} changed while it was being recorded; publish it again", event.id).into())
}

pub(super) fn read_event(item: &Item) -> Result<Event, StoreError> {
    let corrupt = |what: &str| StoreError::Backend(format!("stored event {what} does not parse").into());
    let event_type = EventType::from_stored(get_s(item, "event_type")?).ok_or_else(|| corrupt("type"))?;
    let id = get_s(item, "PK")?.trim_start_matches("EVT#");
    Ok(Event {
        id: EventId::parse(id).map_err(|_| corrupt("id"))?,
        event_type,
        occurred_at: get_time(item, "occurred_at")?,
        body: get_s(item, "body")?.to_owned(),
        fingerprint: get_s(item, "fingerprint")?.to_owned(),
        trace: opt_s(item, "trace").as_deref().and_then(TraceContext::parse),
    })
}

#[async_trait]
impl EventStore for DynamoDbEventStore {
    fn fan_out(&self) -> FanOut {
        FanOut::FromStream
    }

    /// A conditional put. An expired event that TTL has not deleted yet no longer counts: it
    /// is deleted first, so that the new one is inserted (the stream fans out inserts only).
    async fn record(&self, event: &Event) -> Result<Recorded, StoreError> {
        // Twice at most: once more after deleting an expired holder.
        for _ in 0..2 {
            let stored = match self.put_new(event).await? {
                Ok(()) => return Ok(Recorded::New),
                Err(Some(stored)) => stored,
                Err(None) => match self.load_any(&event.id).await? {
                    Some(stored) => stored,
                    None => continue,
                },
            };
            if is_live(&stored, Utc::now()) {
                return existing(&stored, event);
            }
            self.delete_expired(&event.id).await?;
        }
        Err(taken(event))
    }

    /// Each event with its own conditional put, up to `CONCURRENT` at once: a transaction
    /// would bill every put twice, and nothing needs the batch to be all or nothing (a retried
    /// batch finds the events it recorded and treats them as duplicates).
    async fn record_all(&self, events: &[Event]) -> Result<Vec<Recorded>, StoreError> {
        let mut recorded = Vec::with_capacity(events.len());
        for chunk in events.chunks(CONCURRENT) {
            for one in join_all(chunk.iter().map(|event| self.record(event))).await {
                recorded.push(one?);
            }
        }
        Ok(recorded)
    }

    /// One plain update per event, up to `CONCURRENT` at once (not a transaction, which would
    /// bill each twice).
    async fn mark_all_fanned_out(&self, ids: &[EventId]) -> Result<(), StoreError> {
        for chunk in ids.chunks(CONCURRENT) {
            join_all(chunk.iter().map(|id| self.mark_fanned_out(id))).await.into_iter().collect::<Result<Vec<_>, _>>()?;
        }
        Ok(())
    }

    async fn mark_fanned_out(&self, id: &EventId) -> Result<(), StoreError> {
        let result = self
            .db
            .client
            .update_item()
            .table_name(&*self.db.table)
            .set_key(Some(key(format!("EVT#{id}"), "META")))
            .update_expression("REMOVE GSI1PK, GSI1SK")
            .condition_expression("attribute_exists(PK)")
            .send()
            .await;
        written(result).map(|_| ())
    }

    async fn get(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        self.load(id).await?.as_ref().map(read_event).transpose()
    }

    async fn unfanned(&self) -> Result<Vec<Event>, StoreError> {
        let shards = join_all(
            every_shard(UNFANNED, UNFANNED_SHARDS)
                .into_iter()
                .map(|key| async move { index_items(&self.db, "GSI1", "GSI1PK", &key).await }),
        );
        let items = shards.await.into_iter().collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect::<Vec<_>>();
        items.iter().filter(|item| is_live(item, Utc::now())).map(read_event).collect()
    }

    async fn erase(&self, id: &EventId) -> Result<(), StoreError> {
        let Some(stored) = self.load(id).await? else { return Err(StoreError::NotFound) };
        let marker = Event::erased_body(id, get_s(&stored, "event_type")?);
        let result = self
            .db
            .client
            .update_item()
            .table_name(&*self.db.table)
            .set_key(Some(key(format!("EVT#{id}"), "META")))
            .update_expression("SET body = :marker")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":marker", s(marker))
            .send()
            .await;
        written(result)?.map(|_| ()).ok_or(StoreError::NotFound)
    }
}
