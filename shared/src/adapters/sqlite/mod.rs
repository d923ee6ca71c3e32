//! SQLite storage for the local mode: one file in WAL mode. All writes go through one
//! writer connection, which commits whatever is waiting in a single transaction (group
//! commit), each caller's work in its own savepoint when it shares the transaction: in place
//! on the caller's thread while writes come slowly, on its own thread under load (`writer`);
//! reads use a small pool of read connections.
//! A caller's `write` returns only after its transaction committed, so an accepted event
//! or a recorded attempt survives the process being killed.

mod api_keys;
mod audit;
mod db;
mod deliveries;
mod events;
mod metrics;
mod queue;
mod queue_index;
mod queue_overflow;
mod recent;
mod replays;
mod retention;
mod schema;
mod status;
mod subscriptions;
mod wal_bound;
mod writer;

pub use api_keys::SqliteApiKeyStore;
pub use audit::SqliteAuditLog;
pub use db::Db;
pub use deliveries::SqliteDeliveryStore;
pub use events::SqliteEventStore;
pub use metrics::SqliteMetricsStore;
pub use queue::SqliteDeliveryQueue;
pub use queue_index::{ROOM, Room};
pub use replays::SqliteReplayStore;
pub use retention::SqliteRetention;
pub use subscriptions::SqliteSubscriptionStore;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::adapters::key_check::KeyCheckStore;
use crate::domain::event::format_timestamp;
use crate::ports::{QueueError, StoreError};

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Backend(Box::new(error))
    }
}

impl From<StoreError> for QueueError {
    fn from(error: StoreError) -> Self {
        QueueError::Backend(Box::new(error))
    }
}

#[async_trait::async_trait]
impl KeyCheckStore for Db {
    async fn stored_or_insert(&self, fresh: String) -> Result<String, StoreError> {
        self.write(move |conn| {
            conn.execute("INSERT INTO meta (key, value) VALUES ('secret_key_check', ?1) ON CONFLICT DO NOTHING", [fresh])?;
            Ok(conn.query_row("SELECT value FROM meta WHERE key = 'secret_key_check'", [], |row| row.get(0))?)
        })
        .await
    }
}

/// Timestamps are stored as fixed-width RFC 3339 text, so text order is time order.
fn to_text(at: DateTime<Utc>) -> String {
    format_timestamp(at)
}

fn from_text(raw: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("stored {what} does not parse").into())
}

/// Cursors are the row sequence number, wrapped so callers treat them as opaque.
fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("seq:{seq}"))
}

fn decode_cursor(cursor: Option<&str>) -> Result<Option<i64>, StoreError> {
    let Some(raw) = cursor else { return Ok(None) };
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    let seq = text.strip_prefix("seq:").and_then(|n| n.parse().ok()).ok_or(StoreError::InvalidCursor)?;
    Ok(Some(seq))
}
