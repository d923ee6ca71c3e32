//! The seed's integration script as one scenario: an ISP customer's whole life, every one of
//! the catalog's 25 event types, published as events, with webhooks subscribed by category and
//! wildcard; each receives exactly what it asked for, in full, signed. The scenario runs on
//! both hosts, each built through the composition root: the local server over SQLite, and the
//! Lambda functions over DynamoDB and SQS with the delivery queue drained like the poller.
//! Two subscribers also carry a content filter: one picks a site's network events, the other
//! urgent tickets, and the tickets it cannot tell (no `priority`) are counted in its health.
//! One more transforms what it gets into the shape its billing system parses.

use std::collections::BTreeSet;
use std::time::Duration;

use hookline_core::domain::catalog;
use hookline_core::domain::filter::{EventPattern, any_matches};
use hookline_tests::functions::{Functions, spawn_functions};
use hookline_tests::{TestApp, TestReceiver, spawn_app};
use serde_json::{Value, json};

/// A catalog type's own example data (for the types the story below does not spell out).
fn example(event_type: &str) -> Value {
    catalog::find(event_type).unwrap().example.clone()
}

fn lifecycle() -> Vec<(&'static str, Value)> {
    vec![
        ("customer.created", json!({"id": 1001, "portal_id": "101001", "full_name": "Ada Lovelace", "email": "ada@example.net"})),
        ("customer.updated", json!({"id": 1001, "phone": "+15550123", "updated_fields": ["phone"]})),
        ("customer.service.created", json!({"customer_id": 1001, "service_id": 77, "service_type": "internet", "plan": "Fiber 500"})),
        ("customer.service.updated", example("customer.service.updated")),
        ("customer.services.overview", example("customer.services.overview")),
        ("service.activated", json!({"service_id": 77, "customer_id": 1001, "service_type": "internet"})),
        (
            "invoice.created",
            json!({"invoice_id": "INV-1", "customer_id": 1001, "amount": 49.99, "currency": "EUR", "due_date": "2024-02-15"}),
        ),
        ("invoice.paid", json!({"invoice_id": "INV-1", "customer_id": 1001, "amount": 49.99, "paid_at": "2024-02-10T08:00:00Z"})),
        ("payment.processed", json!({"payment_id": "PAY-1", "customer_id": 1001, "amount": 49.99, "method": "sepa"})),
        (
            "invoice.created",
            json!({"invoice_id": "INV-2", "customer_id": 1001, "amount": 49.99, "currency": "EUR", "due_date": "2024-03-15"}),
        ),
        (
            "invoice.overdue",
            json!({"invoice_id": "INV-2", "customer_id": 1001, "amount": 49.99, "due_date": "2024-03-15", "days_overdue": 5}),
        ),
        ("service.suspended", json!({"service_id": 77, "customer_id": 1001, "reason": "non-payment"})),
        ("network.site.created", example("network.site.created")),
        ("network.device.created", example("network.device.created")),
        ("network.device.down", json!({"device_id": "OLT-3", "site_id": "SITE-1", "reason": "power"})),
        ("ticket.created", json!({"ticket_id": "T-9", "customer_id": 1001, "subject": "Offline", "priority": "urgent"})),
        ("ticket.assigned", json!({"ticket_id": "T-9", "assignee": "noc.oncall"})),
        ("ticket.updated", example("ticket.updated")),
        ("ticket.status_changed", example("ticket.status_changed")),
        ("network.device.up", json!({"device_id": "OLT-3", "site_id": "SITE-1", "downtime_seconds": 900})),
        ("ticket.resolved", json!({"ticket_id": "T-9", "resolution": "power restored"})),
        ("auth.login", json!({"user_id": "ada", "ip_address": "198.51.100.4"})),
        ("auth.failed", json!({"username": "ada", "reason": "wrong password", "attempts": 1})),
        ("auth.logout", json!({"user_id": "ada"})),
        ("service.terminated", json!({"service_id": 77, "customer_id": 1001, "reason": "moved away"})),
        ("customer.deleted", json!({"id": 1001, "reason": "account closed"})),
    ]
}

/// A host the scenario runs on.
enum Host {
    Local(TestApp),
    Aws(Functions),
}

impl Host {
    /// Registers a webhook (with `filter` or `transform`, if any); returns its creation response.
    async fn subscribe(&self, url: &str, patterns: &[&str], name: &str, (filter, transform): Shaping) -> Value {
        let request = json!({"name": name, "url": url, "events": patterns, "filter": filter, "transform": transform});
        let (status, created) = self.call("POST", "/api/v1/webhooks", Some(request)).await;
        assert_eq!(status, 201, "{created}");
        created
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        match self {
            Self::Local(app) => app.call(method, path, body.as_ref()).await,
            Self::Aws(functions) => functions.call(method, path, body).await,
        }
    }

    /// Publishes an event (over HTTP locally, from the inbound queue on AWS); returns its id.
    async fn publish(&self, number: usize, event_type: &str, data: Value) -> String {
        match self {
            Self::Local(app) => app.publish(event_type, data).await["id"].as_str().unwrap().to_owned(),
            Self::Aws(functions) => {
                let id = format!("evt_lifecycle_{number}");
                let body = json!({"id": id, "event_type": event_type, "data": data}).to_string();
                let record = json!({"messageId": format!("m{number}"), "receiptHandle": "r", "body": body, "attributes": {},
                    "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:inbound",
                    "awsRegion": "us-east-1"});
                let answer = functions.ingest(json!({"Records": [record]})).await;
                assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
                id
            }
        }
    }

