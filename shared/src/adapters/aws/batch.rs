//! Writing many items in few requests: conditional puts and updates in `TransactWriteItems`
//! (up to 100 per request, all or nothing) and unconditional puts in `BatchWriteItem` (25 per
//! request, retrying what DynamoDB leaves unprocessed).

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{PutRequest, TransactWriteItem, WriteRequest};

use super::item::Item;
use super::{Dynamo, store_error};
use crate::ports::StoreError;

/// How a transaction ended.
pub enum Transacted {
    Written,
    /// A condition did not hold (or the items were busy): nothing was written.
    Cancelled,
}

pub async fn transact(db: &Dynamo, writes: Vec<TransactWriteItem>) -> Result<Transacted, StoreError> {
    match db.client.transact_write_items().set_transact_items(Some(writes)).send().await {
        Ok(_) => Ok(Transacted::Written),
        Err(error) if matches!(error.as_service_error(), Some(TransactWriteItemsError::TransactionCanceledException(_))) => {
            Ok(Transacted::Cancelled)
        }
        Err(error) => Err(store_error(error)),
    }
}

/// True when no two of `keys` are the same (one request may not touch an item twice).
pub fn all_distinct<'a>(keys: impl IntoIterator<Item = &'a str>) -> bool {
    let mut seen = HashSet::new();
    keys.into_iter().all(|key| seen.insert(key))
}

/// Puts every item, 25 per request; items DynamoDB leaves unprocessed are sent again.
pub async fn put_all(db: &Dynamo, items: Vec<Item>) -> Result<(), StoreError> {
    for chunk in items.chunks(25) {
        let mut pending: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                Ok(WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item.clone())).build().map_err(store_error)?)
                    .build())
            })
            .collect::<Result<_, StoreError>>()?;
        let mut backoff = Duration::from_millis(50);
        for _ in 0..8 {
            let output = db.client.batch_write_item().request_items(db.table.to_string(), pending).send().await.map_err(store_error)?;
            pending = output.unprocessed_items().and_then(|left| left.get(&*db.table)).cloned().unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        if !pending.is_empty() {
            return Err(StoreError::Backend(format!("DynamoDB left {} writes unprocessed", pending.len()).into()));
        }
    }
    Ok(())
}
