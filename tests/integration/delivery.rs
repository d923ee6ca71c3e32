//! Delivery behaviour: signing, retries, dead-lettering, 410, filters, duplicates.

use std::time::Duration;

use hookline_tests::{TestReceiver, eventually, spawn_app};
use serde_json::{Value, json};

fn customer() -> Value {
    json!({"id": 123, "portal_id": "100123", "full_name": "John Doe", "email": "john@example.com"})
}

#[tokio::test]
async fn a_published_event_arrives_signed_with_the_standard_webhooks_headers() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    let webhook = app.create_webhook(&receiver.url, &["customer.created"], json!({"headers": {"X-Tenant": "acme"}})).await;
    let published = app.publish("customer.created", customer()).await;
    assert_eq!(published["deliveries"], 1);

    let request = receiver.wait_for(1).await.remove(0);
    assert!(request.verifies_with(webhook["secret"].as_str().unwrap()));
    assert_eq!(request.header("webhook-id"), published["id"]);
    assert_eq!(request.header("content-type"), "application/json");
    assert!(request.header("user-agent").starts_with("Hookline/"));
    assert_eq!(request.header("x-hookline-event-type"), "customer.created");
    assert_eq!(request.header("x-hookline-attempt"), "1");
    assert!(request.header("x-hookline-delivery-id").starts_with("dlv_"));
    assert_eq!(request.header("x-tenant"), "acme");
    let body = request.json();
    assert_eq!(body["id"], published["id"]);
    assert_eq!(body["event_type"], "customer.created");
    assert_eq!(body["data"], customer());
    assert_eq!(body["metadata"]["source"], "api");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    let deliveries = app.settled_deliveries(webhook["id"].as_str().unwrap(), 1).await;
    assert_eq!(deliveries[0]["status"], "succeeded");
}

#[tokio::test]
async fn retries_after_a_503_and_succeeds_on_the_second_attempt() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    receiver.then(&[503]);
    let webhook = app.create_webhook(&receiver.url, &["invoice.paid"], json!({})).await;
    app.publish("invoice.paid", json!({"invoice_id": "INV-1", "customer_id": 1, "amount": 10, "paid_at": "2024-02-01T09:00:00Z"})).await;

    let requests = receiver.wait_for(2).await;
    assert_eq!(requests[0].header("webhook-id"), requests[1].header("webhook-id"));
    assert_eq!(requests[1].header("x-hookline-attempt"), "2");
    assert!(requests[1].verifies_with(webhook["secret"].as_str().unwrap()));
    let delivery = &app.settled_deliveries(webhook["id"].as_str().unwrap(), 1).await[0];
    assert_eq!(delivery["status"], "succeeded");
    assert_eq!(delivery["attempts"], 2);
    let (_, detail) = app.get(&format!("/api/v1/webhooks/deliveries/{}", delivery["id"].as_str().unwrap())).await;
    let attempts = detail["attempts_log"].as_array().unwrap();
    assert_eq!(attempts[0]["status_code"], 503);
    assert_eq!(attempts[0]["error_kind"], "http_status");
    assert!(attempts[0]["next_attempt_at"].is_string());
    assert_eq!(attempts[1]["status_code"], 200);
    assert!(attempts[1]["next_attempt_at"].is_null());
}

#[tokio::test]
async fn a_receiver_that_always_fails_ends_dead_after_exactly_the_configured_attempts() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    receiver.always(500);
    let policy = json!({"retry_policy": {"max_attempts": 4, "schedule_secs": [0.05, 0.05, 0.05], "jitter": 0}});
    let webhook = app.create_webhook(&receiver.url, &["ticket.created"], policy).await;
    app.publish("ticket.created", json!({"ticket_id": "T-1", "subject": "No internet", "priority": "high"})).await;

    let delivery = &app.settled_deliveries(webhook["id"].as_str().unwrap(), 1).await[0];
    assert_eq!(delivery["status"], "dead");
    assert_eq!(delivery["attempts"], 4);
    assert_eq!(delivery["last_error"], "HTTP 500");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 4, "no attempt after the last one");
    let (_, dead) = app.get("/api/v1/webhooks/deliveries?status=dead").await;
    assert!(dead["data"].as_array().unwrap().iter().any(|d| d["id"] == delivery["id"]));
}

