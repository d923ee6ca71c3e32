//! Deliveries carried by their tasks until their first attempt (DynamoDB stores a delivery with
//! it, one write instead of two): what becomes of one whose webhook or event changes before it
//! is attempted, and of one too large to carry.

use std::time::Duration;

use hookline_tests::TestReceiver;
use hookline_tests::functions::{Functions, sample_event, spawn_functions};
use serde_json::{Value, json};

use super::{create_webhook, deliveries_of};

/// Publishes `event_type` with `data` through the ingest function (as EventBridge would) and
/// fans it out; returns the event's id.
async fn publish_with(functions: &Functions, event_type: &str, data: Value) -> String {
    let mut event = sample_event("ingest-eventbridge", &[]);
    let source_id = hookline_tests::emulator::unique_name("carried");
    event["id"] = json!(source_id);
    event["detail-type"] = json!(event_type);
    event["detail"] = data;
    assert_eq!(functions.ingest(event).await["published"], 1);
    assert_eq!(functions.fan_out().await, 1);
    format!("evt_{source_id}")
}

fn example(event_type: &str) -> Value {
    hookline_core::domain::catalog::find(event_type).unwrap().example.clone()
}

#[tokio::test]
async fn a_carried_delivery_whose_webhook_was_paused_is_stored_held_and_sent_once_resumed() {
    let functions = spawn_functions(3, "1").await;
    let receiver = TestReceiver::start().await;
    let (webhook, _) = create_webhook(&functions, &receiver.url, &["invoice.*"]).await;
    publish_with(&functions, "invoice.paid", example("invoice.paid")).await;
    assert!(deliveries_of(&functions, &webhook).await.is_empty(), "not stored before its first attempt");
    let (status, paused) = functions
        .call(
            "PUT",
            &format!("/api/v1/webhooks/{webhook}"),
            Some(json!({"name": "e2e", "url": receiver.url, "events": ["invoice.*"], "is_active": false})),
        )
        .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(functions.poll().await.received, 1);
    let held = deliveries_of(&functions, &webhook).await;
    assert_eq!(held.iter().map(|d| d["status"].as_str().unwrap()).collect::<Vec<_>>(), ["held"], "{held:?}");
    assert!(receiver.received().is_empty());
    let (status, enabled) = functions.call("POST", &format!("/api/v1/webhooks/{webhook}/enable"), None).await;
    assert_eq!(status, 200, "{enabled}");
    functions.poll_when_due(Duration::from_secs(10)).await;
    assert_eq!(receiver.wait_for(1).await.len(), 1);
    let sent = deliveries_of(&functions, &webhook).await;
    assert_eq!((sent.len(), sent[0]["status"].as_str(), sent[0]["attempts"].as_u64()), (1, Some("succeeded"), Some(1)), "{sent:?}");
}

#[tokio::test]
async fn a_carried_delivery_of_an_event_erased_before_its_first_attempt_is_neither_sent_nor_stored() {
    let functions = spawn_functions(3, "1").await;
    let receiver = TestReceiver::start().await;
    let (webhook, _) = create_webhook(&functions, &receiver.url, &["invoice.*"]).await;
    let event = publish_with(&functions, "invoice.paid", example("invoice.paid")).await;
    let (status, erased) = functions.call("DELETE", &format!("/api/v1/events/{event}"), None).await;
    assert_eq!(status, 204, "{erased}");
    assert_eq!(functions.poll().await, hookline_tests::functions::Poll { received: 1, failed: 0 });
    assert!(receiver.received().is_empty(), "the erased content is not sent");
    assert!(deliveries_of(&functions, &webhook).await.is_empty());
    assert_eq!(functions.visible_tasks().await, 0, "its task is finished");
}

#[tokio::test]
async fn a_delivery_too_large_to_carry_is_stored_at_its_fan_out() {
    let functions = spawn_functions(3, "1").await;
    let receiver = TestReceiver::start().await;
    let (webhook, _) = create_webhook(&functions, &receiver.url, &["customer.*"]).await;
    let (status, updated) = functions
        .call(
            "PUT",
            &format!("/api/v1/webhooks/{webhook}"),
            Some(json!({"name": "e2e", "url": receiver.url, "events": ["customer.*"], "transform": "[data, data, data]"})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    let mut data = example("customer.created");
    data["full_name"] = json!("N".repeat(hookline_core::ports::MAX_CARRIED_BODY / 2));
    publish_with(&functions, "customer.created", data).await;
    let stored = deliveries_of(&functions, &webhook).await;
    assert_eq!(stored.iter().map(|d| d["status"].as_str().unwrap()).collect::<Vec<_>>(), ["pending"], "{stored:?}");
    assert_eq!(functions.poll().await.received, 1);
    let sent = receiver.wait_for(1).await;
    assert_eq!(sent[0].json().as_array().map(Vec::len), Some(3), "the transformed body");
    assert_eq!(deliveries_of(&functions, &webhook).await[0]["status"], "succeeded");
}
