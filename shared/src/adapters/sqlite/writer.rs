//! The one writer connection and whose turn it is to use it. Whoever has the turn runs every
//! write waiting (up to `MAX_GROUP`) in one transaction and commits once (group commit).
//!
//! While writes come slowly (`IN_PLACE_BELOW`), a write that finds the writer idle takes the
//! turn itself and commits in place, on the caller's thread: at a low rate each write was two
//! thread wake-ups (the writer's, then the caller's), which cost more CPU than the commit.
//! Writes that arrive while someone has the turn wait; the caller in place commits one group
//! and hands what waits to the writer thread, which keeps the turn while writes keep coming.
//! Under load every write goes to the thread (group commit), so no commit holds up the async
//! workers' other requests.
//! Writes nobody waits for (`defer`) wake nobody: they ride with the next group, or the
//! thread, which looks every `LATER_WITHIN` while writes come, commits them on their own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::wal_bound::WalBound;
use crate::ports::StoreError;

/// How many waiting writes one transaction takes at most.
const MAX_GROUP: usize = 512;
/// How long a write nobody waits for may wait for another write to share its commit.
pub const LATER_WITHIN: Duration = Duration::from_millis(100);
/// The writer thread looks every `LATER_WITHIN` while a write came within this long; after
/// that it sleeps until it is called, so an idle server does not wake.
const ACTIVE_FOR: Duration = Duration::from_secs(1);
/// Writes commit in place while fewer than this many arrived within about `RATE_WINDOW` (a
/// decaying count), i.e. below about 500 writes a second; faster, they go to the thread. Taken
/// in place under load, the turn going back and forth between callers and the thread cost 0.81×
/// the throughput (README, "Benchmark").
pub const IN_PLACE_BELOW: f64 = 50.0;
const RATE_WINDOW: Duration = Duration::from_millis(100);
/// How often the WAL's size is looked at (one `stat`): after this long, or this many group
/// commits by the thread, whichever comes first.
const WAL_CHECK_EVERY: Duration = Duration::from_millis(250);
const WAL_CHECK_EVERY_GROUPS: u32 = 64;

/// What a job tells its caller once the transaction it ran in committed or failed.
pub type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A write: runs in the group transaction and says what it did.
pub type Job = Box<dyn FnOnce(&Connection, Company) -> Ran + Send>;

/// Whether a job shares its transaction. One that shares it runs in a savepoint of its own,
/// so its failure undoes only its own work; one alone needs none (at 100 events/s nearly
/// every commit is one job): its failure rolls the whole transaction back.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Company {
    Alone,
    Shared,
}

/// What a job did: whether its work stands, and what to tell its caller after the commit.
pub struct Ran {
    pub succeeded: bool,
    pub finish: Finish,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Turn {
    Free,
    /// A caller commits in place.
    Caller,
    Thread,
}

/// The writes waiting, in the order they were handed over, and whose turn it is.
struct Waiting {
    turn: Turn,
    jobs: Vec<Job>,
    /// How many of `jobs` someone waits for.
    awaited: usize,
    /// When the oldest write nobody waits for arrived, while one waits.
    deferred_since: Option<Instant>,
    last_write: Instant,
    /// Writes that arrived lately, decaying over `RATE_WINDOW`.
    recent_writes: f64,
    /// The thread sleeps until it is called (nothing deferred, no write for `ACTIVE_FOR`).
    thread_sleeps: bool,
    closing: bool,
}

impl Waiting {
    /// Counts a write arriving at `now`; returns whether writes come too fast to commit in place.
    fn count_write(&mut self, now: Instant) -> bool {
        let since = now.duration_since(self.last_write).as_secs_f64() / RATE_WINDOW.as_secs_f64();
        self.recent_writes = self.recent_writes * (-since).exp() + 1.0;
        self.last_write = now;
        self.recent_writes >= IN_PLACE_BELOW
    }

    fn deferred_due(&self, now: Instant) -> bool {
        self.deferred_since.is_some_and(|since| now.duration_since(since) >= LATER_WITHIN)
    }

    /// Something the holder of the turn must commit now.
    fn pressing(&self, now: Instant) -> bool {
        self.awaited > 0 || self.deferred_due(now) || (self.closing && !self.jobs.is_empty())
    }

