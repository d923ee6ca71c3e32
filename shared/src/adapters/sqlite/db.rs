//! The database handle: the one writer (`writer`: group commits, in place when it is idle) and a
//! pool of readers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use super::schema;
use super::wal_bound::WalBound;
use super::writer::{Company, Finish, Job, Ran, Writer, closed, run};
use crate::ports::StoreError;

/// Read connections kept for reuse; more are opened under load and closed afterwards.
const MAX_IDLE_READERS: usize = 4;
/// How often the WAL is checkpointed into the database file, off the commit path.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// The WAL's bound. Passive checkpoints copy its pages into the database file but cannot start
/// it over while readers keep old snapshots, so under steady reads and writes it grew without
/// end (10.9 GB in two minutes of the soak); past this size the writer restarts it (a `RESTART`
/// checkpoint between two group commits, waiting for the readers of the moment, which are
/// short), and `journal_size_limit` cuts the file back to this size, so it is reused in place.
/// `TRUNCATE` bounded it too, but growing the file again from nothing cost 18 % of the soak's
/// throughput; `RESTART` cost nothing measurable.
pub const WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;
/// Prepared statements kept per connection: every statement the adapters prepare with
/// `prepare_cached` (26 call sites, the transaction statements among them), where rusqlite's default of 16 could evict some under load
/// and parse them again. With the event's insert and fanned-out mark, which were parsed on every
/// call, now cached too: 1.26× single-webhook throughput (README, "Benchmark").
const STATEMENT_CACHE: usize = 64;

pub struct Db {
    path: PathBuf,
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    /// The checkpoint thread runs while this is alive.
    _alive: Arc<()>,
}

impl Db {
    /// Opens (creating if needed) the database at `path` and starts its writer.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_wal_limit(path, WAL_LIMIT_BYTES)
    }

    /// `open` with another bound on the WAL (tests use a small one).
    pub fn open_with_wal_limit(path: &Path, wal_limit: u64) -> Result<Self, StoreError> {
        let writer = Connection::open(path)?;
        // Commits do not wait for fsync (a commit survives the process dying, not a power cut);
        // checkpoints, which do, run on their own thread so they never stall a commit.
        // `secure_delete` zeroes what updates and deletes free, so erased payloads leave the file.
        // `temp_store = MEMORY` keeps the sub-journal in memory: each job's savepoint copies
        // every page it is the first to change there, and as a temporary file those copies
        // were a `pwrite` each, 24 % of the server's CPU while a fan-out was stored.
        // A page cache of 1 MiB, not SQLite's 2: a fan-out's inserts filled the 2 MiB, about a
        // tenth of the server's heap at its peak; pages it no longer holds come from the
        // system's cache (about 1 MiB less peak RSS at fan-out, README "The binary's layout").
        writer.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA wal_autocheckpoint = 0; \
             PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -1024;",
        )?;
        // A WAL that was started over is cut back to this size rather than kept at its peak.
        writer.pragma_update(None, "journal_size_limit", i64::try_from(wal_limit).unwrap_or(i64::MAX))?;
        schema::create(&writer)?;
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let wal = WalBound { file: PathBuf::from(format!("{}-wal", path.display())), limit: wal_limit };
        let writer = Writer::start(writer, wal)?;
        let alive = Arc::new(());
        let checkpointer = Connection::open(path)?;
        checkpointer.execute_batch("PRAGMA busy_timeout = 5000;")?;
        let token = Arc::downgrade(&alive);
        spawn("hookline-sqlite-checkpoint", move || run_checkpoints(&checkpointer, &token))?;
        Ok(Self { path: path.to_owned(), writer, readers: Mutex::new(Vec::new()), _alive: alive })
    }

    /// Runs `work` inside the next group transaction and returns once that transaction committed:
    /// in place when the writer is idle and writes come slowly, else with the writes waiting
    /// (`writer`). An error from `work` rolls back only its own changes.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn, company| {
            let result = in_savepoint(conn, company, work);
            let succeeded = result.is_ok();
            let finish: Finish = Box::new(move |committed| {
                let outcome = match committed {
                    Ok(()) => result,
                    Err(error) => Err(StoreError::Backend(error.into())),
                };
                let _ = reply.send(outcome);
            });
            Ran { succeeded, finish }
        });
        self.writer.submit(job)?;
        answer.await.map_err(|_| closed())?
    }

    /// Runs `work` in the group transaction of the next write, or on its own within
    /// `LATER_WITHIN` if none comes, and returns at once: for writes that are hints, which a
    /// process that dies first may lose (an event's "fanned out" mark: without it, start-up fans
    /// the event out again, which changes nothing). Failures are logged.
    pub fn write_later<F>(&self, work: F) -> Result<(), StoreError>
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        self.write_later_or(work, || {})
    }

    /// `write_later`, and `lost` runs if the write does not commit: it failed, its
    /// transaction failed, or it never ran (the writer closed first). Not when the process dies.
    pub fn write_later_or<F, L>(&self, work: F, lost: L) -> Result<(), StoreError>
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
        L: FnOnce() + Send + 'static,
    {
        let unless_committed = UnlessCommitted(Some(Box::new(lost)));
        let counted = self.writer.count_deferred();
        let job: Job = Box::new(move |conn, company| {
            let result = in_savepoint(conn, company, work);
            if let Err(error) = &result {
                tracing::warn!(%error, "a deferred write failed");
            }
            let succeeded = result.is_ok();
            let finish: Finish = Box::new(move |committed: Result<(), String>| {
                match committed {
                    Ok(()) if succeeded => unless_committed.committed(),
                    Ok(()) => {}
                    Err(error) => tracing::warn!(%error, "a deferred write was not committed"),
                }
                drop(counted);
            });
            Ran { succeeded, finish }
        });
        self.writer.defer(job)
    }

    /// How many deferred writes wait to commit: their callers did not wait, so nothing else
    /// bounds them.
    pub fn deferred_writes(&self) -> usize {
        self.writer.deferred()
    }

    /// Runs `work` on a read connection (it sees every committed write). Reads are short
    /// indexed look-ups, so they run in place: a hop to a blocking thread costs more than they do.
    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.take_reader()?;
        let result = work(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < MAX_IDLE_READERS
        {
            pool.push(conn);
        }
        result
    }

    /// `read` once every deferred write handed over before has committed (they commit with an
    /// empty write, if any wait): what a delivery's record and the metrics show includes every
    /// success already sent, though successes ride with the next commit.
    pub async fn read_committed<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if self.writer.deferred() > 0 {
            self.write(|_| Ok(())).await?;
        }
        self.read(work).await
    }

    /// Copies the WAL into the database file and truncates the WAL to nothing, so content that
    /// was overwritten (an erased payload) leaves the WAL too. Runs on its own connection, since
    /// a checkpoint cannot run inside the writer's transactions.
    pub async fn truncate_wal(&self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let busy: i64 = tokio::task::spawn_blocking(move || {
            let conn = Connection::open(&path)?;
            conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
        })
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))??;
        if busy != 0 {
            tracing::warn!("the WAL could not be truncated now; the next checkpoint overwrites it");
        }
        Ok(())
    }

    fn take_reader(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.readers.lock().map_err(|_| closed())?.pop() {
            return Ok(conn);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA cache_size = -1024;")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }
}

/// Runs its fallback when dropped, unless the write it goes with committed: whichever way the
/// write is dropped (run and failed, or never run) the fallback runs once.
struct UnlessCommitted(Option<Box<dyn FnOnce() + Send>>);

impl UnlessCommitted {
    fn committed(mut self) {
        self.0 = None;
    }
}

impl Drop for UnlessCommitted {
    fn drop(&mut self) {
        if let Some(lost) = self.0.take() {
            lost();
        }
    }
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Result<(), StoreError> {
    std::thread::Builder::new().name(name.into()).spawn(body).map(|_| ()).map_err(|e| StoreError::Backend(Box::new(e)))
}

/// Copies committed pages from the WAL into the database file until the `Db` is dropped.
fn run_checkpoints(conn: &Connection, alive: &Weak<()>) {
    while alive.upgrade().is_some() {
        std::thread::sleep(CHECKPOINT_EVERY);
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "WAL checkpoint failed; it will be tried again");
        }
    }
}

