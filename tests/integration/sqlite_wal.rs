//! The SQLite WAL stays bounded under steady writes while readers keep reading: passive
//! checkpoints alone cannot start it over while readers hold snapshots (it grew to 1.9 GB beside
//! a 54 MB database in the soak), so the writer starts it over past its limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hookline_core::adapters::sqlite::Db;
use hookline_tests::temp_path;

const LIMIT: u64 = 1024 * 1024;
const WRITES: usize = 4_000;
const BLOB: usize = 16 * 1024;

fn wal_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(format!("{}-wal", path.display())).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_while_readers_keep_reading() {
    let path = temp_path("wal-bound.db");
    let db = Arc::new(Db::open_with_wal_limit(&path, LIMIT).unwrap());
    db.write(|conn| Ok(conn.execute_batch("CREATE TABLE blobs (n INTEGER PRIMARY KEY, body BLOB NOT NULL)")?)).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, stop) = (db.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let sql = "SELECT COUNT(*) FROM blobs WHERE n > (SELECT MAX(n) FROM blobs) - 50";
                    db.read(move |conn| Ok(conn.query_row(sql, [], |row| row.get::<_, i64>(0))?)).await.unwrap();
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut peak = 0;
    for _ in 0..WRITES {
        db.write(|conn| Ok(conn.execute("INSERT INTO blobs (body) VALUES (randomblob(?1))", [BLOB]).map(|_| ())?)).await.unwrap();
        peak = peak.max(wal_size(&path));
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    let written = (WRITES * BLOB) as u64;
    eprintln!(
        "{} MiB written; WAL peak {:.1} MiB, at the end {:.1} MiB",
        written >> 20,
        peak as f64 / 1048576.0,
        wal_size(&path) as f64 / 1048576.0
    );
    assert!(peak < written / 8, "the WAL grew to {peak} bytes for {written} written");
}