    /// The next group, in the order handed over (all of it when it is short, as usual).
    fn take_group(&mut self) -> Vec<Job> {
        let rest = self.jobs.split_off(self.jobs.len().min(MAX_GROUP));
        let group = std::mem::replace(&mut self.jobs, rest);
        if self.jobs.is_empty() {
            (self.awaited, self.deferred_since) = (0, None);
        } else {
            // Not counted per job: what stays is committed by whoever takes the next group.
            self.awaited = self.awaited.min(self.jobs.len());
        }
        group
    }
}

struct Shared {
    conn: Mutex<Connection>,
    /// Deferred writes handed over whose transaction has not ended yet.
    deferred: AtomicUsize,
    waiting: Mutex<Waiting>,
    /// The writer thread waits on it.
    call: Condvar,
    wal: WalBound,
}

/// The writer: its connection, the writes waiting and the thread that takes over under load.
pub struct Writer {
    shared: Arc<Shared>,
    /// Joined on drop, so what waits is committed before the process can exit.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    pub fn start(conn: Connection, wal: WalBound) -> Result<Self, StoreError> {
        let waiting = Waiting {
            turn: Turn::Free,
            jobs: Vec::new(),
            awaited: 0,
            deferred_since: None,
            last_write: Instant::now(),
            recent_writes: 0.0,
            thread_sleeps: false,
            closing: false,
        };
        let shared = Arc::new(Shared {
            conn: Mutex::new(conn),
            deferred: AtomicUsize::new(0),
            waiting: Mutex::new(waiting),
            call: Condvar::new(),
            wal,
        });
        let thread_side = shared.clone();
        let thread = std::thread::Builder::new()
            .name("hookline-sqlite-writer".into())
            .spawn(move || run_thread(&thread_side))
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(Self { shared, thread: Some(thread) })
    }

    /// Hands over a write someone waits for: committed in place when the writer is idle and
    /// writes come slowly, otherwise by whoever has the turn. Returns once it is in someone's
    /// hands.
    pub fn submit(&self, job: Job) -> Result<(), StoreError> {
        let mut waiting = self.shared.lock_waiting();
        if waiting.closing {
            return Err(closed());
        }
        waiting.jobs.push(job);
        waiting.awaited += 1;
        let fast = waiting.count_write(Instant::now());
        if waiting.turn != Turn::Free {
            return Ok(());
        }
        if fast {
            waiting.turn = Turn::Thread;
            self.shared.call.notify_one();
            return Ok(());
        }
        waiting.turn = Turn::Caller;
        let group = waiting.take_group();
        drop(waiting);
        let turn = InPlace { shared: &self.shared };
        commit_group(&self.shared.lock_conn(), group);
        drop(turn);
        Ok(())
    }

    /// How many deferred writes wait for their transaction to end.
    pub fn deferred(&self) -> usize {
        self.shared.deferred.load(Ordering::Relaxed)
    }

    /// Counts a deferred write until the count is dropped: its job keeps it, and its finish
    /// after that, so the count falls once the write's transaction ended or it was dropped unrun.
    pub fn count_deferred(&self) -> DeferredCount {
        self.shared.deferred.fetch_add(1, Ordering::Relaxed);
        DeferredCount(self.shared.clone())
    }

    /// Hands over a write nobody waits for: it joins the next group, or is committed on its own
    /// within `LATER_WITHIN`. Wakes nobody unless the writer thread sleeps until called.
    pub fn defer(&self, job: Job) -> Result<(), StoreError> {
        let mut waiting = self.shared.lock_waiting();
        if waiting.closing {
            return Err(closed());
        }
        waiting.jobs.push(job);
        let now = Instant::now();
        waiting.count_write(now);
        waiting.deferred_since.get_or_insert(now);
        if waiting.thread_sleeps {
            waiting.thread_sleeps = false;
            self.shared.call.notify_one();
        }
        Ok(())
    }
}

/// One deferred write in the writer's count (`Writer::count_deferred`).
pub struct DeferredCount(Arc<Shared>);

impl Drop for DeferredCount {
    fn drop(&mut self) {
        self.0.deferred.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for Writer {
    /// The thread commits what waits (writes nobody waits for among them: a delivery's
    /// success) and stops; the drop waits for it, unless it runs on that thread.
    fn drop(&mut self) {
        self.shared.lock_waiting().closing = true;
        self.shared.call.notify_one();
        if let Some(thread) = self.thread.take().filter(|thread| thread.thread().id() != std::thread::current().id()) {
            let _ = thread.join();
        }
    }
}

/// The turn of a caller committing in place: given back when it is done (or its job
/// panicked), to the thread when writes arrived meanwhile.
struct InPlace<'a> {
    shared: &'a Shared,
}

impl Drop for InPlace<'_> {
    fn drop(&mut self) {
        let conn = self.shared.lock_conn();
        if !conn.is_autocommit() {
            // Only after a panic in the middle of a group.
            roll_back(&conn);
        }
        drop(conn);
        let mut waiting = self.shared.lock_waiting();
        if waiting.pressing(Instant::now()) {
            waiting.turn = Turn::Thread;
            self.shared.call.notify_one();
        } else {
            waiting.turn = Turn::Free;
        }
    }
}

