//! Endpoint health on the Lambda functions: `deliver` makes a webhook whose receiver keeps
//! failing `failing` and holds its deliveries, the scheduled `maintain` probes it and, once it
//! answers, releases what it held at the recovery rate through the delivery queue.

use std::time::{Duration, Instant};

use hookline_tests::TestReceiver;
use hookline_tests::functions::{Functions, spawn_functions_tuned};
use serde_json::Value;

use super::{create_webhook, deliveries_of, publish};

async fn state_of(functions: &Functions, webhook: &str) -> Value {
    functions.call("GET", &format!("/api/v1/webhooks/{webhook}"), None).await.1
}

/// The queue's visibility timeout is 30 s: a task whose invocation failed on a slow, shared
/// emulator reappears only after it, so a drain allows two such rounds before giving up.
const DRAIN_LIMIT: Duration = Duration::from_secs(75);

/// Polls the delivery queue until `done` says so, for at most `DRAIN_LIMIT`.
async fn drain_until(functions: &Functions, done: impl Fn() -> bool) {
    let deadline = Instant::now() + DRAIN_LIMIT;
    while !done() {
        if Instant::now() >= deadline {
            let visible = functions.visible_tasks().await;
            panic!("the queue did not drain in {DRAIN_LIMIT:?}: {visible} tasks still visible");
        }
        if functions.poll().await.received == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn a_receiver_down_then_back_gets_every_held_delivery_through_the_queue() {
    let tuning = ["--failing-after", "3", "--failing-min-secs", "0", "--probe-interval", "0.2", "--recovery-rate", "4"];
    let functions = spawn_functions_tuned(3, "1", &tuning).await;
    let (receiver, operator, pager) = (TestReceiver::start().await, TestReceiver::start().await, TestReceiver::start().await);
    receiver.always(503);
    let (_, ops_secret) = create_webhook(&functions, &operator.url, &["hookline.*"]).await;
    // A second subscriber, so Hookline's own events fan out to several webhooks (one batch
    // write, not one put each) from every function that publishes them.
    create_webhook(&functions, &pager.url, &["hookline.*"]).await;
    let (webhook, secret) = create_webhook(&functions, &receiver.url, &["invoice.*"]).await;
    for _ in 0..3 {
        publish(&functions, "invoice.paid").await;
    }
    assert_eq!(functions.poll().await.received, 3);
    let failing = state_of(&functions, &webhook).await;
    assert_eq!((failing["state"].as_str(), failing["health"]["failure_streak"].as_u64()), (Some("failing"), Some(3)), "{failing}");
    // The two still in retry come back and are held instead of attempted.
    let attempts_so_far = receiver.received().len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !deliveries_of(&functions, &webhook).await.iter().all(|d| d["status"] == "held") {
        assert!(Instant::now() < deadline, "the retries were not held");
        functions.poll().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(functions.visible_tasks().await, 0, "held deliveries leave the queue");
    for _ in 0..3 {
        publish(&functions, "invoice.paid").await;
    }
    let deliveries = deliveries_of(&functions, &webhook).await;
    assert!(deliveries.iter().all(|d| d["status"] == "held"), "{deliveries:?}");
    assert_eq!((deliveries.len(), receiver.received().len()), (6, attempts_so_far), "nothing attempted while failing");

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(functions.maintain().await["probed"], 1);
    assert_eq!(state_of(&functions, &webhook).await["state"], "failing", "the probe failed too");
    receiver.always(200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Taken before the pass that releases them: their slots start after it, however long the
    // pass takes on a busy machine.
    let released_at = Instant::now();
    let done = functions.maintain().await;
    assert_eq!((done["recovered"].as_u64(), done["released"].as_u64()), (Some(1), Some(6)), "{done}");
    assert_eq!(state_of(&functions, &webhook).await["state"], "active");
    let invoices = || receiver.received().iter().filter(|r| r.status == 200 && r.header("x-hookline-event-type") == "invoice.paid").count();
    drain_until(&functions, || invoices() >= 6).await;
    assert!(released_at.elapsed() >= Duration::from_millis(250), "six at 4/s are spread over 1.25 s (less SQS's 1 s)");
    let delivered: Vec<_> =
        receiver.received().into_iter().filter(|r| r.status == 200 && r.header("x-hookline-event-type") == "invoice.paid").collect();
    assert_eq!(delivered.len(), 6, "each once");
    assert!(delivered.iter().all(|r| r.verifies_with(&secret)));
    let deliveries = deliveries_of(&functions, &webhook).await;
    let invoice_deliveries = deliveries.iter().filter(|d| d["event_type"] == "invoice.paid");
    assert!(invoice_deliveries.clone().all(|d| d["status"] == "succeeded"), "{deliveries:?}");
    assert_eq!(invoice_deliveries.count(), 6);

    let (status, _) = functions.call("POST", &format!("/api/v1/webhooks/{webhook}/replay"), None).await;
    assert_eq!(status, 202, "a replay (of nothing dead) is reported too");
    drain_until(&functions, || operator.received().len() >= 3 && pager.received().len() >= 3).await;
    let told = operator.received();
    let types: Vec<&str> = told.iter().map(|r| r.header("x-hookline-event-type")).collect();
    let expected = ["hookline.webhook.failing", "hookline.webhook.recovered", "hookline.replay.finished"];
    assert_eq!(types, expected, "published by deliver, maintain and api");
    assert!(told.iter().all(|r| r.verifies_with(&ops_secret)));
    assert_eq!(pager.received().len(), 3);
}

#[tokio::test]
async fn a_webhook_limited_to_20_per_second_is_held_to_it_across_two_consumers() {
    let functions = spawn_functions_tuned(3, "1", &[]).await;
    let receiver = TestReceiver::start().await;
    let body = serde_json::json!({"name": "limited", "url": receiver.url, "events": ["auth.*"], "rate_limit_per_sec": 20});
    let (status, created) = functions.call("POST", "/api/v1/webhooks", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let webhook = created["id"].as_str().unwrap().to_owned();
    let publisher = async {
        for _ in 0..200 {
            publish(&functions, "auth.login").await;
        }
    };
    let first_arrivals = || {
        let mut seen = std::collections::HashSet::new();
        receiver.received().into_iter().filter(|r| seen.insert(r.header("webhook-id").to_owned())).collect::<Vec<_>>()
    };
    let consumer = || async {
        // A deadline for a stuck run only: the emulator is shared with every other test.
        let deadline = Instant::now() + Duration::from_secs(300);
        while first_arrivals().len() < 200 && Instant::now() < deadline {
            if functions.poll().await.received == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    tokio::join!(publisher, consumer(), consumer());
    let arrived = first_arrivals();
    assert_eq!(arrived.len(), 200, "complete");
    let span = arrived[199].at - arrived[0].at;
    assert!(span >= Duration::from_millis(9_500), "200 at 20/s take 9.95 s, took {span:?}");
    // Every request that reached the receiver is a recorded attempt (a slow answer under load
    // may time out and be retried); waiting for a slot never is.
    let (mut attempts, mut cursor) = (0, None::<String>);
    loop {
        let query = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (_, page) = functions.call("GET", &format!("/api/v1/webhooks/{webhook}/deliveries?limit=100{query}"), None).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.iter().all(|d| d["status"] == "succeeded"), "{page}");
        attempts += data.iter().map(|d| d["attempts"].as_u64().unwrap()).sum::<u64>();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(attempts as usize, receiver.received().len());
}

/// A batch's records run at once and all read the webhook before any records its success: one
/// of them writes the success into the webhook's health, not each (they were ten writes).
#[tokio::test]
async fn a_batch_of_successes_to_one_webhook_writes_its_health_once() {
    use hookline_core::adapters::aws::CountRequests;
    use hookline_tests::emulator::{Emulator, endpoint};
    use hookline_tests::functions::spawn_functions_with;

    let counter = CountRequests::default();
    let functions = spawn_functions_with(Emulator::connect_to(&endpoint(), Some(counter.clone())).await, 3, "1").await;
    let receiver = TestReceiver::start().await;
    let (webhook, _) = create_webhook(&functions, &receiver.url, &["invoice.*"]).await;
    for _ in 0..10 {
        super::record(&functions, "invoice.paid").await;
    }
    while functions.fan_out().await > 0 {}
    counter.0.reset();
    let poll = functions.poll().await;
    assert_eq!((poll.received, poll.failed), (10, 0), "one batch of ten, all delivered");
    let webhook_key = format!("\"WH#{webhook}\"");
    let health_writes = counter
        .0
        .dynamodb_requests()
        .iter()
        .filter(|(operation, body)| operation == "UpdateItem" && String::from_utf8_lossy(body).contains(&webhook_key))
        .count();
    assert_eq!(health_writes, 1);
}
