//! `AuditLog` over SQLite: an append-only table.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Row, params};

use super::{Db, corrupt, decode_cursor, encode_cursor, from_text, to_text};
use crate::domain::audit::{AuditAction, AuditEntry};
use crate::ports::{AuditFilter, AuditLog, Page, StoreError};

pub struct SqliteAuditLog {
    db: Arc<Db>,
}

impl SqliteAuditLog {
    pub fn new(db: Arc<Db>) -> Self {
        Self { db }
    }
}

#[async_trait]
impl AuditLog for SqliteAuditLog {
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let e = entry.clone();
        self.db
            .write(move |conn| {
                let sql = "INSERT INTO audit (at, actor, action, target, source) VALUES (?1, ?2, ?3, ?4, ?5)";
                Ok(conn.execute(sql, params![to_text(e.at), e.actor, e.action.as_str(), e.target, e.source]).map(|_| ())?)
            })
            .await
    }

    async fn list(&self, filter: &AuditFilter) -> Result<Page<AuditEntry>, StoreError> {
        let before = decode_cursor(filter.cursor.as_deref())?.unwrap_or(i64::MAX);
        let filter = filter.clone();
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT seq, at, actor, action, target, source FROM audit WHERE seq < ?1 AND (?2 IS NULL OR actor = ?2) \
                     AND (?3 IS NULL OR action = ?3) AND (?4 IS NULL OR target = ?4) AND (?5 IS NULL OR at >= ?5) \
                     ORDER BY seq DESC LIMIT ?6",
                )?;
                let action = filter.action.map(AuditAction::as_str);
                let fetch = i64::try_from(filter.limit + 1).unwrap_or(i64::MAX);
                let rows = statement
                    .query_map(params![before, filter.actor, action, filter.target, filter.since.map(to_text), fetch], read_entry)?;
                let mut rows = rows.collect::<Result<Vec<_>, _>>()?;
                let next_cursor = (rows.len() > filter.limit).then(|| {
                    rows.truncate(filter.limit);
                    rows.last().map(|(seq, _)| encode_cursor(*seq))
                });
                Ok(Page { items: rows.into_iter().map(|(_, entry)| entry).collect(), next_cursor: next_cursor.flatten() })
            })
            .await
    }
}

fn read_entry(row: &Row<'_>) -> rusqlite::Result<(i64, AuditEntry)> {
    let action: String = row.get(3)?;
    let entry = AuditEntry {
        at: from_text(&row.get::<_, String>(1)?)?,
        actor: row.get(2)?,
        action: AuditAction::parse(&action).ok_or_else(|| corrupt("audit action"))?,
        target: row.get(4)?,
        source: row.get(5)?,
    };
    Ok((row.get(0)?, entry))
}