impl Shared {
    fn lock_waiting(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub(super) fn closed() -> StoreError {
    StoreError::Backend("the database writer has stopped".into())
}

/// The writer thread: takes the turn when it is handed over, when deferred writes are due, or
/// to keep the WAL bounded; keeps it while writes keep coming.
fn run_thread(shared: &Shared) {
    let (mut wal_checked, mut groups) = (Instant::now(), 0u32);
    loop {
        let (group, closing) = {
            let mut waiting = wait_for_turn(shared, wal_checked);
            (waiting.take_group(), waiting.closing)
        };
        let conn = shared.lock_conn();
        commit_group(&conn, group);
        groups += 1;
        if groups >= WAL_CHECK_EVERY_GROUPS || wal_checked.elapsed() >= WAL_CHECK_EVERY {
            (wal_checked, groups) = (Instant::now(), 0);
            shared.wal.keep(&conn);
        }
        drop(conn);
        let mut waiting = shared.lock_waiting();
        if closing && waiting.jobs.is_empty() {
            return;
        }
        if !waiting.pressing(Instant::now()) {
            waiting.turn = Turn::Free;
        }
    }
}

/// Waits until the thread has the turn and something to do with it (an empty group when only
/// the WAL is due for a look).
fn wait_for_turn(shared: &Shared, wal_checked: Instant) -> MutexGuard<'_, Waiting> {
    let mut waiting = shared.lock_waiting();
    loop {
        let now = Instant::now();
        let wal_due = now.duration_since(wal_checked) >= WAL_CHECK_EVERY && now.duration_since(waiting.last_write) < ACTIVE_FOR;
        match waiting.turn {
            Turn::Thread => return waiting,
            Turn::Free if waiting.pressing(now) || waiting.closing || wal_due => {
                waiting.turn = Turn::Thread;
                return waiting;
            }
            Turn::Free | Turn::Caller => {}
        }
        let active = now.duration_since(waiting.last_write) < ACTIVE_FOR;
        let deadline = match waiting.deferred_since {
            Some(since) => Some(LATER_WITHIN.saturating_sub(now.duration_since(since))),
            None if active => Some(LATER_WITHIN),
            None => None,
        };
        waiting.thread_sleeps = deadline.is_none();
        waiting = match deadline {
            Some(wait) => shared.call.wait_timeout(waiting, wait).map_or_else(|poisoned| poisoned.into_inner().0, |(guard, _)| guard),
            None => shared.call.wait(waiting).unwrap_or_else(std::sync::PoisonError::into_inner),
        };
        waiting.thread_sleeps = false;
    }
}

/// Runs `group` in one transaction with the metrics rollups its jobs counted, commits once,
/// then tells each job the outcome. A job alone whose work failed is rolled back instead.
fn commit_group(conn: &Connection, group: Vec<Job>) {
    if group.is_empty() {
        return;
    }
    if let Err(error) = run(conn, "BEGIN IMMEDIATE") {
        let message = error.to_string();
        for job in group {
            // Run nothing: report the failure to every caller.
            drop(job);
            tracing::error!(error = %message, "could not begin a write transaction");
        }
        return;
    }
    let company = if group.len() == 1 { Company::Alone } else { Company::Shared };
    let ran: Vec<Ran> = group.into_iter().map(|job| job(conn, company)).collect();
    if company == Company::Alone && ran.iter().any(|job| !job.succeeded) {
        // Its own savepoint would have undone it: nothing of the transaction stands.
        roll_back(conn);
        // The job tells its caller its own failure.
        ran.into_iter().for_each(|job| (job.finish)(Ok(())));
        return;
    }
    let finishers: Vec<Finish> = ran.into_iter().map(|job| job.finish).collect();
    // What the jobs counted for the metrics goes into the same transaction.
    let committed =
        super::metrics::write_pending(conn).map_err(|e| e.to_string()).and_then(|()| run(conn, "COMMIT").map_err(|e| e.to_string()));
    if committed.is_err() {
        roll_back(conn);
    }
    for finish in finishers {
        finish(committed.clone());
    }
}

/// Undoes the transaction under way, with what its jobs counted for the metrics.
fn roll_back(conn: &Connection) {
    super::metrics::discard_pending();
    let _ = conn.execute_batch("ROLLBACK");
}

/// One statement without rows, from the connection's cache: the transaction statements run
/// several times per group, and `execute_batch` would parse them each time.
pub fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
