//! Dead letters kept for review on the local server: a dead delivery stays past its type's
//! retention until someone acknowledges (or replays) it, then follows it; each event type keeps
//! its own retention.

use std::sync::Arc;
use std::time::Duration;

use hookline_core::adapters::resolver::SystemResolver;
use hookline_core::domain::retention::RetentionPolicy;
use hookline_tests::{TestReceiver, eventually, spawn_app_with, temp_path};
use serde_json::json;

#[tokio::test]
async fn a_dead_delivery_waits_for_review_and_each_type_keeps_its_own_retention() {
    let tune = |config: &mut hookline_core::config::Config| {
        config.retention = RetentionPolicy {
            default: chrono::Duration::days(30),
            by_type: vec![RetentionPolicy::parse_rule("auth.*=0.00001").unwrap()],
            dead: chrono::Duration::days(90),
        };
        config.purge_interval = Duration::from_millis(200);
    };
    let app = spawn_app_with(temp_path("dead.db"), tune, Arc::new(SystemResolver)).await;
    let (ok, failing) = (TestReceiver::start().await, TestReceiver::start().await);
    failing.always(500);
    let kept = app.create_webhook(&ok.url, &["invoice.*", "auth.*"], json!({})).await;
    let dead = app.create_webhook(&failing.url, &["auth.*"], json!({"retry_policy": {"max_attempts": 1}})).await;
    app.publish("auth.login", json!({"user_id": "u"})).await;
    let invoice = hookline_core::domain::catalog::find("invoice.paid").unwrap().example.clone();
    app.publish("invoice.paid", invoice).await;
    let dead_one = app.settled_deliveries(dead["id"].as_str().unwrap(), 1).await.remove(0);
    let path = format!("/api/v1/webhooks/deliveries/{}", dead_one["id"].as_str().unwrap());

    // auth.* is kept under a second: its succeeded delivery goes, the invoice's stays.
    eventually("the succeeded auth.login delivery to be purged", Duration::from_secs(10), || async {
        let deliveries = app.deliveries_of(kept["id"].as_str().unwrap()).await;
        (deliveries.len() == 1 && deliveries[0]["event_type"] == "invoice.paid").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, waiting) = app.get(&path).await;
    assert_eq!((status, &waiting["status"]), (200, &json!("dead")), "kept for review past its type's retention: {waiting}");
    assert_eq!(waiting["payload"]["event_type"], "auth.login", "with its event, so it can still be replayed");

    let (status, refused) =
        app.post(&format!("/api/v1/webhooks/deliveries/{}/acknowledge", kept_delivery(&app, &kept).await), &json!({})).await;
    assert_eq!((status, &refused["code"]), (409, &json!("conflict")), "{refused}");
    let (status, reviewed) = app.post(&format!("{path}/acknowledge"), &json!({})).await;
    assert_eq!(status, 200, "{reviewed}");
    assert!(reviewed["acknowledged_at"].is_string());
    eventually("the reviewed dead delivery to follow its type's retention", Duration::from_secs(10), || async {
        (app.get(&path).await.0 == 404).then_some(())
    })
    .await;
    let (_, audit) = app.get("/api/v1/audit?action=delivery.acknowledge").await;
    assert_eq!(audit["data"].as_array().unwrap().len(), 1);
}

async fn kept_delivery(app: &hookline_tests::TestApp, webhook: &serde_json::Value) -> String {
    app.deliveries_of(webhook["id"].as_str().unwrap()).await[0]["id"].as_str().unwrap().to_owned()
}
