//! The Lambda functions' handlers over DynamoDB and SQS on the emulator: every sample event in
//! `events/`, and deliveries end to end with the queue drained the way the Lambda poller does.

mod bulk_replay;
mod carried;
mod end_to_end;
mod endpoint_health;
mod event_files;
mod fan_out;
mod faults;

use hookline_tests::functions::{Functions, sample_event};
use serde_json::{Value, json};

/// The API key the HTTP samples in `events/` carry; tests replace it with a real one.
pub const SAMPLE_KEY: &str = "hk_0000000000000000_sample-key-replaced-by-tests";

/// Registers a webhook through the API function; returns (id, secret).
pub async fn create_webhook(functions: &Functions, url: &str, events: &[&str]) -> (String, String) {
    let (status, created) = functions.call("POST", "/api/v1/webhooks", Some(json!({"name": "e2e", "url": url, "events": events}))).await;
    assert_eq!(status, 201, "{created}");
    (created["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned())
}

/// Publishes the catalog's example of `event_type` through the ingest function, as an
/// EventBridge rule would, and lets the table's stream hand it over to be fanned out.
pub async fn publish(functions: &Functions, event_type: &str) -> Value {
    let answer = record(functions, event_type).await;
    functions.fan_out().await;
    answer
}

/// `publish` without the fan-out: the event is recorded, and waits in the table's stream.
pub async fn record(functions: &Functions, event_type: &str) -> Value {
    let data = hookline_core::domain::catalog::find(event_type).unwrap().example.clone();
    let mut event = sample_event("ingest-eventbridge", &[]);
    event["id"] = json!(format!("{}", rand_id()));
    event["detail-type"] = json!(event_type);
    event["detail"] = data;
    functions.ingest(event).await
}

fn rand_id() -> String {
    hookline_tests::emulator::unique_name("eb")
}

/// The deliveries of a webhook through the API function.
pub async fn deliveries_of(functions: &Functions, webhook: &str) -> Vec<Value> {
    let (status, page) = functions.call("GET", &format!("/api/v1/webhooks/{webhook}/deliveries"), None).await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}
