//! The writer's turns: in place, handed over, given back after a panic, and deferred writes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::super::Db;
use super::{ACTIVE_FOR, IN_PLACE_BELOW, LATER_WITHIN};
use crate::ports::StoreError;

fn fresh(name: &str) -> (Arc<Db>, std::path::PathBuf) {
    let (db, path) = super::super::db::fresh(&format!("writer-{name}"));
    (Arc::new(db), path)
}

fn insert(conn: &rusqlite::Connection, id: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO events (id, event_type, occurred_at, body, fingerprint) VALUES (?1, 'customer.created', '2026-01-01T00:00:00Z', '{}', 'f')",
        [id],
    )?;
    Ok(())
}

fn events_in(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM events", [], |row| row.get(0)).unwrap()
}

/// The name of the thread a write ran on, and the write's own id inserted.
async fn write_on(db: &Db, id: &'static str, hold: Duration) -> Option<String> {
    db.write(move |conn| {
        std::thread::sleep(hold);
        insert(conn, id)?;
        Ok(std::thread::current().name().map(str::to_owned))
    })
    .await
    .unwrap()
}

/// Starts a write of `evt_1` that holds the turn in place for 300 ms, and returns once it has it.
async fn commit_in_place_slowly(db: &Arc<Db>) -> tokio::task::JoinHandle<Option<String>> {
    let db = db.clone();
    let holder = tokio::spawn(async move { write_on(&db, "evt_1", Duration::from_millis(300)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    holder
}

#[tokio::test]
async fn an_idle_writer_commits_in_place_on_the_callers_thread() {
    let (db, path) = fresh("in-place");
    let caller = std::thread::current().name().map(str::to_owned);
    assert_eq!(write_on(&db, "evt_1", Duration::ZERO).await, caller, "no hop to another thread");
    assert_eq!(events_in(&path), 1, "committed before the write returned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_arrive_during_a_commit_in_place_go_to_the_writer_thread() {
    let (db, path) = fresh("handover");
    let first = commit_in_place_slowly(&db).await;
    let second = write_on(&db, "evt_2", Duration::ZERO).await;
    assert_eq!(second.as_deref(), Some("hookline-sqlite-writer"), "handed to the thread, not left waiting");
    assert_ne!(first.await.unwrap().as_deref(), Some("hookline-sqlite-writer"), "the first committed in place");
    assert_eq!(events_in(&path), 2);
    // The thread gives the turn back just after it tells its callers.
    tokio::time::sleep(LATER_WITHIN).await;
    let caller = std::thread::current().name().map(str::to_owned);
    assert_eq!(write_on(&db, "evt_3", Duration::ZERO).await, caller, "the turn is taken in place again");
}

#[tokio::test]
async fn writes_that_come_fast_go_to_the_writer_thread_and_slow_ones_commit_in_place_again() {
    let (db, path) = fresh("rate");
    let caller = std::thread::current().name().map(str::to_owned);
    let ids: Vec<&'static str> = (0..2_000).map(|n| &*Box::leak(format!("evt_{n}").into_boxed_str())).collect();
    let mut first_on_the_thread = None;
    for (n, id) in ids.iter().enumerate() {
        if write_on(&db, id, Duration::ZERO).await != caller {
            first_on_the_thread = Some(n);
            break;
        }
    }
    let n = first_on_the_thread.expect("back-to-back writes stayed in place");
    assert!(n as f64 >= IN_PLACE_BELOW - 1.0, "went to the thread after only {n} writes");
    assert_eq!(events_in(&path), n as i64 + 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(write_on(&db, "evt_quiet", Duration::ZERO).await, caller, "after a quiet second, in place again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_panics_in_place_gives_the_turn_back_and_leaves_no_transaction_open() {
    let (db, path) = fresh("panic");
    let panicked = tokio::spawn({
        let db = db.clone();
        async move {
            db.write(|conn| {
                insert(conn, "evt_lost")?;
                panic!("a bug in a write");
                #[allow(unreachable_code)]
                Ok(())
            })
            .await
        }
    })
    .await;
    assert!(panicked.is_err(), "the panic reached its own task only");
    write_on(&db, "evt_1", Duration::ZERO).await;
    assert_eq!(events_in(&path), 1, "the panicking write was rolled back, the next one committed");
}

#[tokio::test]
async fn a_deferred_write_after_a_quiet_spell_wakes_the_sleeping_thread() {
    let (db, path) = fresh("quiet");
    tokio::time::sleep(ACTIVE_FOR + LATER_WITHIN * 3).await;
    db.write_later(|conn| insert(conn, "evt_1")).unwrap();
    let started = std::time::Instant::now();
    while events_in(&path) == 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(LATER_WITHIN / 4).await;
    }
    assert_eq!(events_in(&path), 1, "committed on its own within its delay");
    assert!(started.elapsed() < LATER_WITHIN * 5, "took {:?}", started.elapsed());
}

#[tokio::test]
async fn deferred_writes_are_committed_before_closing_the_database_returns() {
    let (db, path) = fresh("closing");
    db.write_later(|conn| {
        std::thread::sleep(Duration::from_millis(200));
        insert(conn, "evt_1")
    })
    .unwrap();
    drop(db);
    assert_eq!(events_in(&path), 1, "a process may exit as soon as its database is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_writes_are_counted_until_they_have_committed() {
    let (db, path) = fresh("counted-deferred");
    let holder = commit_in_place_slowly(&db).await;
    for id in ["evt_2", "evt_3"] {
        db.write_later(move |conn| insert(conn, id)).unwrap();
    }
    assert_eq!(db.deferred_writes(), 2, "waiting behind the commit in place");
    holder.await.unwrap();
    write_on(&db, "evt_4", Duration::ZERO).await;
    assert_eq!((db.deferred_writes(), events_in(&path)), (0, 4));
}

#[tokio::test]
async fn a_committed_read_sees_the_deferred_writes_handed_over_before_it() {
    let (db, _) = fresh("read-committed");
    db.write_later(|conn| insert(conn, "evt_1")).unwrap();
    let seen: i64 = db.read_committed(|conn| Ok(conn.query_row("SELECT count(*) FROM events", [], |row| row.get(0))?)).await.unwrap();
    assert_eq!((seen, db.deferred_writes()), (1, 0));
}

#[tokio::test]
async fn a_deferred_write_that_fails_runs_its_fallback_and_one_that_commits_does_not() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (db, path) = fresh("fallback");
    let lost = Arc::new(AtomicUsize::new(0));
    let count_lost = || {
        let lost = lost.clone();
        move || {
            lost.fetch_add(1, Ordering::SeqCst);
        }
    };
    db.write_later_or(|conn| insert(conn, "evt_1"), count_lost()).unwrap();
    let refused = |conn: &rusqlite::Connection| {
        insert(conn, "evt_lost")?;
        Err(StoreError::Backend("refused".into()))
    };
    db.write_later_or(refused, count_lost()).unwrap();
    // Both ride with this write's commit.
    write_on(&db, "evt_2", Duration::ZERO).await;
    assert_eq!(events_in(&path), 2, "evt_1 and evt_2 stand, evt_lost does not");
    assert_eq!(lost.load(Ordering::SeqCst), 1, "only the refused write's fallback ran");
}

#[tokio::test]
async fn a_write_alone_that_fails_leaves_nothing_and_its_caller_gets_its_own_error() {
    let (db, path) = fresh("alone-fails");
    let failed = db
        .write(|conn| {
            insert(conn, "evt_lost")?;
            Err::<(), _>(StoreError::Backend("refused by the job".into()))
        })
        .await;
    assert!(failed.is_err_and(|error| error.to_string().contains("refused by the job")));
    assert_eq!(events_in(&path), 0, "the transaction was rolled back");
    write_on(&db, "evt_1", Duration::ZERO).await;
    assert_eq!(events_in(&path), 1, "and the writer goes on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_fails_in_a_shared_transaction_undoes_only_its_own_work() {
    let (db, path) = fresh("shared-fails");
    let holder = commit_in_place_slowly(&db).await;
    // Both wait for the turn, so the thread commits them in one group.
    let failing = db.write(|conn| {
        insert(conn, "evt_lost")?;
        Err::<(), _>(StoreError::Backend("refused".into()))
    });
    let (failed, kept) = tokio::join!(failing, write_on(&db, "evt_2", Duration::ZERO));
    holder.await.unwrap();
    assert!(failed.is_err());
    assert_eq!(kept.as_deref(), Some("hookline-sqlite-writer"), "committed by the thread with the failing one");
    assert_eq!(events_in(&path), 2, "evt_1 and evt_2 stand, evt_lost does not");
}

fn rollups_in(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM rollups", [], |row| row.get(0)).unwrap()
}

#[tokio::test]
async fn what_a_write_counted_before_it_failed_or_panicked_alone_is_not_written_with_the_next() {
    let (db, path) = fresh("counted");
    let sample = crate::domain::metrics::Sample {
        webhook_id: crate::domain::ids::WebhookId::generate(1),
        event_type: "customer.created".into(),
        at: chrono::Utc::now(),
        attempt_ms: 5,
        error_kind: None,
        finished: None,
    };
    let counted = sample.clone();
    let failed = db.write(move |_| {
        super::super::metrics::count(&counted);
        Err::<(), _>(StoreError::Backend("refused".into()))
    });
    assert!(failed.await.is_err());
    // On this single-threaded runtime the spawned write commits in place on this same thread.
    let panicked = tokio::spawn({
        let db = db.clone();
        async move {
            db.write(move |_| -> Result<(), StoreError> {
                super::super::metrics::count(&sample);
                panic!("a bug in a write");
            })
            .await
        }
    });
    assert!(panicked.await.is_err_and(|error| error.is_panic()));
    write_on(&db, "evt_1", Duration::ZERO).await;
    assert_eq!(rollups_in(&path), 0, "neither sample was written");
}
