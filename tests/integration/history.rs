//! Reading webhooks, the catalog and the delivery history: masking, filters, cursors.

use hookline_tests::{TestReceiver, spawn_app};
use serde_json::json;

#[tokio::test]
async fn the_secret_is_shown_once_at_creation_and_masked_everywhere_else() {
    let app = spawn_app().await;
    let created = app.create_webhook("https://example.com/hook", &["*"], json!({"secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"})).await;
    assert_eq!(created["secret"], "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD");
    let id = created["id"].as_str().unwrap();
    let (_, one) = app.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(one["secret"], "whsec_…b7oD");
    let (_, list) = app.get("/api/v1/webhooks").await;
    assert_eq!(list["data"][0]["secret"], "whsec_…b7oD");
    let (status, secret) = app.get(&format!("/api/v1/webhooks/{id}/secret")).await;
    assert_eq!((status, secret["secret"].as_str()), (200, Some("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")), "the secret route shows it");
    let too_long = json!({"grace_period_secs": 8 * 86_400});
    let (status, refused) = app.post(&format!("/api/v1/webhooks/{id}/secret/rotate"), &too_long).await;
    assert_eq!((status, refused["field"].as_str()), (422, Some("grace_period_secs")));
    let generated = app.create_webhook("https://example.com/other", &["*"], json!({})).await;
    assert!(generated["secret"].as_str().unwrap().starts_with("whsec_"));
}

#[tokio::test]
async fn put_replaces_the_webhook_and_keeps_the_secret_when_none_is_given() {
    let app = spawn_app().await;
    let created = app.create_webhook("https://example.com/hook", &["customer.*"], json!({})).await;
    let id = created["id"].as_str().unwrap();
    let replacement = json!({"name": "Billing", "url": "https://example.com/billing", "events": ["invoice.*"], "is_active": false});
    let (status, replaced) = app.call("PUT", &format!("/api/v1/webhooks/{id}"), Some(&replacement)).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["name"], "Billing");
    assert_eq!(replaced["events"], json!(["invoice.*"]));
    assert_eq!(replaced["is_active"], false);
    assert_eq!(replaced["created_at"], created["created_at"]);
    let tail = &created["secret"].as_str().unwrap()[created["secret"].as_str().unwrap().len() - 4..];
    assert!(replaced["secret"].as_str().unwrap().ends_with(tail));
}

#[tokio::test]
async fn webhook_lists_filter_and_page_with_opaque_cursors() {
    let app = spawn_app().await;
    for (n, events) in [["customer.*"], ["invoice.paid"], ["*"], ["ticket.created"]].iter().enumerate() {
        app.create_webhook(&format!("https://example.com/{n}"), events, json!({"is_active": n != 3})).await;
    }
    let (_, first) = app.get("/api/v1/webhooks?limit=2").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = app.get(&format!("/api/v1/webhooks?limit=2&cursor={cursor}")).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 2);
    assert!(second["next_cursor"].is_null());
    assert_ne!(first["data"][0]["id"], second["data"][0]["id"]);

    let (_, inactive) = app.get("/api/v1/webhooks?is_active=false").await;
    assert_eq!(inactive["data"].as_array().unwrap().len(), 1);
    let (_, paid) = app.get("/api/v1/webhooks?event_type=invoice.paid").await;
    let urls: Vec<&str> = paid["data"].as_array().unwrap().iter().map(|w| w["url"].as_str().unwrap()).collect();
    assert_eq!(urls, ["https://example.com/1", "https://example.com/2"]);
}

#[tokio::test]
async fn the_catalog_lists_25_types_and_hooklines_5_each_with_schema_and_a_valid_example() {
    let app = spawn_app().await;
    let (status, catalog) = app.get("/api/v1/webhooks/events").await;
    assert_eq!(status, 200);
    let entries = catalog["data"].as_array().unwrap();
    assert_eq!(entries.len(), 30);
    for entry in entries {
        for key in ["event_type", "category", "description", "schema", "example"] {
            assert!(!entry[key].is_null(), "{key} missing in {entry}");
        }
        let body = json!({"event_type": entry["event_type"], "data": entry["example"]});
        let (status, answer) = app.post("/api/v1/events", &body).await;
        if entry["category"] == "hookline" {
            assert_eq!((status, &answer["field"]), (422, &json!("event_type")), "only Hookline publishes its own: {answer}");
            assert!(answer["detail"].as_str().unwrap().contains("Hookline's own"), "{answer}");
        } else {
            assert_eq!(status, 202, "the example of {} must publish", entry["event_type"]);
        }
    }
    assert_eq!(entries.iter().filter(|e| e["category"] == "hookline").count(), 5);
    let (_, own) = app.get("/api/v1/webhooks/events/hookline.delivery.dead").await;
    assert_eq!(own["category"], "hookline");
    let (_, one) = app.get("/api/v1/webhooks/events/network.device.down").await;
    assert_eq!(one["category"], "network");
    assert_eq!(one["schema"]["required"], json!(["device_id"]));
}

