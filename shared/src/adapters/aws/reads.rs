//! The reads every store needs: one item by key (strongly consistent), every item of one
//! partition of the table or of an index, following `LastEvaluatedKey` to the end, and the
//! items an index's entries name. The indexes project keys only (an attempt, a health change
//! or a state change then rewrites the item alone, not a copy in each index), so whatever is
//! listed through an index is read from the table by key afterwards.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::item::{Item, get_s, key, s};
use super::{Dynamo, store_error};
use crate::ports::StoreError;

pub async fn get_item(db: &Dynamo, key: Item) -> Result<Option<Item>, StoreError> {
    let output = db.client.get_item().table_name(&*db.table).set_key(Some(key)).consistent_read(true).send().await.map_err(store_error)?;
    Ok(output.item)
}

/// Every item whose partition key `pk_name` (in `index`, or the table) equals `value`.
pub async fn query_all(db: &Dynamo, index: Option<&str>, pk_name: &str, value: &str) -> Result<Vec<Item>, StoreError> {
    query_pages(db, |query| {
        query
            .set_index_name(index.map(String::from))
            .key_condition_expression(format!("{pk_name} = :pk"))
            .expression_attribute_values(":pk", s(value))
            // Indexes are eventually consistent; the table's own partitions are read consistently.
            .consistent_read(index.is_none())
    })
    .await
}

/// Every item of `index`'s partition `value` (of `pk_name`), read whole from the table.
pub async fn index_items(db: &Dynamo, index: &str, pk_name: &str, value: &str) -> Result<Vec<Item>, StoreError> {
    items_of(db, &query_all(db, Some(index), pk_name, value).await?).await
}

/// The table's items that `entries` (index entries, or any items carrying `PK` and `SK`) name,
/// in the same order, 100 keys per `BatchGetItem`; an item deleted since its entry was read is
/// left out. Reads are eventually consistent, as the index the entries came from is.
pub async fn items_of(db: &Dynamo, entries: &[Item]) -> Result<Vec<Item>, StoreError> {
    let mut seen = HashSet::new();
    let keys: Vec<(String, String)> = entries
        .iter()
        .map(|entry| Ok((get_s(entry, "PK")?.to_owned(), get_s(entry, "SK")?.to_owned())))
        .collect::<Result<Vec<_>, StoreError>>()?
        .into_iter()
        .filter(|key| seen.insert(key.clone()))
        .collect();
    let mut found = std::collections::HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(100) {
        for item in batch_get(db, chunk).await? {
            found.insert((get_s(&item, "PK")?.to_owned(), get_s(&item, "SK")?.to_owned()), item);
        }
    }
    Ok(keys.iter().filter_map(|key| found.remove(key)).collect())
}

/// Up to 100 items by key; keys DynamoDB leaves unprocessed are asked for again.
async fn batch_get(db: &Dynamo, keys: &[(String, String)]) -> Result<Vec<Item>, StoreError> {
    let mut pending: Vec<Item> = keys.iter().map(|(pk, sk)| key(pk.clone(), sk)).collect();
    let (mut items, mut backoff) = (Vec::with_capacity(keys.len()), Duration::from_millis(50));
    for _ in 0..8 {
        let request = KeysAndAttributes::builder().set_keys(Some(pending)).build().map_err(store_error)?;
        let output = db.client.batch_get_item().request_items(db.table.to_string(), request).send().await.map_err(store_error)?;
        items.extend(output.responses().and_then(|tables| tables.get(&*db.table)).into_iter().flatten().cloned());
        pending = output.unprocessed_keys().and_then(|left| left.get(&*db.table)).map(|left| left.keys().to_vec()).unwrap_or_default();
        if pending.is_empty() {
            return Ok(items);
        }
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
    Err(StoreError::Backend(format!("DynamoDB left {} reads unprocessed", pending.len()).into()))
}

/// Every item of the query `shape` builds (on the table; it sets all but the start key),
/// following `LastEvaluatedKey` to the end.
pub async fn query_pages(db: &Dynamo, shape: impl Fn(QueryFluentBuilder) -> QueryFluentBuilder) -> Result<Vec<Item>, StoreError> {
    let (mut items, mut start) = (Vec::new(), None);
    loop {
        let output = shape(db.client.query().table_name(&*db.table)).set_exclusive_start_key(start).send().await.map_err(store_error)?;
        items.extend(output.items().iter().cloned());
        start = output.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(items);
        }
    }
}
