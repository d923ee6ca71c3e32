//! Retention over SQLite: closed deliveries (with their attempts) and events past the
//! retention period are deleted; open deliveries, and their events, stay until they close.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Db, status, to_text};
use crate::ports::{Retention, StoreError};

pub struct SqliteRetention {
    db: Arc<Db>,
}

impl SqliteRetention {
    pub fn new(db: Arc<Db>) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Retention for SqliteRetention {
    async fn purge(&self, before: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
        let before = to_text(before);
        self.db
            .write(move |conn| {
                let closed = format!("SELECT id FROM deliveries WHERE created_at < ?1 AND status IN ({})", *status::CLOSED);
                conn.execute(&format!("DELETE FROM attempts WHERE delivery_id IN ({closed})"), [&before])?;
                let deliveries = conn.execute(&format!("DELETE FROM deliveries WHERE id IN ({closed})"), [&before])?;
                let events = conn.execute(
                    &format!(
                        "DELETE FROM events WHERE occurred_at < ?1 AND NOT EXISTS \
                         (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status IN ({}))",
                        *status::OPEN
                    ),
                    [&before],
                )?;
                Ok((deliveries as u64, events as u64))
            })
            .await
    }
}
