//! Reading and writing DynamoDB items: typed getters that report a missing or malformed
//! attribute as a storage failure instead of panicking, and the key helpers.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use crate::domain::event::format_timestamp;
use crate::ports::StoreError;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn time(at: DateTime<Utc>) -> AttributeValue {
    s(format_timestamp(at))
}

/// `{PK, SK}` of an item.
pub fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("PK".to_owned(), s(pk)), ("SK".to_owned(), s(sk))])
}

/// Epoch seconds after which DynamoDB's TTL may delete an item.
pub fn expiry(at: DateTime<Utc>, retention: chrono::Duration) -> AttributeValue {
    n((at + retention).timestamp())
}

/// False when the item carries an `expires_at` in the past: TTL deletion lags by up to days,
/// so every read hides expired items itself.
pub fn is_live(item: &Item, now: DateTime<Utc>) -> bool {
    match item.get("expires_at") {
        Some(AttributeValue::N(raw)) => raw.parse::<i64>().map_or(true, |at| at > now.timestamp()),
        _ => true,
    }
}

fn corrupt(name: &str) -> StoreError {
    StoreError::Backend(format!("stored attribute {name} is missing or malformed").into())
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).ok_or_else(|| corrupt(name))
}

pub fn opt_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

pub fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|raw| raw.parse().ok()).ok_or_else(|| corrupt(name))
}

pub fn opt_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<Option<T>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => get_n(item, name).map(Some),
    }
}

pub fn get_time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_time(get_s(item, name)?).ok_or_else(|| corrupt(name))
}

pub fn opt_time(item: &Item, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    opt_s(item, name).map(|raw| parse_time(&raw).ok_or_else(|| corrupt(name))).transpose()
}

fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw).ok().map(|t| t.with_timezone(&Utc))
}

/// Puts `value` under `name`, or nothing when it is `None`.
pub fn put_opt(item: &mut Item, name: &str, value: Option<AttributeValue>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), value);
    }
}