#[tokio::test]
async fn the_deployment_default_policy_applies_when_a_webhook_sets_none() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    receiver.always(502);
    let webhook = app.create_webhook(&receiver.url, &["auth.failed"], json!({})).await;
    app.publish("auth.failed", json!({"username": "jdoe", "reason": "bad password"})).await;
    let delivery = &app.settled_deliveries(webhook["id"].as_str().unwrap(), 1).await[0];
    assert_eq!(delivery["status"], "dead");
    assert_eq!(delivery["attempts"], 3, "the test deployment allows 3 attempts");
}

#[tokio::test]
async fn retry_after_on_a_429_delays_the_next_attempt() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    receiver.then_retry_after(429, 1);
    let webhook = app.create_webhook(&receiver.url, &["auth.login"], json!({})).await;
    app.publish("auth.login", json!({"user_id": "u-1"})).await;
    let delivery = &app.settled_deliveries(webhook["id"].as_str().unwrap(), 1).await[0];
    let (_, detail) = app.get(&format!("/api/v1/webhooks/deliveries/{}", delivery["id"].as_str().unwrap())).await;
    let attempts = detail["attempts_log"].as_array().unwrap();
    let first: chrono::DateTime<chrono::Utc> = attempts[0]["started_at"].as_str().unwrap().parse().unwrap();
    let second: chrono::DateTime<chrono::Utc> = attempts[1]["started_at"].as_str().unwrap().parse().unwrap();
    assert!(second - first >= chrono::Duration::milliseconds(950), "waited only {:?}", second - first);
}

#[tokio::test]
async fn inactive_and_non_matching_webhooks_get_nothing() {
    let app = spawn_app().await;
    let (matching, inactive, other) = (TestReceiver::start().await, TestReceiver::start().await, TestReceiver::start().await);
    app.create_webhook(&matching.url, &["network.*"], json!({})).await;
    app.create_webhook(&inactive.url, &["network.*"], json!({"is_active": false})).await;
    app.create_webhook(&other.url, &["invoice.*"], json!({})).await;
    let published = app.publish("network.device.down", json!({"device_id": "DEV-1"})).await;
    assert_eq!(published["deliveries"], 2, "the paused webhook's delivery is created, held");
    matching.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(inactive.received().is_empty());
    assert!(other.received().is_empty());
    let (_, held) = app.get("/api/v1/webhooks/deliveries?status=held").await;
    assert_eq!(held["data"].as_array().unwrap().len(), 1, "{held}");
}

#[tokio::test]
async fn a_410_deactivates_the_webhook_with_a_reason() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    receiver.always(410);
    let webhook = app.create_webhook(&receiver.url, &["service.*"], json!({})).await;
    let id = webhook["id"].as_str().unwrap();
    app.publish("service.activated", json!({"service_id": 1, "customer_id": 2, "service_type": "internet"})).await;
    let delivery = &app.settled_deliveries(id, 1).await[0];
    assert_eq!(delivery["status"], "dead");
    assert_eq!(delivery["attempts"], 1, "410 is not retried");
    // The webhook is disabled right after the attempt that made the delivery dead is recorded.
    let webhook = eventually("the webhook to be disabled", Duration::from_secs(5), || async {
        let (_, webhook) = app.get(&format!("/api/v1/webhooks/{id}")).await;
        (webhook["state"] == "disabled").then_some(webhook)
    })
    .await;
    assert_eq!(webhook["is_active"], false);
    assert!(webhook["disabled_reason"].as_str().unwrap().contains("410"));
    assert_eq!(webhook["state"], "disabled");
    let again = app.publish("service.suspended", json!({"service_id": 1, "customer_id": 2, "reason": "unpaid"})).await;
    assert_eq!(again["deliveries"], 1, "kept, held, for when the webhook is enabled");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "a disabled webhook is not attempted");
}

#[tokio::test]
async fn publishing_the_same_event_id_twice_delivers_once() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    let webhook = app.create_webhook(&receiver.url, &["*"], json!({})).await;
    let event = json!({"id": "evt_fixed_1", "event_type": "auth.logout", "data": {"user_id": "u-7"}});
    let (first_status, first) = app.post("/api/v1/events", &event).await;
    let (second_status, second) = app.post("/api/v1/events", &event).await;
    assert_eq!((first_status, first["duplicate"].clone()), (202, json!(false)));
    assert_eq!((second_status, second["duplicate"].clone()), (200, json!(true)));
    assert_eq!(second["id"], "evt_fixed_1");
    receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(app.settled_deliveries(webhook["id"].as_str().unwrap(), 1).await.len(), 1);
}

