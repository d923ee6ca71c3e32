//! The secret-key check in DynamoDB: the first cold start stores a value sealed with the key
//! (`META`/`KEY_CHECK`); every later one must open it, so a function deployed with the wrong
//! key fails at once instead of when a delivery tries to sign. A cold start reads the check
//! (one `GetItem`) and writes only when there is none yet.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::item::{Item, get_s, key, s};
use super::reads::get_item;
use super::{Dynamo, condition_failed, store_error};
use crate::adapters::cipher::SecretCipher;
use crate::ports::StoreError;

pub async fn check_secret_key(db: &Dynamo, cipher: &SecretCipher) -> Result<(), StoreError> {
    let stored = match get_item(db, key("META".into(), "KEY_CHECK")).await? {
        Some(stored) => stored,
        None => match store_check(db, cipher).await? {
            Some(stored) => stored,
            None => return Ok(()),
        },
    };
    if cipher.verify_key_check(get_s(&stored, "value")?) {
        Ok(())
    } else {
        Err(StoreError::Conflict("the secret key does not match the one this table's secrets were sealed with".into()))
    }
}

/// Stores this key's check; returns the check another cold start stored first, if one did.
async fn store_check(db: &Dynamo, cipher: &SecretCipher) -> Result<Option<Item>, StoreError> {
    let mut item = key("META".into(), "KEY_CHECK");
    item.insert("value".into(), s(cipher.key_check()));
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
