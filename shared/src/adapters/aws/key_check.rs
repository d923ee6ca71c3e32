//! The secret-key check in DynamoDB: the first cold start stores a value sealed with the key
//! (`META`/`KEY_CHECK`); every later one must open it, so a function deployed with the wrong
//! key fails at once instead of when a delivery tries to sign.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::item::{get_s, key, s};
use super::{Dynamo, condition_failed, store_error};
use crate::adapters::cipher::SecretCipher;
use crate::ports::StoreError;

pub async fn check_secret_key(db: &Dynamo, cipher: &SecretCipher) -> Result<(), StoreError> {
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
    let stored = match result {
        Ok(_) => return Ok(()),
        Err(error) if condition_failed(&error) => match error.into_service_error() {
            PutItemError::ConditionalCheckFailedException(failed) => failed.item.unwrap_or_default(),
            _ => return Err(StoreError::Backend("the key check could not be read".into())),
        },
        Err(error) => return Err(store_error(error)),
    };
    if cipher.verify_key_check(get_s(&stored, "value")?) {
        Ok(())
    } else {
        Err(StoreError::Conflict("the secret key does not match the one this table's secrets were sealed with".into()))
    }
}
