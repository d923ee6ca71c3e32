//! The workloads: the same events published three ways, delivered to a loopback receiver,
//! with every SDK request counted from the first publish to the last delivery.

use std::time::{Duration, Instant};

use hookline_core::adapters::aws::CountRequests;
use hookline_core::domain::catalog;
use hookline_tests::TestReceiver;
use hookline_tests::emulator::Emulator;
use hookline_tests::functions::{Functions, sample_event, spawn_functions_with};
use serde_json::{Value, json};

use crate::bill::{self, TableState};
use crate::{Cost, Invocations};

async fn setup(endpoint: &str) -> (Functions, CountRequests, TestReceiver) {
    let counter = CountRequests::default();
    let functions = spawn_functions_with(Emulator::connect_to(endpoint, Some(counter.clone())).await, 3, "1").await;
    (functions, counter, TestReceiver::start().await)
}

pub async fn subscribe(functions: &Functions, url: &str, events: &[&str]) {
    let (status, body) = functions.call("POST", "/api/v1/webhooks", Some(json!({"name": "bench", "url": url, "events": events}))).await;
    assert_eq!(status, 201, "{body}");
}

pub fn request(event_type: &str, id: &str) -> Value {
    json!({"id": id, "event_type": event_type, "data": catalog::find(event_type).unwrap().example})
}

/// An inbound-queue batch of these publish requests, as the Lambda SQS poller hands it over.
fn queue_batch(requests: &[Value]) -> Value {
    let template = sample_event("ingest-sqs", &[])["Records"][0].clone();
    let records: Vec<Value> = requests
        .iter()
        .enumerate()
        .map(|(n, body)| {
            let mut record = template.clone();
            record["messageId"] = json!(format!("{}-{n}", body["id"].as_str().unwrap()));
            record["body"] = json!(body.to_string());
            record
        })
        .collect();
    json!({ "Records": records })
}

/// Runs the stream's and the delivery queue's pollers until the receiver got `expected`
/// requests; returns how many times it invoked `deliver` (polls that received something). The
/// fan-out's invocations of `ingest` are counted in `Functions::fan_out_invocations`.
async fn drain(functions: &Functions, receiver: &TestReceiver, expected: usize) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut invocations = 0;
    while receiver.received().len() < expected {
        assert!(Instant::now() < deadline, "deliveries did not finish");
        if functions.poll().await.received == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        } else {
            invocations += 1;
        }
    }
    // The stream's last records: the attempts still gathering, counted into the rollups.
    functions.count_attempts().await;
    invocations
}

/// The invocations of `ingest` by the table's stream so far.
fn fanned_out(functions: &Functions) -> u64 {
    functions.fan_out_invocations.load(std::sync::atomic::Ordering::Relaxed)
}

/// Publishes through `ingest` in batches of ten; returns the invocations.
pub async fn publish_in_batches(functions: &Functions, requests: &[Value]) -> u64 {
    for batch in requests.chunks(10) {
        let answer = functions.ingest(queue_batch(batch)).await;
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    }
    requests.chunks(10).len() as u64
}

/// What the workload cost, read once it is over.
async fn cost(
    name: String,
    functions: &Functions,
    counter: &CountRequests,
    deliveries: usize,
    started: Instant,
    invocations: Invocations,
) -> Cost {
    let seconds = started.elapsed().as_secs_f64();
    let (counts, requests) = (counter.0.snapshot(), counter.0.dynamodb_requests());
    let state = TableState::read(&functions.emulator.dynamodb, &functions.table).await;
    let (units, units_by_operation) = bill::total(&state, &requests);
    Cost { name, deliveries, seconds, counts, units, units_by_operation, invocations }
}

/// Events from the inbound queue in batches of ten, one webhook.
pub async fn queued_batches(endpoint: &str, events: usize) -> Cost {
    let (functions, counter, receiver) = setup(endpoint).await;
    subscribe(&functions, &receiver.url, &["invoice.*"]).await;
    let requests: Vec<Value> = (0..events).map(|n| request("invoice.paid", &format!("evt_bench_q{n}"))).collect();
    counter.0.reset();
    let started = Instant::now();
    let ingest = publish_in_batches(&functions, &requests).await;
    let deliver = drain(&functions, &receiver, events).await;
    let ingest = ingest + fanned_out(&functions);
    let name = "inbound queue, batches of 10, 1 webhook".into();
    cost(name, &functions, &counter, events, started, Invocations { ingest, deliver, http: 0 }).await
}

/// Events from the inbound queue in batches of ten, each to `webhooks` webhooks.
pub async fn fan_out(endpoint: &str, events: usize, webhooks: usize) -> Cost {
    let (functions, counter, receiver) = setup(endpoint).await;
    for _ in 0..webhooks {
        subscribe(&functions, &receiver.url, &["network.*"]).await;
    }
    let requests: Vec<Value> = (0..events).map(|n| request("network.device.down", &format!("evt_bench_f{n}"))).collect();
    counter.0.reset();
    let started = Instant::now();
    let ingest = publish_in_batches(&functions, &requests).await;
    let deliver = drain(&functions, &receiver, events * webhooks).await;
    let ingest = ingest + fanned_out(&functions);
    let name = format!("inbound queue, batches of 10, {webhooks} webhooks");
    cost(name, &functions, &counter, events * webhooks, started, Invocations { ingest, deliver, http: 0 }).await
}

/// One `POST /api/v1/events` per event through API Gateway, one webhook.
pub async fn http_single(endpoint: &str, events: usize) -> Cost {
    let (functions, counter, receiver) = setup(endpoint).await;
    subscribe(&functions, &receiver.url, &["ticket.*"]).await;
    let (status, key) = functions.call("POST", "/api/v1/api-keys", Some(json!({"name": "bench"}))).await;
    assert_eq!(status, 201, "{key}");
    let template =
        sample_event("ingest-http-publish", &[("hk_0000000000000000_sample-key-replaced-by-tests", key["key"].as_str().unwrap())]);
    counter.0.reset();
    let started = Instant::now();
    for n in 0..events {
        let mut event = template.clone();
        event["body"] = json!(request("ticket.created", &format!("evt_bench_h{n}")).to_string());
        let answer = functions.ingest(event).await;
        assert_eq!(answer["statusCode"], 202, "{answer}");
    }
    let deliver = drain(&functions, &receiver, events).await;
    let name = "API Gateway, one event per request, 1 webhook".into();
    let invocations = Invocations { ingest: events as u64 + fanned_out(&functions), deliver, http: events as u64 };
    cost(name, &functions, &counter, events, started, invocations).await
}
