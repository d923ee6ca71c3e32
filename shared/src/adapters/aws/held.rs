//! Held deliveries in DynamoDB: beside each held delivery item, a marker `HELD#<webhook>` /
//! `<created>#<delivery id>`, so a webhook's held deliveries are one `Query`, oldest first,
//! however many others it has. A marker is written with its delivery (in one request, or one
//! transaction when an open delivery is held) and deleted when the delivery is released or
//! found no longer held; markers share their delivery's expiry.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::Duration;

use super::delivery_item::created_key;
use super::item::{Item, expiry, get_s, key, s};
use super::{Dynamo, store_error};
use crate::domain::delivery::Delivery;
use crate::domain::ids::{DeliveryId, WebhookId};
use crate::ports::StoreError;

fn partition(webhook: &WebhookId) -> String {
    format!("HELD#{webhook}")
}

pub fn marker(delivery: &Delivery, retention: Duration) -> Item {
    let mut item = key(partition(&delivery.webhook_id), &created_key(delivery.created_at, &delivery.id));
    item.insert("expires_at".into(), expiry(delivery.created_at, retention));
    item
}

pub fn put_marker(db: &Dynamo, delivery: &Delivery, retention: Duration) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder().table_name(&*db.table).set_item(Some(marker(delivery, retention))).build().map_err(store_error)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The delivery a marker stands for.
pub fn delivery_of(marker: &Item) -> Option<DeliveryId> {
    let sort = get_s(marker, "SK").ok()?;
    DeliveryId::parse(sort.rsplit('#').next()?)
}

/// Up to `limit` of a webhook's markers, oldest first.
pub async fn oldest(db: &Dynamo, webhook: &WebhookId, limit: usize) -> Result<Vec<Item>, StoreError> {
    let output = db
        .client
        .query()
        .table_name(&*db.table)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", s(partition(webhook)))
        .consistent_read(true)
        .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
        .send()
        .await
        .map_err(store_error)?;
    Ok(output.items().to_vec())
}

pub async fn delete_marker(db: &Dynamo, marker: &Item) -> Result<(), StoreError> {
    let key = [("PK", marker.get("PK")), ("SK", marker.get("SK"))]
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_owned(), value?.clone())))
        .collect();
    db.client.delete_item().table_name(&*db.table).set_key(Some(key)).send().await.map_err(store_error)?;
    Ok(())
}
