//! Helpers for Hookline's integration tests: a real server on a random port over a fresh
//! SQLite file (`spawn_app`), and a real HTTP receiver whose answers a test can script.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod app;
pub mod emulator;
pub mod fault_report;
pub mod fault_run;
pub mod faults;
pub mod functions;
pub mod guide_receiver;
pub mod iam;
pub mod receiver;
pub mod stream;
pub mod tokens;

pub use app::{TestApp, fast_retries, spawn_app, spawn_app_with, temp_path, test_config};
pub use receiver::{Received, TestReceiver};

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` until it returns `Some`, or panics after `limit` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
