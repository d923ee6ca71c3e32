//! Every kind of bad input gets its status and a `{code, detail}` body.

use hookline_tests::{TestReceiver, spawn_app, spawn_app_with, temp_path};
use serde_json::{Value, json};

fn assert_error(response: &(u16, Value), status: u16, code: &str) {
    assert_eq!(response.0, status, "{}", response.1);
    assert_eq!(response.1["code"], code, "{}", response.1);
    assert!(response.1["detail"].is_string(), "{}", response.1);
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/events"))
        .header("x-api-key", &app.api_key)
        .header("content-type", "application/json")
        .body("{\"event_type\":")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "malformed_json");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415() {
    let app = spawn_app().await;
    let request = app.client.post(app.url("/api/v1/webhooks")).bearer_auth(&app.admin_token);
    let response = request.header("content-type", "text/plain").body("hi").send().await.unwrap();
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn unknown_routes_webhooks_deliveries_and_event_types_are_404s() {
    let app = spawn_app().await;
    assert_error(&app.get("/api/v1/nothing-here").await, 404, "not_found");
    assert_error(&app.get("/api/v1/webhooks/wh_06H25GF2D1MGAV4ED4NV8MF6B8").await, 404, "not_found");
    assert_error(&app.get("/api/v1/webhooks/not-an-id").await, 404, "not_found");
    assert_error(&app.get("/api/v1/webhooks/deliveries/dlv_NOPE").await, 404, "not_found");
    assert_error(&app.get("/api/v1/webhooks/events/customer.exploded").await, 404, "not_found");
    assert_error(&app.call("DELETE", "/api/v1/webhooks/wh_missing", None).await, 404, "not_found");
    assert_error(&app.call("PATCH", "/api/v1/webhooks", None).await, 405, "method_not_allowed");
}

#[tokio::test]
async fn reusing_an_event_id_for_a_different_event_is_a_409() {
    let app = spawn_app().await;
    let first = json!({"id": "order-1", "event_type": "auth.logout", "data": {"user_id": "a"}});
    let second = json!({"id": "order-1", "event_type": "auth.logout", "data": {"user_id": "b"}});
    assert_eq!(app.post("/api/v1/events", &first).await.0, 202);
    assert_error(&app.post("/api/v1/events", &second).await, 409, "conflict");
}

#[tokio::test]
async fn bodies_over_the_limits_are_413s() {
    let app = spawn_app_with(
        temp_path("limits.db"),
        |c| {
            c.max_request_bytes = 64 * 1024;
            c.max_event_bytes = 8 * 1024;
        },
        std::sync::Arc::new(hookline_core::adapters::resolver::SystemResolver),
    )
    .await;
    let huge = json!({"event_type": "customer.deleted", "data": {"id": 1, "reason": "x".repeat(100 * 1024)}});
    assert_error(&app.post("/api/v1/events", &huge).await, 413, "payload_too_large");
    let big = json!({"event_type": "customer.deleted", "data": {"id": 1, "reason": "x".repeat(16 * 1024)}});
    assert_error(&app.post("/api/v1/events", &big).await, 413, "payload_too_large");
}

#[tokio::test]
async fn validation_failures_are_422s_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        ("/api/v1/events", json!({"event_type": "customer.exploded", "data": {}}), "event_type"),
        ("/api/v1/events", json!({"event_type": "customer.created", "data": {"id": 1, "full_name": "A"}}), "data.email"),
        (
            "/api/v1/events",
            json!({"event_type": "invoice.paid", "data": {"invoice_id": "I", "customer_id": 1, "amount": -5, "paid_at": "2024-01-01T00:00:00Z"}}),
            "data.amount",
        ),
        ("/api/v1/events", json!({"event_type": "auth.login", "data": {"user_id": "u"}, "timestamp": "noon"}), "timestamp"),
        ("/api/v1/events", json!({"event_type": "auth.login"}), "data"),
        ("/api/v1/events", json!({"event_type": "auth.login", "data": {}, "colour": "red"}), "colour"),
        ("/api/v1/webhooks", json!({"name": "x", "url": "ftp://example.com", "events": ["*"]}), "url"),
        ("/api/v1/webhooks", json!({"name": "x", "url": "https://example.com/h", "events": ["customer.exploded"]}), "events[0]"),
        ("/api/v1/webhooks", json!({"name": "x", "url": "https://example.com/h", "events": ["*"], "secret": "short"}), "secret"),
        ("/api/v1/webhooks", json!({"name": "x", "url": "https://example.com/h", "events": "*"}), "events"),
        (
            "/api/v1/webhooks",
            json!({"name": "x", "url": "https://example.com/h", "events": ["*"], "retry_policy": {"max_attempts": 0}}),
            "retry_policy.max_attempts",
        ),
        ("/api/v1/events/batch", json!({"events": []}), "events"),
    ];
    for (path, body, field) in cases {
        let response = app.post(path, &body).await;
        assert_error(&response, 422, "validation_failed");
        if !field.is_empty() {
            assert_eq!(response.1["field"], field, "{body}");
        }
    }
}

#[tokio::test]
async fn bad_query_parameters_and_forged_cursors_are_400s() {
    let app = spawn_app().await;
    assert_error(&app.get("/api/v1/webhooks?limit=0").await, 400, "invalid_query");
    assert_error(&app.get("/api/v1/webhooks?is_active=maybe").await, 400, "invalid_query");
    assert_error(&app.get("/api/v1/webhooks?cursor=garbage").await, 400, "invalid_cursor");
    assert_error(&app.get("/api/v1/webhooks/deliveries?status=lost").await, 400, "invalid_query");
    assert_error(&app.get("/api/v1/webhooks/deliveries?since=yesterday").await, 400, "invalid_query");
}

#[tokio::test]
async fn a_batch_accepts_good_events_and_refuses_bad_ones_one_by_one() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    app.create_webhook(&receiver.url, &["auth.*"], json!({})).await;
    let batch = json!({"events": [
        {"event_type": "auth.login", "data": {"user_id": "u1"}},
        {"event_type": "auth.nope", "data": {}},
        {"event_type": "auth.logout", "data": {"user_id": "u1"}},
        {"what": "ever"}
    ]});
    let (status, body) = app.post("/api/v1/events/batch", &batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["refused"], 2);
    assert_eq!(body["data"][0]["deliveries"], 1);
    assert_eq!(body["data"][1]["code"], "validation_failed");
    assert_eq!(body["data"][1]["field"], "event_type");
    assert_eq!(body["data"][3]["field"], "what");
    receiver.wait_for(2).await;
    let too_many = json!({"events": vec![json!({"event_type": "auth.login", "data": {"user_id": "u"}}); 101]});
    assert_error(&app.post("/api/v1/events/batch", &too_many).await, 422, "validation_failed");
}
