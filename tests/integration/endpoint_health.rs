//! Endpoint health on the local server: a receiver that keeps failing makes its webhook
//! `failing` (deliveries held, never spent), probes bring it back and release what it held
//! oldest first at the recovery rate; a 410 disables it until someone enables it, with or
//! without what it held; an owner can pause and resume.

use std::sync::Arc;
use std::time::Duration;

use hookline_core::adapters::resolver::SystemResolver;
use hookline_core::config::Config;
use hookline_core::domain::health::HealthPolicy;
use hookline_tests::{TestApp, TestReceiver, eventually, spawn_app_with, temp_path};
use serde_json::{Value, json};

/// Failing after 3 failures at least 300 ms apart, probed every 300 ms, released at 10/s.
fn quick_health(config: &mut Config) {
    config.health = HealthPolicy {
        failing_after: 3,
        failing_min: Duration::from_millis(300),
        probe_interval: Duration::from_millis(300),
        probe_max: Duration::from_secs(1),
        disable_after: Duration::from_secs(3600),
        recovery_rate: 10.0,
    };
    config.maintenance_interval = Duration::from_millis(100);
}

async fn app_with(tune: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(temp_path("health.db"), tune, Arc::new(SystemResolver)).await
}

async fn state_of(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/webhooks/{id}")).await.1
}

async fn wait_for_state(app: &TestApp, id: &str, state: &str) -> Value {
    eventually(&format!("webhook {id} to be {state}"), Duration::from_secs(15), || async {
        let webhook = state_of(app, id).await;
        (webhook["state"] == state).then_some(webhook)
    })
    .await
}

async fn publish_customers(app: &TestApp, numbers: std::ops::Range<u32>) {
    for n in numbers {
        app.publish("customer.created", json!({"id": n, "full_name": format!("Customer {n}"), "email": "c@example.com"})).await;
    }
}

/// The customer ids of the requests answered 2xx, in the order they arrived, with when.
fn delivered_customers(receiver: &TestReceiver) -> Vec<(u64, std::time::Instant)> {
    receiver
        .received()
        .iter()
        .filter(|r| r.status < 300 && r.header("x-hookline-event-type") == "customer.created")
        .map(|r| (r.json()["data"]["id"].as_u64().unwrap(), r.at))
        .collect()
}