#[tokio::test]
async fn delivery_history_filters_by_status_type_and_time_and_pages() {
    let app = spawn_app().await;
    let (ok, failing) = (TestReceiver::start().await, TestReceiver::start().await);
    failing.always(500);
    let good = app.create_webhook(&ok.url, &["customer.*", "auth.*"], json!({})).await;
    app.create_webhook(&failing.url, &["auth.*"], json!({"retry_policy": {"max_attempts": 1}})).await;
    let before = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    app.publish("customer.deleted", json!({"id": 5})).await;
    for n in 0..3 {
        app.publish("auth.login", json!({"user_id": format!("u{n}")})).await;
    }
    app.settled_deliveries(good["id"].as_str().unwrap(), 4).await;
    hookline_tests::eventually("dead deliveries", std::time::Duration::from_secs(5), || async {
        let (_, dead) = app.get("/api/v1/webhooks/deliveries?status=dead").await;
        (dead["data"].as_array().unwrap().len() == 3).then_some(())
    })
    .await;
    let (_, auth) = app.get("/api/v1/webhooks/deliveries?event_type=auth.login").await;
    assert_eq!(auth["data"].as_array().unwrap().len(), 6);
    let (_, recent) = app.get(&format!("/api/v1/webhooks/deliveries?since={}", before.replace('+', "%2B"))).await;
    assert_eq!(recent["data"].as_array().unwrap().len(), 7);
    let (_, future) = app.get("/api/v1/webhooks/deliveries?since=2999-01-01T00:00:00Z").await;
    assert!(future["data"].as_array().unwrap().is_empty());

    let mut seen = Vec::new();
    let mut path = "/api/v1/webhooks/deliveries?limit=3".to_owned();
    loop {
        let (_, page) = app.get(&path).await;
        seen.extend(page["data"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/webhooks/deliveries?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7, "every delivery exactly once across pages");
}

#[tokio::test]
async fn metrics_report_success_rate_failures_by_webhook_types_and_timings() {
    let app = spawn_app().await;
    let (good, bad, _receivers) = app.deliver_to_a_good_and_a_failing_webhook().await;

    let (status, metrics) = app.get("/api/v1/webhooks/metrics").await;
    assert_eq!(status, 200, "{metrics}");
    let totals = &metrics["totals"];
    assert_eq!((totals["attempts"].as_u64(), totals["failed_attempts"].as_u64()), (Some(4), Some(2)));
    assert_eq!((totals["succeeded"].as_u64(), totals["dead"].as_u64()), (Some(2), Some(1)));
    let rate = totals["success_rate"].as_f64().unwrap();
    assert!((rate - 2.0 / 3.0).abs() < 1e-9);
    assert!(totals["attempt_duration"]["p99_ms"].is_f64());
    assert_eq!(totals["delivery_latency"]["count"], 2, "a latency for each delivered one");
    assert_eq!(metrics["bucket"], "1h", "a day is charted by the hour");
    assert_eq!(metrics["series"].as_array().unwrap().len(), 25, "a day's hours, widened to whole hours");
    assert_eq!(metrics["failures_by_webhook"], json!([{"webhook_id": bad["id"], "failed_attempts": 2, "dead_deliveries": 1}]));
    assert_eq!(metrics["event_types"][0], json!({"event_type": "auth.login", "deliveries": 2, "attempts": 3}));
    let (_, later) = app.get("/api/v1/webhooks/metrics?since=2999-01-01T00:00:00Z&until=2999-01-01T01:00:00Z").await;
    assert_eq!(later["totals"]["attempts"], 0);
    assert!(later["totals"]["success_rate"].is_null());
    let one = format!("/api/v1/webhooks/metrics?bucket=1m&since=2000-01-01T00:00:00Z&webhook_id={}", good["id"].as_str().unwrap());
    let (status, too_many) = app.get(&one).await;
    assert_eq!((status, too_many["code"].as_str()), (400, Some("invalid_query")), "{too_many}");
    for bad_query in ["bucket=5m", "since=yesterday", "webhook_id=nope", "since=2999-01-01T00:00:00Z"] {
        let (status, body) = app.get(&format!("/api/v1/webhooks/metrics?{bad_query}")).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("invalid_query")), "{bad_query}: {body}");
    }
    let narrowed = format!("/api/v1/webhooks/metrics?webhook_id={}&event_type=auth.login", good["id"].as_str().unwrap());
    let (_, narrowed) = app.get(&narrowed).await;
    assert_eq!(narrowed["totals"]["attempts"], 1);
}

#[tokio::test]
async fn records_past_the_retention_period_are_purged_but_open_deliveries_stay() {
    let data = hookline_tests::temp_path("retention.db");
    let short = |c: &mut hookline_core::config::Config| {
        c.retention.default = chrono::Duration::seconds(1);
        c.purge_interval = std::time::Duration::from_millis(200);
    };
    let app = hookline_tests::spawn_app_with(data, short, std::sync::Arc::new(hookline_core::adapters::resolver::SystemResolver)).await;
    let (ok, failing) = (TestReceiver::start().await, TestReceiver::start().await);
    failing.always(500);
    let done = app.create_webhook(&ok.url, &["auth.*"], json!({})).await;
    let open = app.create_webhook(&failing.url, &["auth.*"], json!({"retry_policy": {"max_attempts": 5, "schedule_secs": [3600]}})).await;
    app.publish("auth.login", json!({"user_id": "u"})).await;
    let delivered = app.settled_deliveries(done["id"].as_str().unwrap(), 1).await.remove(0);
    let path = format!("/api/v1/webhooks/deliveries/{}", delivered["id"].as_str().unwrap());
    hookline_tests::eventually("the finished delivery to expire", std::time::Duration::from_secs(5), || async {
        (app.get(&path).await.0 == 404).then_some(())
    })
    .await;
    let still_open = app.deliveries_of(open["id"].as_str().unwrap()).await;
    assert_eq!(still_open.len(), 1, "an open delivery outlives the retention period");
    let (_, detail) = app.get(&format!("/api/v1/webhooks/deliveries/{}", still_open[0]["id"].as_str().unwrap())).await;
    assert_eq!(detail["payload"]["event_type"], "auth.login", "and so does its event");
}
