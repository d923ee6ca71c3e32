//! Listing deliveries newest first: a webhook's (its `GSI2` shards), or all of them day by day
//! (each day's `GSI1` shards), filtered, in pages with sealed cursors. A group of shards is read
//! as one (`merge`); a cursor is the group and the sort key of the last delivery given.

use chrono::{DateTime, Duration, Utc};

use super::Dynamo;
use super::cursor::{Cursors, Position};
use super::delivery_item::{day_partition, from_item, webhook_partition};
use super::item::{Item, is_live};
use super::merge::{Merge, Range, sort_key};
use super::shards::{SHARDS, every_shard};
use crate::domain::delivery::Delivery;
use crate::domain::event::format_timestamp;
use crate::ports::{DeliveryFilter, Page, StoreError};

/// Which index partitions hold the deliveries, in the order to walk them.
pub struct Walk {
    index: &'static str,
    /// Walked one after another (newest day first): a base key and the partitions it is
    /// sharded into.
    groups: Vec<(String, Vec<String>)>,
    /// Only items whose sort key is at or after this (creation time).
    since: Option<String>,
    scope: &'static str,
}

impl Walk {
    /// A webhook's deliveries.
    pub fn of_webhook(webhook: &str, since: Option<DateTime<Utc>>) -> Self {
        let base = webhook_partition(webhook);
        let shards = every_shard(&base, SHARDS);
        Self { index: "GSI2", groups: vec![(base, shards)], since: since.map(format_timestamp), scope: "deliveries:webhook" }
    }

    /// All deliveries, day by day from today back to `since` or to the start of retention.
    pub fn all(now: DateTime<Utc>, since: Option<DateTime<Utc>>, retention: Duration) -> Self {
        let mut walk = Self::days(since.unwrap_or(now - retention), now);
        walk.since = since.map(format_timestamp);
        walk
    }

    /// Every delivery created on the days from `from`'s to `to`'s, newest first.
    pub fn days(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let groups = days_between(from, to)
            .into_iter()
            .map(|day| {
                let shards = every_shard(&day, SHARDS);
                (day, shards)
            })
            .collect();
        Self { index: "GSI1", groups, since: None, scope: "deliveries:all" }
    }

    fn keys(&self) -> [&'static str; 2] {
        if self.index == "GSI1" { ["GSI1PK", "GSI1SK"] } else { ["GSI2PK", "GSI2SK"] }
    }

    fn range<'a>(&'a self, below: Option<&'a str>) -> Range<'a> {
        Range { index: self.index, keys: self.keys(), from: self.since.as_deref(), below }
    }

    /// The scope a cursor is sealed for: the listing, and for a webhook's, which webhook.
    fn scope(&self) -> String {
        format!("{}:{}", self.scope, self.groups.first().filter(|_| self.index == "GSI2").map_or("", |(base, _)| base.as_str()))
    }
}

/// Day partitions from `to`'s day back to `from`'s day, newest first.
fn days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let mut days = Vec::new();
    let mut day = to;
    while day.date_naive() >= from.date_naive() && days.len() < 400 {
        days.push(day_partition(day));
        day -= Duration::days(1);
    }
    days
}

/// Every live item of the walk, unpaged (health figures, bulk changes).
pub async fn every_item(db: &Dynamo, walk: &Walk) -> Result<Vec<Item>, StoreError> {
    let mut all = every_stored_item(db, walk).await?;
    all.retain(|item| is_live(item, Utc::now()));
    Ok(all)
}

/// Every item of the walk, expired ones included (what a purge deletes before TTL does), in no
/// particular order.
pub async fn every_stored_item(db: &Dynamo, walk: &Walk) -> Result<Vec<Item>, StoreError> {
    let mut all = Vec::new();
    for (_, partitions) in &walk.groups {
        let parts = futures_util::future::join_all(partitions.iter().map(|partition| whole_partition(db, walk, partition))).await;
        for items in parts {
            all.extend(items?);
        }
    }
    Ok(all)
}

async fn whole_partition(db: &Dynamo, walk: &Walk, partition: &str) -> Result<Vec<Item>, StoreError> {
    let mut merge = Merge::new(db, walk.range(None), std::slice::from_ref(&partition.to_owned()), 500);
    let mut items = Vec::new();
    while let Some(item) = merge.next().await? {
        items.push(item);
    }
    Ok(items)
}

fn wanted(delivery: &Delivery, filter: &DeliveryFilter) -> bool {
    filter.status.is_none_or(|status| delivery.status == status) && filter.event_type.as_deref().is_none_or(|t| delivery.event_type == t)
}

/// One page of the walk's deliveries that pass `filter`.
pub async fn page(db: &Dynamo, cursors: &Cursors, walk: &Walk, filter: &DeliveryFilter) -> Result<Page<Delivery>, StoreError> {
    let scope = walk.scope();
    let (first, mut below) = match cursors.open_opt(&scope, filter.cursor.as_deref())? {
        Some(position) => resume_at(walk, &position)?,
        None => (0, None),
    };
    let sort = walk.keys()[1];
    let (mut items, mut last): (Vec<Delivery>, Option<Position>) = (Vec::new(), None);
    for (base, partitions) in &walk.groups[first..] {
        let below_here = below.take();
        let mut merge = Merge::new(db, walk.range(below_here.as_deref()), partitions, filter.limit);
        while let Some(item) = merge.next().await? {
            if !is_live(&item, Utc::now()) {
                continue;
            }
            let delivery = from_item(&item)?;
            if !wanted(&delivery, filter) {
                continue;
            }
            if items.len() == filter.limit {
                return Ok(Page { items, next_cursor: last.map(|p| cursors.seal(&scope, &p)) });
            }
            items.push(delivery);
            last = Some(Position::from([("group".to_owned(), base.clone()), ("below".to_owned(), sort_key(&item, sort).to_owned())]));
        }
    }
    Ok(Page { items, next_cursor: None })
}

/// The group a cursor stopped in and the sort key to continue below.
fn resume_at(walk: &Walk, position: &Position) -> Result<(usize, Option<String>), StoreError> {
    let group = position.get("group").and_then(|base| walk.groups.iter().position(|(b, _)| b == base));
    match (group, position.get("below")) {
        (Some(group), Some(below)) => Ok((group, Some(below.clone()))),
        _ => Err(StoreError::InvalidCursor),
    }
}
