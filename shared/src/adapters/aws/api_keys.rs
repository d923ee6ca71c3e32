//! `ApiKeyStore` over DynamoDB: `KEY#<id>` items, listed through `GSI1` partition `KEYS`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::item::{Item, get_s, get_time, key, opt_time, put_opt, s, time};
use super::reads::{get_item, index_items};
use super::{Dynamo, written};
use crate::domain::api_key::ApiKey;
use crate::domain::filter::EventPattern;
use crate::ports::{ApiKeyStore, StoreError};

pub struct DynamoDbApiKeyStore {
    db: Dynamo,
}

impl DynamoDbApiKeyStore {
    pub fn new(db: Dynamo) -> Self {
        Self { db }
    }

    /// Sets `attribute` to `at` on an existing key (`if_not_exists` keeps a first value).
    async fn stamp(&self, id: &str, expression: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let result = self
            .db
            .client
            .update_item()
            .table_name(&*self.db.table)
            .set_key(Some(key(format!("KEY#{id}"), "META")))
            .update_expression(expression)
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", time(at))
            .send()
            .await;
        written(result)?.map(|_| ()).ok_or(StoreError::NotFound)
    }
}

fn to_item(api_key: &ApiKey) -> Item {
    let mut item = key(format!("KEY#{}", api_key.id), "META");
    let events: Vec<String> = api_key.events.iter().map(EventPattern::as_string).collect();
    item.insert("name".into(), s(&api_key.name));
    item.insert("hash".into(), s(&api_key.hash));
    item.insert("events".into(), s(serde_json::to_string(&events).unwrap_or_default()));
    item.insert("created_at".into(), time(api_key.created_at));
    item.insert("GSI1PK".into(), s("KEYS"));
    item.insert("GSI1SK".into(), s(format!("{}#{}", api_key.created_at.timestamp_millis(), api_key.id)));
    put_opt(&mut item, "last_used_at", api_key.last_used_at.map(time));
    put_opt(&mut item, "revoked_at", api_key.revoked_at.map(time));
    item
}

fn from_item(item: &Item) -> Result<ApiKey, StoreError> {
    let events: Vec<String> =
        serde_json::from_str(get_s(item, "events")?).map_err(|_| StoreError::Backend("stored key events do not parse".into()))?;
    Ok(ApiKey {
        id: get_s(item, "PK")?.trim_start_matches("KEY#").to_owned(),
        name: get_s(item, "name")?.to_owned(),
        hash: get_s(item, "hash")?.to_owned(),
        events: events.iter().map(|raw| EventPattern::from_stored(raw)).collect(),
        created_at: get_time(item, "created_at")?,
        last_used_at: opt_time(item, "last_used_at")?,
        revoked_at: opt_time(item, "revoked_at")?,
    })
}

#[async_trait]
impl ApiKeyStore for DynamoDbApiKeyStore {
    async fn insert(&self, api_key: &ApiKey) -> Result<(), StoreError> {
        let result = self
            .db
            .client
            .put_item()
            .table_name(&*self.db.table)
            .set_item(Some(to_item(api_key)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        written(result)?.map(|_| ()).ok_or_else(|| StoreError::Conflict("an API key with this id already exists".into()))
    }

    async fn get(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        get_item(&self.db, key(format!("KEY#{id}"), "META")).await?.as_ref().map(from_item).transpose()
    }

    async fn list(&self) -> Result<Vec<ApiKey>, StoreError> {
        index_items(&self.db, "GSI1", "GSI1PK", "KEYS").await?.iter().map(from_item).collect()
    }

    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.stamp(id, "SET revoked_at = if_not_exists(revoked_at, :at)", at).await
    }

    async fn touch(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        match self.stamp(id, "SET last_used_at = :at", at).await {
            Err(StoreError::NotFound) => Ok(()),
            other => other,
        }
    }
}
