//! The audit trail records every management change with its actor, and erasure removes an
//! event's payload while keeping what happened to its deliveries.

use std::time::Duration;

use hookline_tests::tokens::{claims, hs256};
use hookline_tests::{TestApp, TestReceiver, spawn_app};
use serde_json::{Value, json};

fn token_for(app: &TestApp, subject: &str, role: &str) -> String {
    let secret = app.local_secret();
    let mut claims = claims(&[role]);
    claims["sub"] = json!(subject);
    hs256(&secret, &claims)
}

async fn as_user(app: &TestApp, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    app.call_with(method, path, Some(&body), &[("authorization", &bearer)]).await
}

#[tokio::test]
async fn every_change_is_audited_with_its_actor_and_source() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    let (alice, bob) = (token_for(&app, "alice", "webhooks:admin"), token_for(&app, "bob", "webhooks:write"));
    let (_, webhook) =
        as_user(&app, &alice, "POST", "/api/v1/webhooks", json!({"name": "n", "url": receiver.url, "events": ["auth.*"]})).await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    let replacement = json!({"name": "renamed", "url": receiver.url, "events": ["auth.*"]});
    assert_eq!(as_user(&app, &bob, "PUT", &format!("/api/v1/webhooks/{id}"), replacement).await.0, 200);
    assert_eq!(as_user(&app, &bob, "GET", &format!("/api/v1/webhooks/{id}/secret"), json!({})).await.0, 200);
    assert_eq!(as_user(&app, &alice, "POST", &format!("/api/v1/webhooks/{id}/secret/rotate"), json!({})).await.0, 200);
    let event = app.publish("auth.login", json!({"user_id": "u"})).await;
    let delivery = app.settled_deliveries(&id, 1).await.remove(0);
    let delivery_id = delivery["id"].as_str().unwrap();
    assert_eq!(as_user(&app, &bob, "POST", &format!("/api/v1/webhooks/deliveries/{delivery_id}/replay"), json!({})).await.0, 202);
    assert_eq!(as_user(&app, &bob, "POST", &format!("/api/v1/webhooks/{id}/replay"), json!({})).await.0, 202);
    let (_, key) = as_user(&app, &alice, "POST", "/api/v1/api-keys", json!({"name": "k"})).await;
    let key_id = key["id"].as_str().unwrap().to_owned();
    assert_eq!(as_user(&app, &alice, "DELETE", &format!("/api/v1/api-keys/{key_id}"), json!({})).await.0, 204);
    let event_id = event["id"].as_str().unwrap().to_owned();
    assert_eq!(as_user(&app, &alice, "DELETE", &format!("/api/v1/events/{event_id}"), json!({})).await.0, 204);
    assert_eq!(as_user(&app, &bob, "DELETE", &format!("/api/v1/webhooks/{id}"), json!({})).await.0, 204);

    let (status, trail) = as_user(&app, &alice, "GET", "/api/v1/audit?limit=100", json!({})).await;
    assert_eq!(status, 200, "{trail}");
    let entries: Vec<(String, String, String)> = trail["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] != "test-admin")
        .map(|e| (e["actor"].as_str().unwrap().into(), e["action"].as_str().unwrap().into(), e["target"].as_str().unwrap().into()))
        .collect();
    let expected = [
        ("bob", "webhook.delete", id.as_str()),
        ("alice", "event.erase", event_id.as_str()),
        ("alice", "api_key.revoke", key_id.as_str()),
        ("alice", "api_key.create", key_id.as_str()),
        ("bob", "webhook.replay", id.as_str()),
        ("bob", "delivery.replay", delivery_id),
        ("alice", "webhook.secret.rotate", id.as_str()),
        ("bob", "webhook.secret.read", id.as_str()),
        ("bob", "webhook.update", id.as_str()),
        ("alice", "webhook.create", id.as_str()),
    ];
    let expected: Vec<(String, String, String)> = expected.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(entries, expected, "newest first");
    assert!(trail["data"].as_array().unwrap().iter().all(|e| e["source"] == "127.0.0.1" && e["at"].is_string()));

    let (_, bobs) = as_user(&app, &alice, "GET", "/api/v1/audit?actor=bob&action=webhook.delete", json!({})).await;
    assert_eq!(bobs["data"].as_array().unwrap().len(), 1);
    assert_eq!(as_user(&app, &alice, "GET", "/api/v1/audit?action=webhook.explode", json!({})).await.0, 400);
    for method in ["DELETE", "PUT", "POST"] {
        assert_eq!(as_user(&app, &alice, method, "/api/v1/audit", json!({})).await.0, 405, "the trail cannot be changed");
    }
}

#[tokio::test]
async fn erasing_an_event_removes_its_payload_and_keeps_delivery_outcomes() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    receiver.always(500);
    let slow = json!({"retry_policy": {"max_attempts": 5, "schedule_secs": [3600]}});
    let webhook = app.create_webhook(&receiver.url, &["customer.*"], slow).await;
    let personal = json!({"id": 7, "full_name": "Grace Hopper", "email": "grace@example.org", "phone": "+15550199"});
    let event = app.publish("customer.created", personal).await;
    receiver.wait_for(1).await;
    let delivery = hookline_tests::eventually("a retrying delivery", Duration::from_secs(5), || async {
        let list = app.deliveries_of(webhook["id"].as_str().unwrap()).await;
        list.into_iter().find(|d| d["status"] == "retrying")
    })
    .await;
    let event_id = event["id"].as_str().unwrap();

    assert_eq!(app.call("DELETE", &format!("/api/v1/events/{event_id}"), None).await.0, 204);
    let (_, detail) = app.get(&format!("/api/v1/webhooks/deliveries/{}", delivery["id"].as_str().unwrap())).await;
    assert_eq!(detail["status"], "cancelled");
    assert_eq!(detail["last_error"], "event was erased");
    assert_eq!(detail["payload"], json!({"id": event_id, "event_type": "customer.created", "erased": true}));
    let attempts = detail["attempts_log"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "the outcome is kept");
    assert_eq!(attempts[0]["status_code"], 500);
    assert!(attempts[0]["response_excerpt"].is_null());
    assert_eq!(app.call("DELETE", "/api/v1/events/evt_unknown", None).await.0, 404);
    let data = app.data.clone();
    app.stop().await;
    for file in [data.clone(), data.with_extension("db-wal")] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(!bytes.windows(12).any(|w| w == b"Grace Hopper"), "{} still holds the payload", file.display());
    }
}
