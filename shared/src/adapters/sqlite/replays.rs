//! `ReplayStore` over SQLite: one row per bulk replay, its state as JSON.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{Db, corrupt};
use crate::domain::ids::ReplayId;
use crate::domain::replay::Replay;
use crate::ports::{ReplayStore, StoreError};

pub struct SqliteReplayStore {
    db: Arc<Db>,
}

impl SqliteReplayStore {
    pub fn new(db: Arc<Db>) -> Self {
        Self { db }
    }
}

fn parse(doc: &str) -> rusqlite::Result<Replay> {
    serde_json::from_str(doc).map_err(|_| corrupt("replay"))
}

#[async_trait]
impl ReplayStore for SqliteReplayStore {
    async fn save(&self, replay: &Replay) -> Result<(), StoreError> {
        let (id, doc, finished) = (replay.id.to_string(), serde_json::to_string(replay).unwrap_or_default(), replay.is_finished());
        self.db
            .write(move |conn| {
                let sql = "INSERT INTO replays (id, doc, finished) VALUES (?1, ?2, ?3) \
                           ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, finished = excluded.finished";
                Ok(conn.execute(sql, params![id, doc, finished]).map(|_| ())?)
            })
            .await
    }

    async fn get(&self, id: &ReplayId) -> Result<Option<Replay>, StoreError> {
        let id = id.to_string();
        self.db
            .read(move |conn| {
                let doc: Option<String> = conn.query_row("SELECT doc FROM replays WHERE id = ?1", [id], |row| row.get(0)).optional()?;
                Ok(doc.as_deref().map(parse).transpose()?)
            })
            .await
    }

    async fn unfinished(&self) -> Result<Vec<Replay>, StoreError> {
        self.db
            .read(|conn| {
                let mut statement = conn.prepare_cached("SELECT doc FROM replays WHERE finished = 0 ORDER BY id")?;
                let rows = statement.query_map([], |row| parse(&row.get::<_, String>(0)?))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }
}
