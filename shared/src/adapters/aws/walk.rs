//! Listing deliveries newest first across one or more index partitions (a webhook's, or the
//! day partitions of all deliveries), filtered, in pages with sealed cursors.

use chrono::{DateTime, Duration, Utc};

use super::cursor::{Cursors, Position, position_of, start_key};
use super::delivery_item::{day_partition, from_item};
use super::item::{Item, is_live, s};
use super::{Dynamo, page_size, store_error};
use crate::domain::delivery::Delivery;
use crate::domain::event::format_timestamp;
use crate::ports::{DeliveryFilter, Page, StoreError};

/// Which index partitions hold the deliveries, in the order to walk them.
pub struct Walk {
    pub index: &'static str,
    pub partitions: Vec<String>,
    /// Only items whose sort key is at or after this (creation time).
    pub since: Option<DateTime<Utc>>,
}

impl Walk {
    /// A webhook's deliveries.
    pub fn of_webhook(webhook: &str, since: Option<DateTime<Utc>>) -> Self {
        Self { index: "GSI2", partitions: vec![format!("WHD#{webhook}")], since }
    }

    /// All deliveries, day by day from today back to `since` or to the start of retention.
    pub fn all(now: DateTime<Utc>, since: Option<DateTime<Utc>>, retention: Duration) -> Self {
        Self { index: "GSI1", partitions: days_between(since.unwrap_or(now - retention), now), since }
    }

    /// The index's key attributes, then the table's: what a position needs to resume.
    fn keys(&self) -> [&'static str; 4] {
        let [pk, sk] = self.index_keys();
        ["PK", "SK", pk, sk]
    }

    fn index_keys(&self) -> [&'static str; 2] {
        if self.index == "GSI1" { ["GSI1PK", "GSI1SK"] } else { ["GSI2PK", "GSI2SK"] }
    }

    fn scope(&self) -> String {
        format!("deliveries:{}", self.partitions.first().map_or("", String::as_str))
    }
}

/// Day partitions from `to`'s day back to `from`'s day, newest first.
pub fn days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let mut days = Vec::new();
    let mut day = to;
    while day.date_naive() >= from.date_naive() && days.len() < 400 {
        days.push(day_partition(day));
        day -= Duration::days(1);
    }
    days
}

/// One query of one partition, newest first, from `start`.
pub async fn query(
    db: &Dynamo,
    walk: &Walk,
    partition: &str,
    start: Option<Item>,
    limit: i32,
) -> Result<(Vec<Item>, Option<Item>), StoreError> {
    let [pk, sk] = walk.index_keys();
    let mut request = db
        .client
        .query()
        .table_name(&*db.table)
        .index_name(walk.index)
        .scan_index_forward(false)
        .expression_attribute_values(":pk", s(partition))
        .set_exclusive_start_key(start)
        .limit(limit);
    request = match walk.since {
        Some(since) => request
            .key_condition_expression(format!("{pk} = :pk AND {sk} >= :since"))
            .expression_attribute_values(":since", s(format_timestamp(since))),
        None => request.key_condition_expression(format!("{pk} = :pk")),
    };
    let output = request.send().await.map_err(store_error)?;
    Ok((output.items().to_vec(), output.last_evaluated_key().cloned()))
}

/// Every live item of the walk, unpaged (health figures, bulk changes).
pub async fn every_item(db: &Dynamo, walk: &Walk) -> Result<Vec<Item>, StoreError> {
    let mut all = every_stored_item(db, walk).await?;
    all.retain(|item| is_live(item, Utc::now()));
    Ok(all)
}

/// Every item of the walk, expired ones included (what a purge deletes before TTL does).
pub async fn every_stored_item(db: &Dynamo, walk: &Walk) -> Result<Vec<Item>, StoreError> {
    let mut all = Vec::new();
    for partition in &walk.partitions {
        let mut start = None;
        loop {
            let (items, next) = query(db, walk, partition, start, 1000).await?;
            all.extend(items);
            start = next;
            if start.is_none() {
                break;
            }
        }
    }
    Ok(all)
}

fn wanted(delivery: &Delivery, filter: &DeliveryFilter) -> bool {
    filter.status.is_none_or(|status| delivery.status == status) && filter.event_type.as_deref().is_none_or(|t| delivery.event_type == t)
}

/// One page of the walk's deliveries that pass `filter`.
pub async fn page(db: &Dynamo, cursors: &Cursors, walk: &Walk, filter: &DeliveryFilter) -> Result<Page<Delivery>, StoreError> {
    let scope = walk.scope();
    let keys = walk.keys();
    let (mut part, mut start) = match cursors.open_opt(&scope, filter.cursor.as_deref())? {
        Some(position) => {
            let at = position.get("part").and_then(|p| walk.partitions.iter().position(|q| q == p)).ok_or(StoreError::InvalidCursor)?;
            (at, Some(start_key(&position, &keys)))
        }
        None => (0, None),
    };
    let (mut items, mut last): (Vec<Delivery>, Option<Position>) = (Vec::new(), None);
    while let Some(partition) = walk.partitions.get(part) {
        let (found, next) = query(db, walk, partition, start, page_size(filter.limit)).await?;
        for item in found.iter().filter(|item| is_live(item, Utc::now())) {
            let delivery = from_item(item)?;
            if !wanted(&delivery, filter) {
                continue;
            }
            if items.len() == filter.limit {
                return Ok(Page { items, next_cursor: last.map(|p| cursors.seal(&scope, &p)) });
            }
            items.push(delivery);
            let mut position = position_of(item, &keys);
            position.insert("part".into(), partition.clone());
            last = Some(position);
        }
        start = next;
        if start.is_none() {
            part += 1;
        }
    }
    Ok(Page { items, next_cursor: None })
}
