//! `SubscriptionStore` over DynamoDB. Each webhook is one item (`WH#<id>`), plus one index item
//! per catalog event type it wants (`TYPE#<event type>`, in any state: fan-out holds what an
//! inactive one gets), written in the same transaction. Fan-out is then a single strongly
//! consistent `Query` of one partition. Health lives in the webhook's item only (`health_item`).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, ReturnValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::batch::{Transacted, transact};
use super::cursor::{Cursors, position_of, start_key};
use super::health_item::{health_of, update_for};
use super::item::{Item, get_s, key, s};
use super::reads::{get_item, items_of, query_all};
use super::webhook_item::{from_doc, to_doc};
use super::{Dynamo, page_size, store_error, written};
use crate::adapters::cipher::SecretCipher;
use crate::domain::catalog;
use crate::domain::filter::any_matches;
use crate::domain::health::{Health, HealthChange};
use crate::domain::ids::WebhookId;
use crate::domain::webhook::Webhook;
use crate::ports::{Page, StateChange, StoreError, SubscriptionStore, WebhookFilter};

const LIST_KEYS: [&str; 4] = ["PK", "SK", "GSI1PK", "GSI1SK"];

/// The partition keeping the id of every deleted webhook (`SK = WH#<id>`), so an event's
/// erasure still finds the deliveries they had (see `webhook_ids_ever`).
const DELETED: &str = "WEBHOOKS_DELETED";

pub struct DynamoDbSubscriptionStore {
    db: Dynamo,
    cipher: Arc<SecretCipher>,
    cursors: Cursors,
}

impl DynamoDbSubscriptionStore {
    pub fn new(db: Dynamo, cipher: Arc<SecretCipher>) -> Self {
        Self { db, cursors: Cursors::new(cipher.clone()), cipher }
    }

    async fn load(&self, id: &WebhookId) -> Result<Option<(Webhook, String)>, StoreError> {
        let Some(item) = get_item(&self.db, key(format!("WH#{id}"), "META")).await? else { return Ok(None) };
        let doc = get_s(&item, "doc")?;
        Ok(Some((self.webhook_of(&item)?, doc.to_owned())))
    }

    /// A webhook from its own item: the document and the health beside it.
    fn webhook_of(&self, item: &Item) -> Result<Webhook, StoreError> {
        Ok(Webhook { health: health_of(item)?, ..from_doc(get_s(item, "doc")?, &self.cipher)? })
    }

    /// Writes `webhook` and brings its index items from `before`'s types to its own. `before`
    /// comes with the document it was read from: the write holds only if nobody changed the
    /// webhook since (optimistic locking), so concurrent updates cannot leave stale index items.
    async fn save(&self, webhook: &Webhook, before: Option<(&Webhook, &str)>) -> Result<(), StoreError> {
        let doc = to_doc(webhook, &self.cipher);
        let mut writes = vec![match before {
            None => put_new(&self.db, webhook_item(webhook, &doc))?,
            Some((_, expected)) => update_doc(&self.db, &webhook.id, &doc, expected)?,
        }];
        let (old, new) = (before.map(|(webhook, _)| indexed_types(webhook)).unwrap_or_default(), indexed_types(webhook));
        for event_type in old.difference(&new) {
            writes.push(delete(&self.db, index_key(event_type, &webhook.id))?);
        }
        for event_type in &new {
            writes.push(put_plain(&self.db, index_item(event_type, &webhook.id, &doc))?);
        }
        self.transact(writes).await
    }

    /// A webhook's writes, all or nothing; cancelled when its condition did not hold (or a
    /// concurrent transaction touched the same items), which the caller may retry.
    async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        match transact(&self.db, writes).await? {
            Transacted::Written => Ok(()),
            Transacted::Cancelled => {
                Err(StoreError::Conflict("the webhook exists already, or changed while this change was made; retry".into()))
            }
        }
    }
}

/// Every webhook id that may have deliveries: the webhooks there are (their listing's index
/// entries) and the deleted ones.
pub(super) async fn webhook_ids_ever(db: &Dynamo) -> Result<Vec<WebhookId>, StoreError> {
    let there = query_all(db, Some("GSI1"), "GSI1PK", "WEBHOOKS").await?;
    let deleted = query_all(db, None, "PK", DELETED).await?;
    let named = there.iter().map(|entry| get_s(entry, "PK")).chain(deleted.iter().map(|entry| get_s(entry, "SK")));
    Ok(named.filter_map(|name| WebhookId::parse(name.ok()?.strip_prefix("WH#")?)).collect())
}

/// The catalog types a webhook is indexed under.
fn indexed_types(webhook: &Webhook) -> BTreeSet<&'static str> {
    catalog::subscribable().map(|info| info.event_type.as_str()).filter(|name| any_matches(&webhook.events, name)).collect()
}

fn webhook_item(webhook: &Webhook, doc: &str) -> Item {
    let mut item = key(format!("WH#{}", webhook.id), "META");
    item.insert("GSI1PK".into(), s("WEBHOOKS"));
    item.insert("GSI1SK".into(), s(format!("{}#{}", webhook.created_at.timestamp_millis(), webhook.id)));
    item.insert("doc".into(), s(doc));
    item
}

fn index_key(event_type: &str, id: &WebhookId) -> Item {
    key(format!("TYPE#{event_type}"), &format!("WH#{id}"))
}

fn index_item(event_type: &str, id: &WebhookId, doc: &str) -> Item {
    let mut item = index_key(event_type, id);
    item.insert("doc".into(), s(doc));
    item
}