/// Runs `work` in a savepoint of its own when it shares the transaction (`Company`).
fn in_savepoint<T>(conn: &Connection, company: Company, work: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
    if company == Company::Alone {
        return work(conn);
    }
    run(conn, "SAVEPOINT job")?;
    let result = work(conn);
    if result.is_ok() {
        run(conn, "RELEASE job")?;
    } else {
        conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
    }
    result
}

/// A new data file for the test `name`, and its path.
#[cfg(test)]
pub(super) fn fresh(name: &str) -> (Db, PathBuf) {
    let path = std::env::temp_dir().join(format!("hookline-db-{}-{name}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    (Db::open(&path).unwrap(), path)
}

#[cfg(test)]
mod tests {
    use super::super::writer::LATER_WITHIN;
    use super::*;

    async fn count(db: &Db) -> i64 {
        db.read(|conn| Ok(conn.query_row("SELECT count(*) FROM events", [], |row| row.get(0))?)).await.unwrap()
    }

    fn insert(id: &str) -> impl FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static {
        let id = id.to_owned();
        move |conn| {
            let row = "INSERT INTO events (id, event_type, occurred_at, body, fingerprint) \
                       VALUES (?1, 'customer.created', '2026-01-01T00:00:00Z', '{}', 'f')";
            conn.execute(row, [id])?;
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_writer_keeps_its_savepoints_copies_in_memory() {
        let (db, _) = fresh("temp-store");
        let store: i64 = db.write(|conn| Ok(conn.query_row("PRAGMA temp_store", [], |row| row.get(0))?)).await.unwrap();
        assert_eq!(store, 2, "MEMORY: a sub-journal page is not a file write");
    }

    #[tokio::test]
    async fn a_deferred_write_commits_on_its_own_when_no_other_write_comes() {
        let (db, _) = fresh("later-alone");
        db.write_later(insert("evt_1")).unwrap();
        let started = std::time::Instant::now();
        while count(&db).await == 0 && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(LATER_WITHIN / 4).await;
        }
        assert_eq!(count(&db).await, 1, "committed without another write");
    }

    #[tokio::test]
    async fn a_deferred_write_goes_in_before_the_next_write_and_commits_with_it() {
        let (db, _) = fresh("later-rides");
        db.write_later(insert("evt_1")).unwrap();
        db.write_later(insert("evt_2")).unwrap();
        let seen: i64 = db.write(|conn| Ok(conn.query_row("SELECT count(*) FROM events", [], |row| row.get(0))?)).await.unwrap();
        assert_eq!(seen, 2, "the deferred writes ran first, in the order handed over");
        assert_eq!(count(&db).await, 2, "and were committed with it, well within their delay");
    }

    #[tokio::test]
    async fn a_failed_deferred_write_leaves_the_others() {
        let (db, _) = fresh("later-fails");
        db.write_later(insert("evt_1")).unwrap();
        db.write_later(insert("evt_1")).unwrap();
        db.write(insert("evt_2")).await.unwrap();
        assert_eq!(count(&db).await, 2, "the duplicate rolled back alone");
    }
}
