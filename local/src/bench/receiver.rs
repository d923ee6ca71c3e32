//! The benchmark's receiver: answers 200 at once and notes when each event arrived.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

#[derive(Default)]
struct Arrivals {
    count: AtomicUsize,
    /// First arrival of each event id (only recorded while `track` is on).
    first_seen: Mutex<HashMap<String, Instant>>,
    last: Mutex<Option<Instant>>,
}

#[derive(Clone)]
pub struct BenchReceiver {
    pub url: String,
    arrivals: Arc<Arrivals>,
}

impl BenchReceiver {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let arrivals = Arc::new(Arrivals::default());
        let app = Router::new().fallback(arrive).with_state(arrivals.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, arrivals })
    }

    pub fn reset(&self) {
        self.arrivals.count.store(0, Ordering::SeqCst);
        if let Ok(mut seen) = self.arrivals.first_seen.lock() {
            seen.clear();
        }
        if let Ok(mut last) = self.arrivals.last.lock() {
            *last = None;
        }
    }

    pub fn count(&self) -> usize {
        self.arrivals.count.load(Ordering::SeqCst)
    }

    pub fn last_arrival(&self) -> Option<Instant> {
        self.arrivals.last.lock().ok().and_then(|last| *last)
    }

    pub fn arrival_of(&self, event_id: &str) -> Option<Instant> {
        self.arrivals.first_seen.lock().ok().and_then(|seen| seen.get(event_id).copied())
    }
}

async fn arrive(State(arrivals): State<Arc<Arrivals>>, headers: HeaderMap) -> StatusCode {
    let now = Instant::now();
    if let (Some(id), Ok(mut seen)) = (headers.get("webhook-id").and_then(|v| v.to_str().ok()), arrivals.first_seen.lock()) {
        seen.entry(id.to_owned()).or_insert(now);
    }
    if let Ok(mut last) = arrivals.last.lock() {
        *last = Some(now);
    }
    arrivals.count.fetch_add(1, Ordering::SeqCst);
    StatusCode::OK
}
