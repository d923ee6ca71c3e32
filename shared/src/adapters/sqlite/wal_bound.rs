//! The WAL's bound: the writer starts the WAL over between group commits once it has grown
//! past its limit (passive checkpoints cannot, while readers hold snapshots).

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::Connection;

/// How long a restart of the WAL may wait for readers (the writer waits with it).
const RESTART_WAIT: Duration = Duration::from_millis(100);
/// The writer's usual wait for a lock (the `busy_timeout` it opens with).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The WAL file and the size it is kept under.
pub struct WalBound {
    pub file: PathBuf,
    pub limit: u64,
}

impl WalBound {
    /// Starts the WAL over when it has grown past the limit. Between group commits, by the
    /// holder of the turn, so no write is in the way; the busy timeout lets the readers of the
    /// moment finish.
    pub(super) fn keep(&self, conn: &Connection) {
        let size = std::fs::metadata(&self.file).map(|m| m.len()).unwrap_or(0);
        if size <= self.limit {
            return;
        }
        // Waiting for readers holds up every write: a short wait, and another try shortly.
        let _ = conn.busy_timeout(RESTART_WAIT);
        let restarted = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| row.get::<_, i64>(0));
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        match restarted {
            Ok(0) => tracing::debug!(size, "WAL restarted"),
            Ok(_) => tracing::warn!(size, "the WAL could not be restarted (readers held on); trying again shortly"),
            Err(error) => tracing::warn!(%error, size, "WAL restart failed; trying again shortly"),
        }
    }
}
