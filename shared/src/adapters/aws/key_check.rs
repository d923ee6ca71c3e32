//! Where DynamoDB keeps the secret-key check (`META`/`KEY_CHECK`; the check itself is
//! `adapters::key_check`). A cold start reads it (one `GetItem`) and writes only when there is
//! none yet.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::item::{Item, get_s, key, s};
use super::reads::get_item;
use super::{Dynamo, condition_failed, store_error};
use crate::adapters::key_check::KeyCheckStore;
use crate::ports::StoreError;

#[async_trait::async_trait]
impl KeyCheckStore for Dynamo {
    async fn stored_or_insert(&self, fresh: String) -> Result<String, StoreError> {
        let stored = match get_item(self, key("META".into(), "KEY_CHECK")).await? {
            Some(stored) => stored,
            None => match store_check(self, &fresh).await? {
                Some(stored) => stored,
                None => return Ok(fresh),
            },
        };
        Ok(get_s(&stored, "value")?.to_owned())
    }
}

/// Stores this key's check; returns the check another cold start stored first, if one did.
async fn store_check(db: &Dynamo, fresh: &str) -> Result<Option<Item>, StoreError> {
    let mut item = key("META".into(), "KEY_CHECK");
    item.insert("value".into(), s(fresh.to_owned()));
    let result = db
        .client
        .put_item()
        .table_name(&*db.table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    match result {
        Ok(_) => Ok(None),
        Err(error) if condition_failed(&error) => match error.into_service_error() {
            PutItemError::ConditionalCheckFailedException(failed) => Ok(Some(failed.item.unwrap_or_default())),
            _ => Err(StoreError::Backend("the key check could not be read".into())),
        },
        Err(error) => Err(store_error(error)),
    }
}
