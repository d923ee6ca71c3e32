//! The seed's integration script as one scenario: an ISP customer's whole life, published
//! as events, with webhooks subscribed by category and wildcard; each receives exactly
//! what it asked for, in full, signed.

use std::collections::BTreeSet;

use hookline_core::domain::filter::{EventPattern, any_matches};
use hookline_tests::{TestReceiver, spawn_app};
use serde_json::{Value, json};

fn lifecycle() -> Vec<(&'static str, Value)> {
    vec![
        ("customer.created", json!({"id": 1001, "portal_id": "101001", "full_name": "Ada Lovelace", "email": "ada@example.net"})),
        ("customer.updated", json!({"id": 1001, "phone": "+15550123", "updated_fields": ["phone"]})),
        ("customer.service.created", json!({"customer_id": 1001, "service_id": 77, "service_type": "internet", "plan": "Fiber 500"})),
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
        ("network.device.down", json!({"device_id": "OLT-3", "site_id": "SITE-1", "reason": "power"})),
        ("ticket.created", json!({"ticket_id": "T-9", "customer_id": 1001, "subject": "Offline", "priority": "urgent"})),
        ("ticket.assigned", json!({"ticket_id": "T-9", "assignee": "noc.oncall"})),
        ("network.device.up", json!({"device_id": "OLT-3", "site_id": "SITE-1", "downtime_seconds": 900})),
        ("ticket.resolved", json!({"ticket_id": "T-9", "resolution": "power restored"})),
        ("auth.login", json!({"user_id": "ada", "ip_address": "198.51.100.4"})),
        ("auth.failed", json!({"username": "ada", "reason": "wrong password", "attempts": 1})),
        ("auth.logout", json!({"user_id": "ada"})),
        ("service.terminated", json!({"service_id": 77, "customer_id": 1001, "reason": "moved away"})),
        ("customer.deleted", json!({"id": 1001, "reason": "account closed"})),
    ]
}

#[tokio::test]
async fn an_isp_customer_lifecycle_reaches_each_subscriber_exactly_as_subscribed() {
    let app = spawn_app().await;
    let subscriptions: Vec<(&str, Vec<&str>)> = vec![
        ("crm", vec!["customer.*"]),
        ("billing", vec!["invoice.*", "payment.processed"]),
        ("noc", vec!["network.device.*"]),
        ("support", vec!["ticket.*"]),
        ("security", vec!["auth.failed"]),
        ("provisioning", vec!["service.*", "customer.service.*"]),
        ("audit", vec!["*"]),
    ];
    let mut subscribers = Vec::new();
    for (name, patterns) in &subscriptions {
        let receiver = TestReceiver::start().await;
        let webhook = app.create_webhook(&receiver.url, patterns, json!({"name": name})).await;
        subscribers.push((patterns.clone(), receiver, webhook["secret"].as_str().unwrap().to_owned()));
    }

    let mut published = Vec::new();
    for (event_type, data) in lifecycle() {
        let outcome = app.publish(event_type, data.clone()).await;
        published.push((outcome["id"].as_str().unwrap().to_owned(), event_type, data));
    }

    for (patterns, receiver, secret) in &subscribers {
        let patterns: Vec<EventPattern> = patterns.iter().map(|p| EventPattern::from_stored(p)).collect();
        let expected: Vec<&(String, &str, Value)> = published.iter().filter(|(_, t, _)| any_matches(&patterns, t)).collect();
        receiver.wait_for(expected.len()).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let received = receiver.received();
        assert_eq!(received.len(), expected.len(), "{patterns:?} got a different number of events");
        let ids: BTreeSet<String> = received.iter().map(|r| r.header("webhook-id").to_owned()).collect();
        assert_eq!(ids, expected.iter().map(|(id, _, _)| id.clone()).collect::<BTreeSet<_>>());
        for request in &received {
            assert!(request.verifies_with(secret), "signature for {patterns:?}");
            let body = request.json();
            let (_, event_type, data) = expected.iter().find(|(id, _, _)| id == request.header("webhook-id")).unwrap();
            assert_eq!(body["event_type"], *event_type);
            assert_eq!(&body["data"], data, "the payload arrives in full");
        }
    }
}
