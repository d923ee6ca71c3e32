//! The server as a separate process: SIGKILL mid-delivery loses nothing, SIGTERM drains.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::server_process::ServerProcess;
use hookline_tests::{TestReceiver, eventually, temp_path};
use serde_json::json;
use tokio::process::Command;

#[tokio::test]
async fn a_server_killed_with_sigkill_delivers_everything_pending_after_restart() {
    let data = temp_path("killed.db");
    let receiver = TestReceiver::start().await;
    receiver.delay_all(Duration::from_millis(300));
    let server = ServerProcess::start(&data).await;
    let webhook = server.post("/api/v1/webhooks", &json!({"name": "n", "url": receiver.url, "events": ["auth.*"]})).await;
    let mut published = BTreeSet::new();
    for n in 0..30 {
        let outcome = server.post("/api/v1/events", &json!({"event_type": "auth.login", "data": {"user_id": format!("u{n}")}})).await;
        published.insert(outcome["id"].as_str().unwrap().to_owned());
    }
    receiver.wait_for(3).await;
    let mut child = server.child;
    child.kill().await.unwrap();
    let delivered_before_kill = receiver.received().len();
    assert!(delivered_before_kill < 30, "the kill must interrupt pending deliveries");

    let restarted = ServerProcess::start(&data).await;
    eventually("every event after the restart", Duration::from_secs(30), || async {
        let ids: BTreeSet<String> = receiver.received().iter().map(|r| r.header("webhook-id").to_owned()).collect();
        (ids == published).then_some(())
    })
    .await;
    let path = format!("/api/v1/webhooks/{}/deliveries?status=succeeded&limit=100", webhook["id"].as_str().unwrap());
    eventually("all deliveries recorded as succeeded", Duration::from_secs(10), || async {
        (restarted.get(&path).await["data"].as_array().unwrap().len() == 30).then_some(())
    })
    .await;
}

#[tokio::test]
async fn sigterm_lets_deliveries_in_flight_finish_before_exiting() {
    let data = temp_path("terminated.db");
    let receiver = TestReceiver::start().await;
    receiver.delay_all(Duration::from_millis(1500));
    let server = ServerProcess::start(&data).await;
    let webhook = server.post("/api/v1/webhooks", &json!({"name": "n", "url": receiver.url, "events": ["*"]})).await;
    server.post("/api/v1/events", &json!({"event_type": "auth.logout", "data": {"user_id": "u"}})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut child = server.child;
    let pid = child.id().unwrap().to_string();
    let signalled = Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(signalled.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    assert!(exit.success(), "exit status {exit}");
    assert_eq!(receiver.received().len(), 1, "the delivery in flight completed");

    let restarted = ServerProcess::start(&data).await;
    let deliveries = restarted.get(&format!("/api/v1/webhooks/{}/deliveries", webhook["id"].as_str().unwrap())).await;
    assert_eq!(deliveries["data"][0]["status"], "succeeded", "and was recorded before exit");
}

/// Failing after 3 failures, probed every 300 ms, held deliveries released at 10/s.
const QUICK_HEALTH: [&str; 8] = ["--failing-after", "3", "--failing-min-secs", "0", "--probe-interval", "0.3", "--recovery-rate", "10"];

#[tokio::test]
async fn sigkills_while_a_receiver_is_down_and_while_its_backlog_is_released_lose_nothing() {
    let data = temp_path("outage-killed.db");
    let receiver = TestReceiver::start().await;
    receiver.always(503);
    let server = ServerProcess::start_with(&data, "warn", &QUICK_HEALTH).await;
    let webhook = server.post("/api/v1/webhooks", &json!({"name": "n", "url": receiver.url, "events": ["auth.*"]})).await;
    let state = format!("/api/v1/webhooks/{}", webhook["id"].as_str().unwrap());
    let mut published = BTreeSet::new();
    for n in 0..20 {
        published.insert(login(&server, n).await);
    }
    eventually("the webhook to fail", Duration::from_secs(15), || async { (server.get(&state).await["state"] == "failing").then_some(()) })
        .await;
    sigkill(server).await;

    let server = ServerProcess::start_with(&data, "warn", &QUICK_HEALTH).await;
    for n in 20..40 {
        published.insert(login(&server, n).await);
    }
    assert_eq!(server.get(&state).await["state"], "failing", "the state survives the kill");
    receiver.always(200);
    // Killed once the release has begun, long before 40 at 10/s are through.
    eventually("the release to begin", Duration::from_secs(15), || async {
        (receiver.received().iter().filter(|r| r.status == 200 && r.header("x-hookline-event-type") == "auth.login").count() >= 5)
            .then_some(())
    })
    .await;
    sigkill(server).await;

    let restarted = ServerProcess::start_with(&data, "warn", &QUICK_HEALTH).await;
    eventually("every event after the restarts", Duration::from_secs(30), || async {
        let ids: BTreeSet<String> =
            receiver.received().iter().filter(|r| r.status == 200).map(|r| r.header("webhook-id").to_owned()).collect();
        published.is_subset(&ids).then_some(())
    })
    .await;
    assert_eq!(restarted.get(&state).await["state"], "active");
    let dead = format!("/api/v1/webhooks/{}/deliveries?status=dead", webhook["id"].as_str().unwrap());
    assert!(restarted.get(&dead).await["data"].as_array().unwrap().is_empty(), "none dead");
}

async fn sigkill(server: ServerProcess) {
    let mut child = server.child;
    child.kill().await.unwrap();
}

/// Publishes `auth.login` number `n`; returns the event id.
async fn login(server: &ServerProcess, n: usize) -> String {
    let body = json!({"event_type": "auth.login", "data": {"user_id": format!("u{n}")}});
    server.post("/api/v1/events", &body).await["id"].as_str().unwrap().to_owned()
}
