//! The two reads every store needs: one item by key (strongly consistent), and every item of
//! one partition, of the table or of an index, following `LastEvaluatedKey` to the end.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::item::{Item, s};
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