    /// Lets every delivery go out: the local workers need nothing; on AWS the pollers' work
    /// (the table's stream fans out, then the delivery queue is drained).
    async fn deliver(&self) {
        if let Self::Aws(functions) = self {
            functions.fan_out().await;
            while functions.visible_tasks().await > 0 {
                functions.poll_when_due(Duration::from_secs(10)).await;
            }
        }
    }
}

#[tokio::test]
async fn an_isp_customer_lifecycle_reaches_each_subscriber_exactly_as_subscribed_locally() {
    lifecycle_reaches_each_subscriber(Host::Local(spawn_app().await)).await;
}

#[tokio::test]
async fn an_isp_customer_lifecycle_reaches_each_subscriber_exactly_as_subscribed_on_aws() {
    lifecycle_reaches_each_subscriber(Host::Aws(spawn_functions(3, "1").await)).await;
}

#[test]
fn the_lifecycle_publishes_every_catalog_type() {
    let published: BTreeSet<&str> = lifecycle().iter().map(|(event_type, _)| *event_type).collect();
    let catalog: BTreeSet<&str> = catalog::all().iter().map(|entry| entry.event_type.as_str()).collect();
    assert_eq!(published, catalog);
    assert_eq!(catalog.len(), 25);
}

/// What a filtered subscriber gets of an event's data: delivered, not, or the filter fails.
fn through_filter(name: &str, data: &Value) -> Result<bool, ()> {
    match name {
        "site-1" => Ok(data["site_id"] == "SITE-1"),
        "urgent" => data.get("priority").map(|priority| priority == "urgent").ok_or(()),
        _ => Ok(true),
    }
}

/// A webhook's filter and transformation.
type Shaping = (Option<&'static str>, Option<&'static str>);

const SLIM_INVOICES: &str = r#"{"invoice": data.invoice_id, "kind": event_type, "amount": data.amount}"#;

/// What `SLIM_INVOICES` makes of an invoice event: its keys sorted, as Hookline sends them.
fn slim_invoice(event_type: &str, data: &Value) -> Value {
    json!({"amount": data["amount"], "invoice": data["invoice_id"], "kind": event_type})
}

async fn lifecycle_reaches_each_subscriber(host: Host) {
    let subscriptions: Vec<(&str, Vec<&str>, Shaping)> = vec![
        ("crm", vec!["customer.*"], (None, None)),
        ("billing", vec!["invoice.*", "payment.processed"], (None, None)),
        ("noc", vec!["network.*"], (None, None)),
        ("support", vec!["ticket.*"], (None, None)),
        ("security", vec!["auth.failed"], (None, None)),
        ("provisioning", vec!["service.*", "customer.service.*", "customer.services.overview"], (None, None)),
        ("audit", vec!["*"], (None, None)),
        ("site-1", vec!["network.*"], (Some(r#"has(data.site_id) && data.site_id == "SITE-1""#), None)),
        ("urgent", vec!["ticket.*"], (Some(r#"data.priority == "urgent""#), None)),
        ("slim-invoices", vec!["invoice.*"], (None, Some(SLIM_INVOICES))),
    ];
    let mut subscribers = Vec::new();
    for (name, patterns, shaping) in &subscriptions {
        let receiver = TestReceiver::start().await;
        let created = host.subscribe(&receiver.url, patterns, name, *shaping).await;
        subscribers.push((*name, patterns.clone(), receiver, created));
    }

    let mut published = Vec::new();
    for (number, (event_type, data)) in lifecycle().into_iter().enumerate() {
        let id = host.publish(number, event_type, data.clone()).await;
        published.push((id, event_type, data));
    }
    host.deliver().await;

    for (name, patterns, receiver, created) in &subscribers {
        let secret = created["secret"].as_str().unwrap();
        let patterns: Vec<EventPattern> = patterns.iter().map(|p| EventPattern::from_stored(p)).collect();
        let subscribed: Vec<&(String, &str, Value)> = published.iter().filter(|(_, t, _)| any_matches(&patterns, t)).collect();
        let expected: Vec<_> = subscribed.iter().copied().filter(|(_, _, data)| through_filter(name, data) == Ok(true)).collect();
        let failed = subscribed.iter().filter(|(_, _, data)| through_filter(name, data).is_err()).count() as u64;
        let (_, webhook) = host.call("GET", &format!("/api/v1/webhooks/{}", created["id"].as_str().unwrap()), None).await;
        assert_eq!(webhook["health"]["expression_errors"], failed, "{name}: the events its filter failed on are counted");
        if failed > 0 {
            assert!(webhook["health"]["last_expression_error"].as_str().unwrap().contains("priority"), "{webhook}");
        }
        receiver.wait_for(expected.len()).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let received = receiver.received();
        assert_eq!(received.len(), expected.len(), "{name} got a different number of events");
        let ids: BTreeSet<String> = received.iter().map(|r| r.header("webhook-id").to_owned()).collect();
        assert_eq!(ids, expected.iter().map(|(id, _, _)| id.clone()).collect::<BTreeSet<_>>());
        for request in &received {
            assert!(request.verifies_with(secret), "signature for {name}");
            let body = request.json();
            let (_, event_type, data) = expected.iter().find(|(id, _, _)| id == request.header("webhook-id")).unwrap();
            if *name == "slim-invoices" {
                assert_eq!(request.body, slim_invoice(event_type, data).to_string(), "the transformed body, signed as sent");
                continue;
            }
            assert_eq!(body["event_type"], *event_type);
            assert_eq!(&body["data"], data, "the payload arrives in full");
        }
    }
    let types_received: BTreeSet<String> =
        subscribers[6].2.received().iter().map(|r| r.json()["event_type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types_received.len(), 25, "the audit subscriber checked every catalog type");
}