/// Waits until `count` customer events were answered 2xx, and returns them as above.
async fn wait_for_customers(receiver: &TestReceiver, count: usize) -> Vec<(u64, std::time::Instant)> {
    eventually(&format!("{count} customer events delivered"), Duration::from_secs(15), || async {
        let delivered = delivered_customers(receiver);
        (delivered.len() >= count).then_some(delivered)
    })
    .await
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_everything_published_meanwhile_oldest_first() {
    let app = app_with(quick_health).await;
    let (receiver, operator, everything) = (TestReceiver::start().await, TestReceiver::start().await, TestReceiver::start().await);
    receiver.always(503);
    let ops = app.create_webhook(&operator.url, &["hookline.*"], json!({})).await;
    app.create_webhook(&everything.url, &["*"], json!({})).await;
    let webhook = app.create_webhook(&receiver.url, &["customer.*"], json!({})).await;
    let id = webhook["id"].as_str().unwrap();
    publish_customers(&app, 0..5).await;
    let failing = wait_for_state(&app, id, "failing").await;
    assert_eq!(failing["is_active"], false);
    assert!(failing["health"]["failure_streak"].as_u64().unwrap() >= 3, "{failing}");
    assert!(failing["disabled_reason"].as_str().unwrap().contains("HTTP 503"), "{failing}");
    publish_customers(&app, 5..25).await;
    eventually("every delivery held, none dead", Duration::from_secs(15), || async {
        let deliveries = app.deliveries_of(id).await;
        let customers: Vec<&Value> = deliveries.iter().filter(|d| d["event_type"] == "customer.created").collect();
        (customers.len() == 25 && customers.iter().all(|d| d["status"] == "held")).then_some(())
    })
    .await;
    let attempts_while_failing = receiver.received().len();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let probes: Vec<_> =
        receiver.received()[attempts_while_failing..].iter().map(|r| r.header("x-hookline-event-type").to_owned()).collect();
    assert!(!probes.is_empty() && probes.iter().all(|t| t == "webhook.test"), "only probes while failing: {probes:?}");

    receiver.always(200);
    wait_for_state(&app, id, "active").await;
    let delivered = wait_for_customers(&receiver, 25).await;
    let order: Vec<u64> = delivered.iter().map(|(n, _)| *n).collect();
    assert_eq!(order, (0..25).collect::<Vec<_>>(), "released oldest first, each once");
    let span = delivered[24].1 - delivered[0].1;
    assert!(span >= Duration::from_millis(2_300), "25 released at 10/s take 2.4 s, took {span:?}");
    let deliveries = app.settled_deliveries(id, app.deliveries_of(id).await.len()).await;
    assert!(deliveries.iter().filter(|d| d["event_type"] == "customer.created").all(|d| d["status"] == "succeeded"));
    let healthy = state_of(&app, id).await;
    assert_eq!((healthy["health"]["failure_streak"].as_u64(), healthy["disabled_reason"].is_null()), (Some(0), true), "{healthy}");

    let told = operator.wait_for(2).await;
    let types: Vec<&str> = told.iter().map(|r| r.header("x-hookline-event-type")).collect();
    assert_eq!(types, ["hookline.webhook.failing", "hookline.webhook.recovered"]);
    assert!(told.iter().all(|r| r.verifies_with(ops["secret"].as_str().unwrap())), "signed like any delivery");
    assert_eq!(told[0].json()["data"]["webhook_id"], id);
    assert!(told[0].json()["data"]["reason"].as_str().unwrap().contains("HTTP 503"));
    assert_eq!(told[1].json()["data"]["released"], 25);
    assert!(
        everything.received().iter().all(|r| !r.header("x-hookline-event-type").starts_with("hookline.")),
        "`*` is the ISP's events only"
    );
}

#[tokio::test]
async fn a_disabled_webhook_holds_events_until_it_is_enabled_with_or_without_them() {
    let app = app_with(quick_health).await;
    let (kept, dropped, operator) = (TestReceiver::start().await, TestReceiver::start().await, TestReceiver::start().await);
    for receiver in [&kept, &dropped] {
        receiver.then(&[410]);
    }
    app.create_webhook(&operator.url, &["hookline.webhook.disabled", "hookline.delivery.dead"], json!({})).await;
    let keep = app.create_webhook(&kept.url, &["customer.*"], json!({})).await;
    let drop = app.create_webhook(&dropped.url, &["customer.*"], json!({})).await;
    let (keep, drop) = (keep["id"].as_str().unwrap(), drop["id"].as_str().unwrap());
    publish_customers(&app, 0..1).await;
    for id in [keep, drop] {
        let disabled = wait_for_state(&app, id, "disabled").await;
        assert!(disabled["disabled_reason"].as_str().unwrap().contains("410"));
    }
    publish_customers(&app, 1..4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((kept.received().len(), dropped.received().len()), (1, 1), "nothing attempted, nothing probed while disabled");

    let (status, enabled) = app.post(&format!("/api/v1/webhooks/{keep}/enable"), &json!({"release_held": true})).await;
    assert_eq!((status, &enabled["state"]), (200, &json!("active")), "{enabled}");
    let delivered = wait_for_customers(&kept, 3).await;
    assert_eq!(delivered.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2, 3]);

    let (status, _) = app.post(&format!("/api/v1/webhooks/{drop}/enable"), &json!({"release_held": false})).await;
    assert_eq!(status, 200);
    let cancelled = app.settled_deliveries(drop, 4).await;
    let discarded: Vec<&Value> = cancelled.iter().filter(|d| d["status"] == "cancelled").collect();
    assert_eq!(discarded.len(), 3);
    assert!(discarded.iter().all(|d| d["last_error"].as_str().unwrap().contains("without its held deliveries")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(dropped.received().len(), 1, "discarded deliveries are never sent");
    let told: Vec<String> = operator.wait_for(4).await.iter().map(|r| r.header("x-hookline-event-type").to_owned()).collect();
    let dead_and_disabled = ["hookline.delivery.dead", "hookline.webhook.disabled"];
    assert_eq!(told.iter().filter(|t| dead_and_disabled.contains(&t.as_str())).count(), 4, "one of each per webhook: {told:?}");
    let (_, audit) = app.get(&format!("/api/v1/audit?target={keep}")).await;
    assert!(audit["data"].as_array().unwrap().iter().any(|e| e["action"] == "webhook.enable"), "{audit}");
}

#[tokio::test]
async fn a_paused_webhook_holds_its_deliveries_until_it_is_resumed() {
    let app = app_with(quick_health).await;
    let receiver = TestReceiver::start().await;
    let body = json!({"name": "CRM", "url": receiver.url, "events": ["customer.*"], "is_active": false});
    let (_, created) = app.post("/api/v1/webhooks", &body).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["state"], "paused");
    publish_customers(&app, 0..3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty());
    let resumed = json!({"name": "CRM", "url": receiver.url, "events": ["customer.*"], "is_active": true});
    let (status, webhook) = app.call("PUT", &format!("/api/v1/webhooks/{id}"), Some(&resumed)).await;
    assert_eq!((status, &webhook["state"]), (200, &json!("active")), "{webhook}");
    let delivered = wait_for_customers(&receiver, 3).await;
    assert_eq!(delivered.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [0, 1, 2]);
}

#[tokio::test]
async fn a_webhook_failing_too_long_is_disabled_and_no_longer_probed() {
    let app = app_with(|config| {
        quick_health(config);
        config.health.failing_after = 1;
        config.health.failing_min = Duration::ZERO;
        config.health.disable_after = Duration::from_millis(800);
    })
    .await;
    let receiver = TestReceiver::start().await;
    receiver.always(503);
    let webhook = app.create_webhook(&receiver.url, &["customer.*"], json!({})).await;
    let id = webhook["id"].as_str().unwrap();
    publish_customers(&app, 0..1).await;
    wait_for_state(&app, id, "failing").await;
    let disabled = wait_for_state(&app, id, "disabled").await;
    assert!(disabled["disabled_reason"].as_str().unwrap().contains("probes stopped"), "{disabled}");
    let probes = receiver.received().len();
    assert!(probes >= 2, "probed while failing: {probes} requests");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().len(), probes, "no probe once disabled");
}

#[tokio::test]
async fn a_webhook_limited_to_20_per_second_gets_200_deliveries_in_no_less_than_10_seconds() {
    let app = app_with(|_| {}).await;
    let receiver = TestReceiver::start().await;
    let webhook = app.create_webhook(&receiver.url, &["auth.*"], json!({"rate_limit_per_sec": 20})).await;
    assert_eq!(webhook["rate_limit_per_sec"], 20.0);
    for batch in 0..2 {
        let events: Vec<Value> =
            (0..100).map(|n| json!({"event_type": "auth.login", "data": {"user_id": format!("u{batch}-{n}")}})).collect();
        let (status, answer) = app.post("/api/v1/events/batch", &json!({"events": events})).await;
        assert_eq!(status, 200, "{answer}");
    }
    let received = receiver.wait_for_within(200, Duration::from_secs(30)).await;
    let span = received[199].at - received[0].at;
    assert!(span >= Duration::from_millis(9_500), "200 at 20/s take 9.95 s, took {span:?}");
    assert_eq!(received.len(), 200, "complete, none twice");
    let id = webhook["id"].as_str().unwrap();
    let (_, succeeded) = app.get(&format!("/api/v1/webhooks/{id}/deliveries?status=succeeded&limit=100")).await;
    assert!(succeeded["data"].as_array().unwrap().iter().all(|d| d["attempts"] == 1), "waiting is not an attempt");
    let (_, metrics) = app.get("/api/v1/webhooks/metrics").await;
    let totals = &metrics["totals"];
    assert_eq!((totals["succeeded"].as_u64(), totals["attempts"].as_u64()), (Some(200), Some(200)), "{metrics}");
}
