//! `ApiKeyStore` over SQLite.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{Db, corrupt, from_text, to_text};
use crate::domain::api_key::ApiKey;
use crate::domain::filter::EventPattern;
use crate::ports::{ApiKeyStore, StoreError};

const COLUMNS: &str = "id, name, hash, events, created_at, last_used_at, revoked_at";

pub struct SqliteApiKeyStore {
    db: Arc<Db>,
}

impl SqliteApiKeyStore {
    pub fn new(db: Arc<Db>) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ApiKeyStore for SqliteApiKeyStore {
    async fn insert(&self, key: &ApiKey) -> Result<(), StoreError> {
        let events: Vec<String> = key.events.iter().map(EventPattern::as_string).collect();
        let values = (
            key.id.clone(),
            key.name.clone(),
            key.hash.clone(),
            serde_json::to_string(&events).unwrap_or_default(),
            to_text(key.created_at),
        );
        self.db
            .write(move |conn| {
                let (id, name, hash, events, created_at) = values;
                let sql = "INSERT INTO api_keys (id, name, hash, events, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
                Ok(conn.execute(sql, params![id, name, hash, events, created_at]).map(|_| ())?)
            })
            .await
    }

    async fn get(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let id = id.to_owned();
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"))?;
                Ok(statement.query_row([id], read_key).optional()?)
            })
            .await
    }

    async fn list(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.db
            .read(|conn| {
                let mut statement = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id"))?;
                let rows = statement.query_map([], read_key)?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (id, at) = (id.to_owned(), to_text(at));
        let changed = self
            .db
            .write(
                move |conn| Ok(conn.execute("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1", params![id, at])?),
            )
            .await?;
        if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn touch(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (id, at) = (id.to_owned(), to_text(at));
        self.db
            .write(move |conn| Ok(conn.execute("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1", params![id, at]).map(|_| ())?))
            .await
    }
}

fn read_key(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let events: Vec<String> = serde_json::from_str(&row.get::<_, String>(3)?).map_err(|_| corrupt("key events"))?;
    let optional_time = |index: usize| row.get::<_, Option<String>>(index)?.map(|raw| from_text(&raw)).transpose();
    Ok(ApiKey {
        id: row.get(0)?,
        name: row.get(1)?,
        hash: row.get(2)?,
        events: events.iter().map(|raw| EventPattern::from_stored(raw)).collect(),
        created_at: from_text(&row.get::<_, String>(4)?)?,
        last_used_at: optional_time(5)?,
        revoked_at: optional_time(6)?,
    })
}
