//! Content filters and transformations over HTTP: refused with their position when wrong or
//! hostile, shown on the webhook, applied at fan-out (a filter also over a large list in one
//! macro; a transformed body signed, sent, kept as the delivery's payload), and tried before
//! saving with the dry run. Both hosts' fan-out is in `lifecycle.rs`; storage in the
//! conformance suite.

use hookline_tests::{TestReceiver, spawn_app};
use serde_json::{Value, json};
use standardwebhooks::Webhook;

async fn refusal(app: &hookline_tests::TestApp, filter: &str) -> String {
    let body = json!({"name": "f", "url": "https://example.com/hook", "events": ["customer.*"], "filter": filter});
    let (status, refused) = app.post("/api/v1/webhooks", &body).await;
    assert_eq!((status, refused["code"].as_str()), (422, Some("validation_failed")), "{refused}");
    assert_eq!(refused["field"], "filter");
    refused["detail"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn wrong_and_hostile_filters_are_refused_naming_the_position() {
    let app = spawn_app().await;
    assert!(refusal(&app, "data.amount >").await.starts_with("filter: line 1, column"));
    assert!(refusal(&app, "data.amount > 1 && payload.x").await.contains("column 20: unknown name 'payload'"));
    let deep = format!("{}true{}", "(".repeat(100_000), ")".repeat(100_000));
    let body = json!({"name": "f", "url": "https://example.com/hook", "events": ["*"], "filter": deep});
    assert_eq!(app.post("/api/v1/webhooks", &body).await.0, 422, "too long, refused before the parser sees it");
    assert!(refusal(&app, &format!("{}true{}", "(".repeat(40), ")".repeat(40))).await.contains("nests more than 24"));
    let nested = "data.updated_fields.all(a, data.updated_fields.all(b, data.updated_fields.all(c, a + b + c != \"\")))";
    assert!(refusal(&app, nested).await.contains("may not contain another"));
    assert!(refusal(&app, r#"data.email.matches("(a{1000}){1000}")"#).await.contains("within bounds"));
}

#[tokio::test]
async fn a_filter_decides_which_events_are_delivered_even_over_large_lists() {
    let app = spawn_app().await;
    let (filtered, everything) = (TestReceiver::start().await, TestReceiver::start().await);
    let filter = r#"data.updated_fields.exists(field, field == "phone")"#;
    let created = app.create_webhook(&filtered.url, &["customer.updated"], json!({"filter": filter})).await;
    assert_eq!(created["filter"], filter);
    app.create_webhook(&everything.url, &["customer.updated"], json!({})).await;

    let many: Vec<String> = (0..10_000).map(|n| format!("field_{n}")).collect();
    let mut with_phone = many.clone();
    with_phone.push("phone".into());
    let first = app.publish("customer.updated", json!({"id": 1, "updated_fields": many})).await;
    let second = app.publish("customer.updated", json!({"id": 2, "updated_fields": with_phone})).await;
    assert_eq!((first["deliveries"].as_u64(), second["deliveries"].as_u64()), (Some(1), Some(2)));
    everything.wait_for(2).await;
    let received = filtered.wait_for(1).await;
    assert_eq!(received[0].json()["id"], second["id"]);
    let (_, webhook) = app.get(&format!("/api/v1/webhooks/{}", created["id"].as_str().unwrap())).await;
    assert_eq!(webhook["health"]["expression_errors"], 0);
}

async fn dry_run(app: &hookline_tests::TestApp, body: Value) -> Value {
    let (status, report) = app.post("/api/v1/webhooks/filter/test", &body).await;
    assert_eq!(status, 200, "{report}");
    report
}

#[tokio::test]
async fn the_dry_run_tries_a_filter_on_recent_events_or_the_catalogs_examples() {
    let app = spawn_app().await;
    let filter = r#"data.site_id == "SITE-1" && data.reason in ["power", "fibre cut"]"#;
    let report = dry_run(&app, json!({"filter": filter, "event_types": ["network.device.down"]})).await;
    assert_eq!((report["source"].as_str(), report["evaluated"].as_u64()), (Some("catalog"), Some(1)), "{report}");
    assert_eq!(report["matched"], 0, "the example is SITE-01");

    let receiver = TestReceiver::start().await;
    app.create_webhook(&receiver.url, &["network.*"], json!({})).await;
    for (device, site, reason) in [("OLT-1", "SITE-1", "power"), ("OLT-2", "SITE-1", "reboot"), ("OLT-3", "SITE-2", "power")] {
        app.publish("network.device.down", json!({"device_id": device, "site_id": site, "reason": reason})).await;
    }
    app.publish("network.device.down", json!({"device_id": "OLT-4"})).await;
    app.publish("network.device.up", json!({"device_id": "OLT-1", "site_id": "SITE-1"})).await;
    receiver.wait_for(5).await;

    let report = dry_run(&app, json!({"filter": filter, "event_types": ["network.device.down"]})).await;
    assert_eq!(report["source"], "recent");
    let counts: Vec<u64> = ["evaluated", "matched", "failed"].iter().map(|k| report[k].as_u64().unwrap()).collect();
    assert_eq!(counts, [4, 1, 1], "{report}");
    assert_eq!(report["examples"][0]["event"]["data"]["device_id"], "OLT-1");
    assert_eq!(report["examples"][0]["sent"], report["examples"][0]["event"], "no transformation: the envelope is sent");
    assert!(report["failures"][0]["error"].as_str().unwrap().contains("No such key"), "{report}");
    let limited = dry_run(&app, json!({"filter": "true", "limit": 2})).await;
    assert_eq!((limited["evaluated"].as_u64(), limited["matched"].as_u64()), (Some(2), Some(2)));

    let shaped = json!({"transform": r#"{"device": data.device_id, "site": has(data.site_id) ? data.site_id : "unknown"}"#,
        "event_types": ["network.device.down"], "limit": 1});
    let report = dry_run(&app, shaped).await;
    assert_eq!(report["examples"][0]["sent"], json!({"device": "OLT-4", "site": "unknown"}), "{report}");
    assert_eq!(report["examples"][0]["event"]["data"], json!({"device_id": "OLT-4"}), "before and after");

    for (body, field) in [
        (json!({"filter": "data.x >"}), "filter"),
        (json!({"transform": "{"}), "transform"),
        (json!({"limit": 5}), "filter"),
        (json!({"filter": "true", "limit": 0}), "limit"),
        (json!({"filter": "true", "event_types": ["nope.nope"]}), "event_types[0]"),
    ] {
        let (status, refused) = app.post("/api/v1/webhooks/filter/test", &body).await;
        assert_eq!((status, refused["field"].as_str()), (422, Some(field)), "{refused}");
    }
}

#[tokio::test]
async fn a_transformed_body_is_signed_sent_and_kept_while_the_event_stays_as_published() {
    let app = spawn_app().await;
    let (slim, full) = (TestReceiver::start().await, TestReceiver::start().await);
    let transform = r#"{"invoice": data.invoice_id, "paid": data.amount, "source": "isp", "customer": {"id": data.customer_id}}"#;
    let created = app.create_webhook(&slim.url, &["invoice.paid"], json!({"transform": transform})).await;
    assert_eq!(created["transform"], transform);
    app.create_webhook(&full.url, &["invoice.paid"], json!({})).await;
    let data = json!({"invoice_id": "INV-9", "customer_id": 7, "amount": 12.5, "paid_at": "2026-01-01T00:00:00Z"});
    let event = app.publish("invoice.paid", data.clone()).await;

    let request = slim.wait_for(1).await.remove(0);
    assert_eq!(request.body, r#"{"customer":{"id":7},"invoice":"INV-9","paid":12.5,"source":"isp"}"#);
    let secret = created["secret"].as_str().unwrap();
    assert!(request.verifies_with(secret), "signed over the body sent");
    let official = Webhook::new(secret).unwrap();
    assert!(official.verify(request.body.as_bytes(), &request.headers).is_ok(), "and the official library agrees");
    assert_eq!(request.header("webhook-id"), event["id"].as_str().unwrap());
    assert_eq!(full.wait_for(1).await[0].json()["data"], data, "the event stays as published for others");

    let delivery = app.settled_deliveries(created["id"].as_str().unwrap(), 1).await.remove(0);
    let (_, detail) = app.get(&format!("/api/v1/webhooks/deliveries/{}", delivery["id"].as_str().unwrap())).await;
    assert_eq!(detail["payload"], json!({"customer": {"id": 7}, "invoice": "INV-9", "paid": 12.5, "source": "isp"}));
}

#[tokio::test]
async fn a_transformation_that_fails_on_an_event_skips_it_and_says_why_in_health() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    let created = app.create_webhook(&receiver.url, &["invoice.paid"], json!({"transform": r#"{"ref": data.payment_id}"#})).await;
    let without = json!({"invoice_id": "INV-1", "customer_id": 7, "amount": 1.0, "paid_at": "2026-01-01T00:00:00Z"});
    let mut with = without.clone();
    with["payment_id"] = json!("PAY-1");
    let once = json!({"id": "evt_no_payment", "event_type": "invoice.paid", "data": without});
    for (duplicate, answer) in [(false, 202), (true, 200)] {
        let (status, published) = app.post("/api/v1/events", &once).await;
        assert_eq!((status, published["deliveries"].as_u64(), published["duplicate"].as_bool()), (answer, Some(0), Some(duplicate)));
    }
    assert_eq!(app.publish("invoice.paid", with).await["deliveries"], 1);
    assert_eq!(receiver.wait_for(1).await[0].body, r#"{"ref":"PAY-1"}"#);
    let (_, webhook) = app.get(&format!("/api/v1/webhooks/{}", created["id"].as_str().unwrap())).await;
    assert_eq!(webhook["health"]["expression_errors"], 1, "once for the event, not again for its duplicate");
    assert!(webhook["health"]["last_expression_error"].as_str().unwrap().starts_with("transform: "), "{webhook}");
    let (status, refused) =
        app.post("/api/v1/webhooks", &json!({"name": "t", "url": receiver.url, "events": ["*"], "transform": "{\"a\": "})).await;
    assert_eq!((status, refused["field"].as_str()), (422, Some("transform")), "{refused}");
}
