//! The Rust receiver that `docs/receiving.md` shows, compiled here so the guide's code is known
//! to build and work: the receiving test checks the guide shows this code verbatim, serves it
//! behind a real HTTP server, delivers to it and runs `hookline check-receiver` against it.
//! Everything from the first `use` to the end of `handle` is the guide's text.

use std::collections::HashSet;

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use standardwebhooks::Webhook;

/// The HTTP status to answer a Hookline request with; `body` is the raw bytes received.
/// `seen` holds the webhook-ids already processed (in production, your database).
pub fn handle(webhook: &Webhook, seen: &mut HashSet<String>, headers: &HeaderMap, body: &[u8]) -> StatusCode {
    if webhook.verify(body, headers).is_err() {
        return StatusCode::BAD_REQUEST; // forged, altered, stale or unsigned
    }
    let Some(id) = headers.get("webhook-id").and_then(|id| id.to_str().ok()) else { return StatusCode::BAD_REQUEST };
    if seen.contains(id) {
        return StatusCode::NO_CONTENT; // a retry of an event already processed
    }
    let Ok(event) = serde_json::from_slice::<Value>(body) else { return StatusCode::BAD_REQUEST };
    process(event); // your code; keep it quick: queue slow work
    seen.insert(id.to_owned());
    StatusCode::NO_CONTENT
}

/// Stands for the reader's code: records the ids of the events processed, for the test.
fn process(event: Value) {
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    PROCESSED.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(id);
}

static PROCESSED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The ids of every event `handle` processed, in order.
pub fn processed() -> Vec<String> {
    PROCESSED.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

/// Serves `handle` on a loopback port for `secret`; the URL to register.
pub async fn serve(secret: &str) -> String {
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::extract::State;

    type Shared = Arc<(Webhook, Mutex<HashSet<String>>)>;
    async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let (webhook, seen) = &*shared;
        let mut seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        handle(webhook, &mut seen, &headers, &body)
    }
    let shared: Shared = Arc::new((Webhook::new(secret).unwrap(), Mutex::new(HashSet::new())));
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
