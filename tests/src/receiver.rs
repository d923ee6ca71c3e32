//! `TestReceiver`: a real HTTP server on a loopback port that records every request and
//! answers with a status the test can change mid-test (a script of statuses, then a default).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hookline_core::domain::secret::SigningSecret;
use hookline_core::domain::signing::verify;
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
    /// When it arrived.
    pub at: std::time::Instant,
    /// The status it was answered with.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Checks the Standard Webhooks signature with `secret`.
    pub fn verifies_with(&self, secret: &str) -> bool {
        let secret = SigningSecret::parse(secret).unwrap();
        let timestamp: i64 = self.header("webhook-timestamp").parse().unwrap();
        verify(&secret, self.header("webhook-id"), timestamp, self.body.as_bytes(), self.header("webhook-signature"))
    }
}

#[derive(Clone, Copy)]
struct Reply {
    status: u16,
    delay: Duration,
    retry_after: Option<u64>,
}

struct Shared {
    requests: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    /// Every `n`th request (counted from 1) gets the reply, the first rule that matches.
    every: Mutex<Vec<(usize, Reply)>>,
    count: std::sync::atomic::AtomicUsize,
    default: Mutex<Reply>,
}

#[derive(Clone)]
pub struct TestReceiver {
    /// The URL to register: `http://127.0.0.1:PORT/hook`.
    pub url: String,
    shared: Arc<Shared>,
}

impl TestReceiver {
    /// A receiver answering 200 to everything.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            every: Mutex::new(Vec::new()),
            count: std::sync::atomic::AtomicUsize::new(0),
            default: Mutex::new(Reply { status: 200, delay: Duration::ZERO, retry_after: None }),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new().fallback(record).with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, shared }
    }

    /// From now on, answer every request with `status`.
    pub fn always(&self, status: u16) -> &Self {
        self.shared.default.lock().unwrap().status = status;
        self
    }

    /// Answer every request after waiting `delay`.
    pub fn delay_all(&self, delay: Duration) -> &Self {
        self.shared.default.lock().unwrap().delay = delay;
        self
    }

    /// Answer the next requests with these statuses, in order, then fall back to the default.
    pub fn then(&self, statuses: &[u16]) -> &Self {
        let mut script = self.shared.script.lock().unwrap();
        let default = *self.shared.default.lock().unwrap();
        script.extend(statuses.iter().map(|status| Reply { status: *status, ..default }));
        self
    }

    /// Answer the next request with `status` and a `Retry-After: seconds` header.
    pub fn then_retry_after(&self, status: u16, seconds: u64) -> &Self {
        let default = *self.shared.default.lock().unwrap();
        self.shared.script.lock().unwrap().push_back(Reply { status, retry_after: Some(seconds), ..default });
        self
    }

    /// From now on, answer every `n`th request with `status` after waiting `delay` (a request
    /// the script answers is counted too).
    pub fn every(&self, n: usize, status: u16, delay: Duration) -> &Self {
        self.shared.every.lock().unwrap().push((n.max(1), Reply { status, delay, retry_after: None }));
        self
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests arrived and returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        self.wait_for_within(count, Duration::from_secs(15)).await
    }

    pub async fn wait_for_within(&self, count: usize, limit: Duration) -> Vec<Received> {
        crate::eventually(&format!("{count} requests at {}", self.url), limit, || async {
            let received = self.received();
            (received.len() >= count).then_some(received)
        })
        .await
    }
}

async fn record(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = {
        let number = shared.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let rule = shared.every.lock().unwrap().iter().find(|(n, _)| number % n == 0).map(|(_, reply)| *reply);
        let next = shared.script.lock().unwrap().pop_front();
        next.or(rule).unwrap_or_else(|| *shared.default.lock().unwrap())
    };
    tokio::time::sleep(reply.delay).await;
    let received =
        Received { headers, body: String::from_utf8_lossy(&body).into_owned(), at: std::time::Instant::now(), status: reply.status };
    shared.requests.lock().unwrap().push(received);
    let status = StatusCode::from_u16(reply.status).unwrap();
    match reply.retry_after {
        Some(seconds) => (status, [("retry-after", seconds.to_string())], "slow down").into_response(),
        None => (status, format!("answered {}", reply.status)).into_response(),
    }
}