#[tokio::test]
async fn the_test_route_sends_a_signed_ping_and_returns_the_attempt() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    let webhook = app.create_webhook(&receiver.url, &["auth.*"], json!({})).await;
    let (status, outcome) = app.post(&format!("/api/v1/webhooks/{}/test", webhook["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["success"], true);
    assert_eq!(outcome["attempt"]["status_code"], 200);
    let ping = receiver.wait_for(1).await.remove(0);
    assert_eq!(ping.header("x-hookline-event-type"), "webhook.test");
    assert!(ping.verifies_with(webhook["secret"].as_str().unwrap()));

    receiver.always(500);
    let (_, failed) = app.post(&format!("/api/v1/webhooks/{}/test", webhook["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(failed["success"], false);
    assert_eq!(failed["attempt"]["status_code"], 500);
}

#[tokio::test]
async fn one_slow_endpoint_does_not_hold_up_the_others() {
    let app = spawn_app().await;
    let (slow, fast) = (TestReceiver::start().await, TestReceiver::start().await);
    slow.delay_all(Duration::from_secs(6));
    app.create_webhook(&slow.url, &["ticket.*"], json!({})).await;
    app.create_webhook(&fast.url, &["ticket.*"], json!({})).await;
    for n in 0..40 {
        app.publish("ticket.assigned", json!({"ticket_id": format!("T-{n}"), "assignee": "agent"})).await;
    }
    fast.wait_for_within(40, Duration::from_secs(4)).await;
    assert!(slow.received().is_empty(), "the slow endpoint has not answered yet, yet the fast one got everything");
}

#[tokio::test]
async fn deleting_a_webhook_cancels_its_pending_deliveries() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    receiver.always(503);
    let slow_policy = json!({"retry_policy": {"max_attempts": 5, "schedule_secs": [60], "jitter": 0}});
    let webhook = app.create_webhook(&receiver.url, &["invoice.overdue"], slow_policy).await;
    let id = webhook["id"].as_str().unwrap();
    let data = json!({"invoice_id": "I-1", "customer_id": 1, "amount": 5, "due_date": "2024-01-01", "days_overdue": 3});
    app.publish("invoice.overdue", data).await;
    receiver.wait_for(1).await;
    let (_, page) = hookline_tests::eventually("a retrying delivery", Duration::from_secs(5), || async {
        let page = app.get("/api/v1/webhooks/deliveries?status=retrying").await;
        (!page.1["data"].as_array().unwrap().is_empty()).then_some(page)
    })
    .await;
    let delivery_id = page["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = app.call("DELETE", &format!("/api/v1/webhooks/{id}"), None).await;
    assert_eq!(status, 204);
    let (_, delivery) = app.get(&format!("/api/v1/webhooks/deliveries/{delivery_id}")).await;
    assert_eq!(delivery["status"], "cancelled");
    assert_eq!(delivery["last_error"], "webhook was deleted");
    assert_eq!(delivery["attempts_log"].as_array().unwrap().len(), 1, "its attempt history is kept");
}

/// W3C Trace Context: each attempt carries a child of the publisher's `traceparent` (same
/// trace, a span of its own); without one, or with one that does not parse, the event starts
/// a trace of its own.
#[tokio::test]
async fn every_attempt_is_a_child_span_of_the_publishers_trace() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    receiver.then(&[503]);
    app.create_webhook(&receiver.url, &["customer.created"], json!({"retry_policy": {"max_attempts": 2, "schedule_secs": [0.05]}})).await;
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert_eq!(publish_traced(&app, parent).await, 202);
    let attempts = receiver.wait_for(2).await;
    let spans: Vec<Vec<&str>> = attempts.iter().map(|r| r.header("traceparent").split('-').collect()).collect();
    for span in &spans {
        assert_eq!((span[0], span[1], span[3]), ("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01"), "{span:?}");
        assert_ne!(span[2], "00f067aa0ba902b7", "a span of its own");
    }
    assert_ne!(spans[0][2], spans[1][2], "each attempt is its own span");

    assert_eq!(publish_traced(&app, "not-a-traceparent").await, 202);
    let third = receiver.wait_for(3).await.remove(2);
    let own: Vec<&str> = third.header("traceparent").split('-').collect();
    assert_eq!((own.len(), own[1].len(), own[2].len()), (4, 32, 16));
    assert_ne!(own[1], "4bf92f3577b34da6a3ce929d0e0e4736", "a new trace");
}

async fn publish_traced(app: &hookline_tests::TestApp, traceparent: &str) -> u16 {
    let headers = [("x-api-key", app.api_key.as_str()), ("traceparent", traceparent)];
    let body = json!({"event_type": "customer.created", "data": customer()});
    app.call_with("POST", "/api/v1/events", Some(&body), &headers).await.0
}
