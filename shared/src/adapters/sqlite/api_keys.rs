//! `ApiKeyStore` over SQLite. Keys read are kept in memory (every publish authenticates, and
//! keys number in the tens); every change to a key goes through this store, which updates or
//! drops its copy, so a revoked key is refused from the moment `revoke` returns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{Db, corrupt, from_text, to_text};
use crate::domain::api_key::ApiKey;
use crate::domain::filter::EventPattern;
use crate::ports::{ApiKeyStore, StoreError};

const COLUMNS: &str = "id, name, hash, events, created_at, last_used_at, revoked_at";

/// More keys than this are not all kept: the copies start over (a read each brings one back).
const MAX_KEPT: usize = 1_000;

pub struct SqliteApiKeyStore {
    db: Arc<Db>,
    kept: Mutex<Kept>,
}

/// Copies of keys as stored, and how many times a key changed: a read that began before a
/// change must not keep what it read (it may be the key before its revocation).
#[derive(Default)]
struct Kept {
    keys: HashMap<String, ApiKey>,
    changes: u64,
}

impl SqliteApiKeyStore {
    pub fn new(db: Arc<Db>) -> Self {
        Self { db, kept: Mutex::new(Kept::default()) }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `key`, read when `changes` changes had been made, unless a key changed since.
    fn keep(&self, key: &ApiKey, changes: u64) {
        let mut kept = self.kept();
        if kept.changes != changes {
            return;
        }
        if kept.keys.len() >= MAX_KEPT {
            kept.keys.clear();
        }
        kept.keys.insert(key.id.clone(), key.clone());
    }

    /// Drops the copy of key `id`, and any read under way keeps nothing.
    fn forget(&self, id: &str) {
        let mut kept = self.kept();
        kept.changes += 1;
        kept.keys.remove(id);
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
        let changes = {
            let kept = self.kept();
            if let Some(key) = kept.keys.get(id) {
                return Ok(Some(key.clone()));
            }
            kept.changes
        };
        let id = id.to_owned();
        let key = self
            .db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"))?;
                Ok(statement.query_row([id], read_key).optional()?)
            })
            .await?;
        if let Some(key) = &key {
            self.keep(key, changes);
        }
        Ok(key)
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
        let (key, at) = (id.to_owned(), to_text(at));
        let changed = self
            .db
            .write(move |conn| {
                Ok(conn.execute("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1", params![key, at])?)
            })
            .await;
        // Whatever the write's outcome: the next read tells.
        self.forget(id);
        if changed? == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// A copy read before the touch may be kept afterwards; its older time costs one more touch.
    async fn touch(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (key, text) = (id.to_owned(), to_text(at));
        self.db
            .write(move |conn| Ok(conn.execute("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1", params![key, text]).map(|_| ())?))
            .await?;
        if let Some(key) = self.kept().keys.get_mut(id) {
            key.last_used_at = Some(at);
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    #[tokio::test]
    async fn a_read_that_began_before_a_revocation_keeps_nothing() {
        let path = std::env::temp_dir().join(format!("hookline-key-copies-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let keys = SqliteApiKeyStore::new(Arc::new(Db::open(&path).unwrap()));
        let (key, text) = ApiKey::generate("billing".into(), Vec::new(), Utc::now());
        keys.insert(&key).await.unwrap();
        let before_revocation = keys.kept().changes;
        keys.revoke(&key.id, Utc::now()).await.unwrap();
        keys.keep(&key, before_revocation);
        let read = keys.get(&key.id).await.unwrap().unwrap();
        assert!(read.revoked_at.is_some() && !read.accepts(&text), "the copy read before the revocation was not kept");
        assert!(keys.kept().keys.contains_key(&key.id), "the revoked key read afterwards is");
    }
}
