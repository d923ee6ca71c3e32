//! The overload policy (local mode): while the delivery queue holds `max_backlog` tasks,
//! publishing answers 503 with `Retry-After` and nothing is recorded; `/metrics` shows the
//! depth, the limit and the refusals; once the backlog drains, publishing is accepted again.

use std::sync::Arc;

use hookline_core::adapters::resolver::SystemResolver;
use hookline_tests::{TestReceiver, eventually, spawn_app_with, temp_path};
use serde_json::json;

#[tokio::test]
async fn publishing_past_the_backlog_limit_is_refused_with_503_and_retry_after_until_it_drains() {
    let receiver = TestReceiver::start().await;
    receiver.always(503);
    let app = spawn_app_with(temp_path("overload.db"), |config| config.max_backlog = 3, Arc::new(SystemResolver)).await;
    let slow = json!({"retry_policy": {"max_attempts": 3, "schedule_secs": [600, 600], "jitter": 0.0}});
    let webhook = app.create_webhook(&receiver.url, &["auth.*"], slow).await;
    for n in 0..3 {
        app.publish("auth.login", json!({"user_id": format!("u{n}")})).await;
    }

    let event = json!({"id": "evt_refused", "event_type": "auth.login", "data": {"user_id": "u9"}});
    let response = app.client.post(app.url("/api/v1/events")).header("x-api-key", &app.api_key).json(&event).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "overloaded");
    assert!(body["detail"].as_str().unwrap().contains("3 tasks"), "{body}");
    let (status, body) = app.post("/api/v1/events/batch", &json!({"events": [event]})).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("overloaded")), "a batch is refused whole");

    let metrics = app.client.get(app.url("/metrics")).bearer_auth(&app.admin_token).send().await.unwrap().text().await.unwrap();
    let lines = [
        "hookline_queue_depth 3.0",
        "hookline_queue_limit 3.0",
        "hookline_publish_refused_total{reason=\"overloaded\"} 2",
        "hookline_events_published_total{event_type=\"auth.login\"} 3",
    ];
    for line in lines {
        assert!(metrics.lines().any(|l| l == line), "{line} missing from:\n{metrics}");
    }

    // The backlog drains (here: the webhook and its deliveries go), and publishing resumes.
    assert_eq!(app.call("DELETE", &format!("/api/v1/webhooks/{}", webhook["id"].as_str().unwrap()), None).await.0, 204);
    eventually("the queue to drain", std::time::Duration::from_secs(5), || async {
        (app.post("/api/v1/events", &event).await.0 == 202).then_some(())
    })
    .await;
}
