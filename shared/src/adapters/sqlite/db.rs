//! The database handle: a group-commit writer thread and a pool of readers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use super::schema;
use crate::ports::StoreError;

/// How many waiting writes one transaction takes at most.
const MAX_GROUP: usize = 512;
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
/// How often the writer looks at the WAL's size (one `stat`): after this long, or this many
/// group commits, whichever comes first.
const WAL_CHECK_EVERY: Duration = Duration::from_millis(250);
const WAL_CHECK_EVERY_GROUPS: u32 = 64;
/// How long a restart of the WAL may wait for readers (the writer waits with it).
const RESTART_WAIT: Duration = Duration::from_millis(100);
/// Prepared statements kept per connection: every statement the adapters prepare with
/// `prepare_cached` (22 call sites), where rusqlite's default of 16 could evict some under load
/// and parse them again. With the event's insert and fanned-out mark, which were parsed on every
/// call, now cached too: 1.26× single-webhook throughput (README, "Benchmark").
const STATEMENT_CACHE: usize = 64;
/// The writer's usual wait for a lock (the `busy_timeout` it opens with).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Finish + Send>;

pub struct Db {
    path: PathBuf,
    jobs: Mutex<mpsc::Sender<Job>>,
    readers: Mutex<Vec<Connection>>,
    /// The checkpoint thread runs while this is alive.
    _alive: Arc<()>,
}

impl Db {
    /// Opens (creating if needed) the database at `path` and starts its writer thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_wal_limit(path, WAL_LIMIT_BYTES)
    }

    /// `open` with another bound on the WAL (tests use a small one).
    pub fn open_with_wal_limit(path: &Path, wal_limit: u64) -> Result<Self, StoreError> {
        let writer = Connection::open(path)?;
        // Commits do not wait for fsync (a commit survives the process dying, not a power cut);
        // checkpoints, which do, run on their own thread so they never stall a commit.
        // `secure_delete` zeroes what updates and deletes free, so erased payloads leave the file.
        writer.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA wal_autocheckpoint = 0; \
             PRAGMA secure_delete = ON;",
        )?;
        // A WAL that was started over is cut back to this size rather than kept at its peak.
        writer.pragma_update(None, "journal_size_limit", i64::try_from(wal_limit).unwrap_or(i64::MAX))?;
        schema::create(&writer)?;
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let (jobs, inbox) = mpsc::channel::<Job>();
        let wal = WalBound { file: PathBuf::from(format!("{}-wal", path.display())), limit: wal_limit };
        spawn("hookline-sqlite-writer", move || run_writer(&writer, &inbox, &wal))?;
        let alive = Arc::new(());
        let checkpointer = Connection::open(path)?;
        checkpointer.execute_batch("PRAGMA busy_timeout = 5000;")?;
        let token = Arc::downgrade(&alive);
        spawn("hookline-sqlite-checkpoint", move || run_checkpoints(&checkpointer, &token))?;
        Ok(Self { path: path.to_owned(), jobs: Mutex::new(jobs), readers: Mutex::new(Vec::new()), _alive: alive })
    }

    /// Runs `work` inside the next group transaction and returns once that transaction committed.
    /// An error from `work` rolls back only its own changes.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = in_savepoint(conn, work);
            Box::new(move |committed| {
                let outcome = match committed {
                    Ok(()) => result,
                    Err(error) => Err(StoreError::Backend(error.into())),
                };
                let _ = reply.send(outcome);
            })
        });
        self.jobs.lock().map_err(|_| closed())?.send(job).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
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

fn closed() -> StoreError {
    StoreError::Backend("the database writer has stopped".into())
}

fn in_savepoint<T>(conn: &Connection, work: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
    conn.execute_batch("SAVEPOINT job")?;
    let result = work(conn);
    let end = if result.is_ok() { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
    conn.execute_batch(end)?;
    result
}

/// Takes every job waiting (up to `MAX_GROUP`), runs them in one transaction, adds the metrics
/// rollups they counted, commits once, then tells each caller the outcome.
fn run_writer(conn: &Connection, inbox: &mpsc::Receiver<Job>, wal: &WalBound) {
    let (mut checked_at, mut groups) = (std::time::Instant::now(), 0);
    while let Ok(first) = inbox.recv() {
        groups += 1;
        if groups >= WAL_CHECK_EVERY_GROUPS || checked_at.elapsed() >= WAL_CHECK_EVERY {
            (checked_at, groups) = (std::time::Instant::now(), 0);
            wal.keep(conn);
        }
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match inbox.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
            let message = error.to_string();
            for job in group {
                // Run nothing: report the failure to every caller.
                drop(job);
                tracing::error!(error = %message, "could not begin a write transaction");
            }
            continue;
        }
        let finishers: Vec<Finish> = group.into_iter().map(|job| job(conn)).collect();
        // What the jobs counted for the metrics goes into the same transaction.
        let committed = super::metrics::write_pending(conn)
            .map_err(|e| e.to_string())
            .and_then(|()| conn.execute_batch("COMMIT").map_err(|e| e.to_string()));
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for finish in finishers {
            finish(committed.clone());
        }
    }
}

/// The WAL file and the size it is kept under.
struct WalBound {
    file: PathBuf,
    limit: u64,
}

impl WalBound {
    /// Starts the WAL over when it has grown past the limit. On the writer thread, between
    /// group commits, so no write is in the way; the busy timeout lets the readers of the moment
    /// finish.
    fn keep(&self, conn: &Connection) {
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
