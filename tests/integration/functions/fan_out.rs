//! Fan-out from the table's stream: publishing is one write and answers after it; the stream
//! hands what was recorded to `ingest` at least once, and a fan-out killed between any two of
//! its steps finishes when the batch is handed over again, with one delivery record per event.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use hookline_core::adapters::aws::{CountRequests, is_dynamodb_write};
use hookline_lambda::ingest;
use hookline_tests::TestReceiver;
use hookline_tests::emulator::{Emulator, endpoint};
use hookline_tests::faults::{FaultCounts, FaultLayer, FaultPlan};
use hookline_tests::functions::{Functions, QueueSettings, sample_event, spawn_functions, spawn_functions_over, spawn_functions_with};
use serde_json::{Value, json};

use super::{SAMPLE_KEY, create_webhook, deliveries_of, record};

#[tokio::test]
async fn a_single_http_publish_is_one_write_and_no_queue_request_before_its_202() {
    let counter = CountRequests::default();
    let functions = spawn_functions_with(Emulator::connect_to(&endpoint(), Some(counter.clone())).await, 3, "1").await;
    let receiver = TestReceiver::start().await;
    for _ in 0..3 {
        create_webhook(&functions, &receiver.url, &["invoice.*"]).await;
    }
    let (status, key) = functions.call("POST", "/api/v1/api-keys", Some(json!({"name": "publisher"}))).await;
    assert_eq!(status, 201, "{key}");
    let request =
        |id: &str| sample_event("ingest-http-publish", &[(SAMPLE_KEY, key["key"].as_str().unwrap_or_default()), ("evt_sample_http_1", id)]);
    // The key's first use stamps it (then at most once a minute); the second publish is measured.
    assert_eq!(functions.ingest(request("evt_first")).await["statusCode"], 202);
    counter.0.reset();
    let answer = functions.ingest(request("evt_second")).await;
    assert_eq!(answer["statusCode"], 202, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(body["deliveries"], 3, "the answer says how many deliveries follow: {body}");
    let requests = counter.0.snapshot();
    let writes: Vec<_> =
        requests.iter().filter(|((service, operation), _)| service == "DynamoDB" && is_dynamodb_write(operation)).collect();
    assert_eq!(writes.iter().map(|(_, count)| **count).sum::<u64>(), 1, "one write before the 202: {requests:?}");
    assert!(!requests.keys().any(|(service, _)| service == "SQS"), "no queue request before the 202: {requests:?}");

    assert_eq!(functions.fan_out().await, 2);
    while functions.poll().await.received > 0 {}
    assert_eq!(receiver.wait_for(6).await.len(), 6, "one delivery of each event to each webhook");
}

/// Killed before it sent its tasks (it writes nothing: a task carries its delivery, stored
/// with its first attempt); then handed over twice more as if Lambda never heard the answer.
/// The consumer that finds a delivery stored already does not send it again, and one killed
/// between sending and storing sends it again under the same webhook-id.
#[tokio::test]
async fn a_fan_out_killed_between_its_steps_finishes_when_the_stream_hands_it_over_again() {
    let queue = QueueSettings { visibility: Duration::from_secs(2), ..QueueSettings::default() };
    let functions = spawn_functions_over(Emulator::connect().await, 3, "1", &[], queue).await;
    let receiver = TestReceiver::start().await;
    let (webhook, _) = create_webhook(&functions, &receiver.url, &["invoice.*"]).await;
    let mut ids = BTreeSet::new();
    for _ in 0..3 {
        assert_eq!(record(&functions, "invoice.paid").await["published"], 1);
    }
    let batches = functions.stream.take().await;
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    killed_at(&functions, "SendMessageBatch", batch).await;
    assert_eq!(functions.visible_tasks().await, 0, "the killed fan-out sent no task");
    assert_eq!(deliveries_of(&functions, &webhook).await.len(), 0, "and stored nothing");
    for _ in 0..2 {
        let answer = ingest::handle(&functions.ingest_function, batch.clone()).await.unwrap();
        assert_eq!((answer["events"].as_u64(), answer["deliveries"].as_u64()), (Some(3), Some(3)), "{answer}");
    }
    assert_eq!(functions.visible_tasks().await, 6, "each delivery's task twice");
    let layer = FaultLayer::new(FaultPlan { kill_before_record: 1.0, ..FaultPlan::default() }, Arc::new(FaultCounts::default()));
    let doomed = functions.cold_start("deliver", Some(&layer)).await;
    tokio::select! {
        poll = functions.poll_by(&doomed, 1) => panic!("not killed before storing its first attempt: {poll:?}"),
        () = layer.killed() => {}
    }
    assert_eq!(receiver.wait_for(1).await.len(), 1, "sent before it was killed");
    while functions.poll().await.received > 0 {}
    assert_eq!(functions.poll_when_due(Duration::from_secs(10)).await.received, 1, "the killed one's task, back after its visibility");
    let deliveries = deliveries_of(&functions, &webhook).await;
    assert_eq!(deliveries.len(), 3, "one record per event: {deliveries:?}");
    assert!(deliveries.iter().all(|d| d["status"] == "succeeded" && d["attempts"] == 1), "{deliveries:?}");
    for request in receiver.received() {
        ids.insert(request.header("webhook-id").to_owned());
    }
    let events: BTreeSet<String> = deliveries.iter().map(|d| d["event_id"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(ids, events, "the receiver saw every event, and repeats only under the same webhook-id");
}

/// `ingest` with a fault layer that kills it at its first `operation` call.
async fn killed_at(functions: &Functions, operation: &'static str, batch: &Value) {
    let layer = FaultLayer::new(FaultPlan { kill_at: Some(operation), ..FaultPlan::default() }, Arc::new(FaultCounts::default()));
    let doomed = functions.cold_start("ingest", Some(&layer)).await;
    tokio::select! {
        answer = ingest::handle(&doomed, batch.clone()) => panic!("not killed at {operation}: {answer:?}"),
        () = layer.killed() => {}
    }
}

/// An event id whose event expired (TTL deletes late) is free again: publishing it deletes the
/// expired item first, so the stream sees an insert and fans the new event out.
#[tokio::test]
async fn an_id_whose_event_expired_is_published_and_fanned_out_anew() {
    let functions = spawn_functions(3, "1").await;
    let receiver = TestReceiver::start().await;
    create_webhook(&functions, &receiver.url, &["invoice.*"]).await;
    let mut event = sample_event("ingest-eventbridge", &[]);
    event["detail-type"] = json!("invoice.paid");
    event["detail"] = hookline_core::domain::catalog::find("invoice.paid").map(|t| t.example.clone()).unwrap_or_default();
    let id = format!("evt_{}", event["id"].as_str().unwrap_or_default());
    let expired =
        [("PK", format!("EVT#{id}")), ("SK", "META".into()), ("event_type", "invoice.paid".into()), ("fingerprint", "old".into())];
    let mut put = functions.emulator.dynamodb.put_item().table_name(&functions.table).item("expires_at", AttributeValue::N("1".into()));
    for (name, value) in expired {
        put = put.item(name, AttributeValue::S(value));
    }
    put.send().await.unwrap();
    assert_eq!(functions.ingest(event).await["published"], 1, "not a duplicate of the expired event");
    assert_eq!(functions.fan_out().await, 1);
    while functions.poll().await.received > 0 {}
    assert_eq!(receiver.wait_for(1).await[0].header("webhook-id"), id);
}