/// A put of a new webhook's own item. Index items are put without a condition.
fn put_new(db: &Dynamo, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder().table_name(&*db.table).set_item(Some(item)).condition_expression("attribute_not_exists(PK)");
    Ok(TransactWriteItem::builder().put(put.build().map_err(store_error)?).build())
}

/// Replaces the document of a webhook whose document is exactly `expected`, leaving its
/// health attributes as they are.
fn update_doc(db: &Dynamo, id: &WebhookId, doc: &str, expected: &str) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(&*db.table)
        .set_key(Some(key(format!("WH#{id}"), "META")))
        .update_expression("SET doc = :doc")
        .condition_expression("doc = :expected")
        .expression_attribute_values(":doc", s(doc))
        .expression_attribute_values(":expected", s(expected));
    Ok(TransactWriteItem::builder().update(update.build().map_err(store_error)?).build())
}

/// A put without a condition.
fn put_plain(db: &Dynamo, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder().table_name(&*db.table).set_item(Some(item)).build().map_err(store_error)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn delete(db: &Dynamo, key: Item) -> Result<TransactWriteItem, StoreError> {
    let delete = Delete::builder().table_name(&*db.table).set_key(Some(key)).build().map_err(store_error)?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

#[async_trait]
impl SubscriptionStore for DynamoDbSubscriptionStore {
    async fn insert(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.save(webhook, None).await
    }

    async fn get(&self, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        Ok(self.load(id).await?.map(|(webhook, _)| webhook))
    }

    async fn list(&self, filter: &WebhookFilter) -> Result<Page<Webhook>, StoreError> {
        let mut start = self.cursors.open_opt("webhooks", filter.cursor.as_deref())?;
        let (mut items, mut last) = (Vec::new(), None);
        loop {
            let output = self
                .db
                .client
                .query()
                .table_name(&*self.db.table)
                .index_name("GSI1")
                .key_condition_expression("GSI1PK = :pk")
                .expression_attribute_values(":pk", s("WEBHOOKS"))
                .set_exclusive_start_key(start.as_ref().map(|p| start_key(p, &LIST_KEYS)))
                .limit(page_size(filter.limit))
                .send()
                .await
                .map_err(store_error)?;
            // The index holds keys only: the webhooks themselves come from the table.
            for item in &items_of(&self.db, output.items()).await? {
                let webhook = self.webhook_of(item)?;
                let wanted = filter.is_active.is_none_or(|active| webhook.is_active() == active)
                    && filter.event_type.as_deref().is_none_or(|t| any_matches(&webhook.events, t));
                if !wanted {
                    continue;
                }
                if items.len() == filter.limit {
                    return Ok(Page { items, next_cursor: last.map(|p| self.cursors.seal("webhooks", &p)) });
                }
                items.push(webhook);
                last = Some(position_of(item, &LIST_KEYS));
            }
            match output.last_evaluated_key() {
                Some(key) => start = Some(position_of(key, &LIST_KEYS)),
                None => return Ok(Page { items, next_cursor: None }),
            }
        }
    }

    async fn replace(&self, webhook: &Webhook) -> Result<(), StoreError> {
        let Some((before, doc)) = self.load(&webhook.id).await? else { return Err(StoreError::NotFound) };
        match self.save(webhook, Some((&before, &doc))).await {
            Err(StoreError::Conflict(_)) if self.load(&webhook.id).await?.is_none() => Err(StoreError::NotFound),
            other => other,
        }
    }

    async fn delete(&self, id: &WebhookId) -> Result<(), StoreError> {
        if self.load(id).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        // Whatever the webhook became meanwhile, its index items are among the catalog's types,
        // and deleting one that does not exist is harmless.
        let mut writes = vec![delete(&self.db, key(format!("WH#{id}"), "META"))?];
        for event_type in catalog::subscribable().map(|info| info.event_type.as_str()) {
            writes.push(delete(&self.db, index_key(event_type, id))?);
        }
        writes.push(put_plain(&self.db, key(DELETED.into(), &format!("WH#{id}")))?);
        self.transact(writes).await
    }

    async fn matching(&self, event_type: &str) -> Result<Vec<Webhook>, StoreError> {
        let items = query_all(&self.db, None, "PK", &format!("TYPE#{event_type}")).await?;
        items.iter().map(|item| from_doc(get_s(item, "doc")?, &self.cipher)).collect()
    }

    async fn transition(&self, id: &WebhookId, change: &StateChange) -> Result<Option<Webhook>, StoreError> {
        // A concurrent change must not undo a transition (a 410): read again and retry.
        for _ in 0..5 {
            let Some((before, doc)) = self.load(id).await? else { return Ok(None) };
            if !change.from.contains(&before.state) {
                return Ok(None);
            }
            let mut after = before.clone();
            after.state = change.to;
            after.disabled_reason = change.reason.clone();
            after.state_changed_at = change.at;
            after.updated_at = change.at;
            match self.save(&after, Some((&before, &doc))).await {
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other),
                Ok(()) => return Ok(Some(after)),
            }
        }
        Err(StoreError::Conflict("the webhook kept changing while its state was being changed".into()))
    }

    async fn record_health(&self, id: &WebhookId, change: &HealthChange, at: DateTime<Utc>) -> Result<Option<Health>, StoreError> {
        let (expression, values) = update_for(change, at);
        let mut request = self
            .db
            .client
            .update_item()
            .table_name(&*self.db.table)
            .set_key(Some(key(format!("WH#{id}"), "META")))
            .update_expression(expression)
            .condition_expression("attribute_exists(PK)")
            .return_values(ReturnValue::AllNew);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        written(request.send().await)?.and_then(|output| output.attributes).as_ref().map(health_of).transpose()
    }
}
