//! Listing deliveries newest first from the webhook index (`GSI2`, keys only): a webhook's
//! shards, or everyone's: the shards of every webhook there is or was, merged as one (`merge`).
//! A delivery has no other index entry, so each costs one index write; a listing of everyone's
//! costs a query per shard of every webhook. Filtered, in pages with sealed cursors; a cursor
//! is the sort key of the last delivery given.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream;

use super::Dynamo;
use super::cursor::{Cursors, Position};
use super::delivery_item::{from_item, webhook_partition};
use super::item::{Item, is_live};
use super::merge::{Merge, Range, sort_key};
use super::reads::items_of;
use super::shards::{SHARDS, every_shard};
use crate::domain::delivery::Delivery;
use crate::domain::event::format_timestamp;
use crate::domain::ids::WebhookId;
use crate::ports::{DeliveryFilter, Page, StoreError};

const KEYS: [&str; 2] = ["GSI2PK", "GSI2SK"];

/// Partitions read at once when a walk is read whole.
const CONCURRENT_PARTITIONS: usize = 16;

/// Which index partitions hold the deliveries.
pub struct Walk {
    partitions: Vec<String>,
    /// Only items whose sort key is at or after this (creation time).
    since: Option<String>,
    /// The listing a cursor is sealed for (and for a webhook's, which webhook).
    scope: String,
}

impl Walk {
    /// A webhook's deliveries.
    pub fn of_webhook(webhook: &str, since: Option<DateTime<Utc>>) -> Self {
        let base = webhook_partition(webhook);
        Self { partitions: every_shard(&base, SHARDS), since: since.map(format_timestamp), scope: format!("deliveries:webhook:{base}") }
    }

    /// Everyone's deliveries: those of `webhooks` (every webhook there is or was; one named twice
    /// is read once, so no delivery is listed twice).
    pub fn of_webhooks(webhooks: &[WebhookId], since: Option<DateTime<Utc>>) -> Self {
        let webhooks: BTreeSet<&WebhookId> = webhooks.iter().collect();
        let partitions = webhooks.into_iter().flat_map(|webhook| every_shard(&webhook_partition(webhook.as_str()), SHARDS)).collect();
        Self { partitions, since: since.map(format_timestamp), scope: "deliveries:all:".to_owned() }
    }

    fn range<'a>(&'a self, below: Option<&'a str>) -> Range<'a> {
        Range { index: "GSI2", keys: KEYS, from: self.since.as_deref(), below }
    }
}

/// Every live item of the walk, unpaged (bulk changes of a webhook's deliveries).
pub async fn every_item(db: &Dynamo, walk: &Walk) -> Result<Vec<Item>, StoreError> {
    let mut all = every_stored_item(db, walk).await?;
    all.retain(|item| is_live(item, Utc::now()));
    Ok(all)
}

/// Every item of the walk, expired ones included (what a purge deletes before TTL does), in no
/// particular order.
pub async fn every_stored_item(db: &Dynamo, walk: &Walk) -> Result<Vec<Item>, StoreError> {
    let reads: Vec<_> = walk.partitions.iter().map(|partition| whole_partition(db, walk, partition)).collect();
    let parts: Vec<_> = stream::iter(reads).buffer_unordered(CONCURRENT_PARTITIONS).collect().await;
    let mut all = Vec::new();
    for items in parts {
        all.extend(items?);
    }
    Ok(all)
}

async fn whole_partition(db: &Dynamo, walk: &Walk, partition: &str) -> Result<Vec<Item>, StoreError> {
    let mut merge = Merge::new(db, walk.range(None), std::slice::from_ref(&partition.to_owned()), 500);
    let mut entries = Vec::new();
    while let Some(entry) = merge.next().await? {
        entries.push(entry);
    }
    items_of(db, &entries).await
}

/// How many entries to read the items of next, when the page still needs `needed` deliveries.
fn chunk(filter: &DeliveryFilter, needed: usize) -> usize {
    if filter.status.is_some() || filter.event_type.is_some() { needed.max(100) } else { needed }
}

fn wanted(delivery: &Delivery, filter: &DeliveryFilter) -> bool {
    filter.status.is_none_or(|status| delivery.status == status) && filter.event_type.as_deref().is_none_or(|t| delivery.event_type == t)
}

/// One page of the walk's deliveries that pass `filter`. The items are read by key as many as
/// the page still needs at a time (and one more, to know whether another page follows), or a
/// hundred when a status or type filter may pass few of them.
pub async fn page(db: &Dynamo, cursors: &Cursors, walk: &Walk, filter: &DeliveryFilter) -> Result<Page<Delivery>, StoreError> {
    let below = resume_below(cursors, &walk.scope, filter.cursor.as_deref())?;
    let mut merge = Merge::new(db, walk.range(below.as_deref()), &walk.partitions, filter.limit);
    let (mut items, mut last): (Vec<Delivery>, Option<Position>) = (Vec::new(), None);
    loop {
        let entries = merge.take(chunk(filter, filter.limit + 1 - items.len())).await?;
        if entries.is_empty() {
            return Ok(Page { items, next_cursor: None });
        }
        for item in items_of(db, &entries).await? {
            if !is_live(&item, Utc::now()) {
                continue;
            }
            let delivery = from_item(&item)?;
            if !wanted(&delivery, filter) {
                continue;
            }
            if items.len() == filter.limit {
                return Ok(Page { items, next_cursor: last.map(|p| cursors.seal(&walk.scope, &p)) });
            }
            items.push(delivery);
            last = Some(Position::from([("below".to_owned(), sort_key(&item, KEYS[1]).to_owned())]));
        }
    }
}

/// The sort key a cursor says to continue below. Cursors of versions that listed everyone's
/// deliveries day by day also name the day (`group`): the sort key alone still places them.
fn resume_below(cursors: &Cursors, scope: &str, cursor: Option<&str>) -> Result<Option<String>, StoreError> {
    match cursors.open_opt(scope, cursor)? {
        Some(position) => position.get("below").cloned().map(Some).ok_or(StoreError::InvalidCursor),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::adapters::cipher::SecretCipher;

    #[test]
    fn a_cursor_of_the_day_by_day_listing_resumes_below_its_sort_key() {
        let cursors = Cursors::new(Arc::new(SecretCipher::new(&[7; 32]).unwrap()));
        let all = Walk::of_webhooks(&[], None);
        let below = "2026-12-05T10:00:00.000Z#dlv_1".to_owned();
        let old = Position::from([("group".to_owned(), "DAY#2026-12-05".to_owned()), ("below".to_owned(), below.clone())]);
        let sealed = cursors.seal(&all.scope, &old);
        assert_eq!(resume_below(&cursors, &all.scope, Some(&sealed)).unwrap(), Some(below));
        assert_eq!(resume_below(&cursors, &all.scope, None).unwrap(), None);
        let of_webhook = Walk::of_webhook("wh_1", None);
        assert!(matches!(resume_below(&cursors, &of_webhook.scope, Some(&sealed)), Err(StoreError::InvalidCursor)), "bound to its listing");
        let without = cursors.seal(&all.scope, &Position::new());
        assert!(matches!(resume_below(&cursors, &all.scope, Some(&without)), Err(StoreError::InvalidCursor)));
    }

    #[test]
    fn everyone_s_listing_reads_each_webhook_s_shards_once() {
        let (crm, noc) = (WebhookId::generate(1), WebhookId::generate(2));
        let walk = Walk::of_webhooks(&[crm.clone(), noc, crm], None);
        assert_eq!(walk.partitions.len(), 2 * (SHARDS as usize + 1), "every shard and the unsharded key, once per webhook");
    }
}
