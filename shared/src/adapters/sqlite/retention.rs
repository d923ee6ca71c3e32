//! Retention over SQLite: closed deliveries (with their attempts) past their type's retention
//! and events past theirs are deleted, in one pass over each table (the per-type cut-offs are
//! a small JSON map the statements look up); open and held deliveries, and their events, stay
//! until they close, and unacknowledged dead ones (and their events) until the dead-letter limit.
//! Metrics rollups go after their level's retention.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Db, status, to_text};
use crate::domain::catalog;
use crate::domain::delivery::DeliveryStatus;
use crate::domain::retention::RetentionPolicy;
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
    async fn purge(&self, policy: &RetentionPolicy, now: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
        let cutoff = |period: chrono::Duration| to_text(now - period);
        let by_type: serde_json::Map<String, serde_json::Value> = catalog::subscribable()
            .chain([catalog::test_ping()])
            .map(|info| (info.event_type.clone(), cutoff(policy.for_type(&info.event_type)).into()))
            .collect();
        let (by_type, default, dead) = (serde_json::Value::Object(by_type).to_string(), cutoff(policy.default), cutoff(policy.dead));
        self.db
            .write(move |conn| {
                let expired = format!(
                    "SELECT id FROM deliveries WHERE status IN ({closed}) AND created_at < CASE \
                     WHEN status = {dead_status} AND acknowledged_at IS NULL THEN ?3 \
                     ELSE COALESCE((SELECT value FROM json_each(?1) WHERE key = deliveries.event_type), ?2) END",
                    closed = *status::CLOSED,
                    dead_status = status::literal(DeliveryStatus::Dead)
                );
                let params = rusqlite::params![by_type, default, dead];
                conn.execute(&format!("DELETE FROM attempts WHERE delivery_id IN ({expired})"), params)?;
                let deliveries = conn.execute(&format!("DELETE FROM deliveries WHERE id IN ({expired})"), params)?;
                // An event stays while any of its deliveries does, whatever its timestamp says: a
                // delivery's page shows it, and its id published again must stay a duplicate (a
                // new event's tasks carry its deliveries as new, `DeliveryTask::of_stored`).
                let events = conn.execute(
                    "DELETE FROM events WHERE occurred_at < COALESCE((SELECT value FROM json_each(?1) WHERE key = events.event_type), ?2) \
                     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)",
                    rusqlite::params![by_type, default],
                )?;
                super::metrics::purge(conn, now)?;
                Ok((deliveries as u64, events as u64))
            })
            .await
    }
}
