//! Replaying dead (or finished) deliveries, one at a time or a webhook's whole backlog, and
//! start-up recovery: the queue rebuilt from the open deliveries.

use std::sync::Arc;

use hookline_core::adapters::resolver::SystemResolver;
use std::time::Duration;

use hookline_tests::{TestReceiver, eventually, spawn_app, spawn_app_with, temp_path};
use serde_json::json;

#[tokio::test]
async fn a_replayed_dead_delivery_gets_a_full_new_round_of_attempts() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    receiver.always(500);
    let webhook =
        app.create_webhook(&receiver.url, &["auth.*"], json!({"retry_policy": {"max_attempts": 2, "schedule_secs": [0.05]}})).await;
    let id = webhook["id"].as_str().unwrap();
    app.publish("auth.failed", json!({"username": "jdoe", "reason": "locked"})).await;
    let delivery = app.settled_deliveries(id, 1).await.remove(0);
    assert_eq!((delivery["status"].as_str(), delivery["attempts"].as_u64()), (Some("dead"), Some(2)));
    let path = format!("/api/v1/webhooks/deliveries/{}/replay", delivery["id"].as_str().unwrap());

    let (status, replayed) = app.post(&path, &json!({})).await;
    assert_eq!(status, 202, "{replayed}");
    let again = app.settled_deliveries(id, 1).await.remove(0);
    assert_eq!((again["status"].as_str(), again["attempts"].as_u64()), (Some("dead"), Some(4)), "two more attempts, not one");

    receiver.always(200);
    app.post(&path, &json!({})).await;
    let fixed = app.settled_deliveries(id, 1).await.remove(0);
    assert_eq!((fixed["status"].as_str(), fixed["attempts"].as_u64()), (Some("succeeded"), Some(5)));
    let requests = receiver.received();
    assert_eq!(requests.len(), 5);
    assert!(requests.iter().all(|r| r.header("webhook-id") == requests[0].header("webhook-id")), "the same message id every time");
    assert_eq!(requests[4].header("x-hookline-attempt"), "5");
}

#[tokio::test]
async fn replaying_a_webhook_resends_all_its_dead_deliveries() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    receiver.always(503);
    let webhook = app.create_webhook(&receiver.url, &["ticket.*"], json!({"retry_policy": {"max_attempts": 1}})).await;
    let id = webhook["id"].as_str().unwrap();
    for n in 0..3 {
        app.publish("ticket.created", json!({"ticket_id": format!("T-{n}"), "subject": "down", "priority": "high"})).await;
    }
    assert!(app.settled_deliveries(id, 3).await.iter().all(|d| d["status"] == "dead"));
    receiver.always(200);

    let (status, none) = app.post(&format!("/api/v1/webhooks/{id}/replay?since=2999-01-01T00:00:00Z"), &json!({})).await;
    assert_eq!((status, none["replayed"].as_u64()), (202, Some(0)));
    let (status, all) = app.post(&format!("/api/v1/webhooks/{id}/replay"), &json!({})).await;
    assert_eq!((status, all["replayed"].as_u64()), (202, Some(3)));
    assert!(app.settled_deliveries(id, 3).await.iter().all(|d| d["status"] == "succeeded"));
    assert_eq!(receiver.received().len(), 6);
}

#[tokio::test]
async fn a_succeeded_delivery_can_be_resent_but_not_to_an_inactive_webhook() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    let webhook = app.create_webhook(&receiver.url, &["auth.*"], json!({})).await;
    let id = webhook["id"].as_str().unwrap();
    app.publish("auth.login", json!({"user_id": "u"})).await;
    let delivery = app.settled_deliveries(id, 1).await.remove(0);
    let path = format!("/api/v1/webhooks/deliveries/{}/replay", delivery["id"].as_str().unwrap());
    assert_eq!(app.post(&path, &json!({})).await.0, 202);
    receiver.wait_for(2).await;

    let inactive = json!({"name": "off", "url": receiver.url, "events": ["auth.*"], "is_active": false});
    assert_eq!(app.call("PUT", &format!("/api/v1/webhooks/{id}"), Some(&inactive)).await.0, 200);
    let (status, body) = app.post(&path, &json!({})).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")));
    assert_eq!(app.post(&format!("/api/v1/webhooks/{id}/replay"), &json!({})).await.0, 409);
    assert_eq!(app.post("/api/v1/webhooks/deliveries/dlv_MISSING/replay", &json!({})).await.0, 404);
}

/// A server whose one delivery failed its first attempt (its retry due in `retry_secs`),
/// stopped: the data file, the receiver (answering 503), and the webhook.
async fn one_failed_attempt_then_stop(name: &str, retry_secs: u64) -> (std::path::PathBuf, TestReceiver, serde_json::Value) {
    let data = temp_path(name);
    let receiver = TestReceiver::start().await;
    receiver.always(503);
    let first = spawn_app_with(data.clone(), |_| {}, Arc::new(SystemResolver)).await;
    let slow = json!({"retry_policy": {"max_attempts": 3, "schedule_secs": [retry_secs], "jitter": 0.0}});
    let webhook = first.create_webhook(&receiver.url, &["auth.*"], slow).await;
    first.publish("auth.login", json!({"user_id": "u"})).await;
    receiver.wait_for(1).await;
    first.stop().await;
    (data, receiver, webhook)
}

#[tokio::test]
async fn an_open_delivery_is_delivered_on_schedule_after_a_restart() {
    let (data, receiver, webhook) = one_failed_attempt_then_stop("orphan.db", 3).await;
    // The tasks live in memory; the open delivery is their durable record.
    let conn = rusqlite::Connection::open(&data).unwrap();
    assert_eq!(conn.query_row("SELECT COUNT(*) FROM queue", [], |row| row.get::<_, i64>(0)).unwrap(), 0);
    drop(conn);

    receiver.always(200);
    let second = spawn_app_with(data, |_| {}, Arc::new(SystemResolver)).await;
    let delivery = second.settled_deliveries(webhook["id"].as_str().unwrap(), 1).await.remove(0);
    assert_eq!(delivery["status"], "succeeded");
    let attempts = second.get(&format!("/api/v1/webhooks/deliveries/{}", delivery["id"].as_str().unwrap())).await.1;
    let log = attempts["attempts_log"].as_array().unwrap();
    let (first_at, second_at) = (log[0]["started_at"].as_str().unwrap(), log[1]["started_at"].as_str().unwrap());
    let gap = chrono::DateTime::parse_from_rfc3339(second_at).unwrap() - chrono::DateTime::parse_from_rfc3339(first_at).unwrap();
    assert!(gap >= chrono::Duration::milliseconds(2900), "the restored task kept the retry schedule ({gap})");
}

#[tokio::test]
async fn an_open_delivery_with_an_unreadable_id_does_not_stop_the_others_after_a_restart() {
    let (data, receiver, webhook) = one_failed_attempt_then_stop("unreadable.db", 1).await;
    // A row damaged by hand beside the good one.
    let conn = rusqlite::Connection::open(&data).unwrap();
    let copied = conn
        .execute(
            "INSERT INTO deliveries (id, event_id, webhook_id, event_type, status, attempts, created_at, updated_at) \
             SELECT 'not a delivery id', event_id, 'damaged', event_type, status, attempts, created_at, updated_at FROM deliveries",
            [],
        )
        .unwrap();
    assert_eq!(copied, 1);
    drop(conn);

    receiver.always(200);
    let second = spawn_app_with(data, |_| {}, Arc::new(SystemResolver)).await;
    let delivery = second.settled_deliveries(webhook["id"].as_str().unwrap(), 1).await.remove(0);
    assert_eq!(delivery["status"], "succeeded");
}

#[tokio::test]
async fn an_event_stored_but_never_fanned_out_is_delivered_after_a_restart() {
    let data = temp_path("unfanned.db");
    let receiver = TestReceiver::start().await;
    let first = spawn_app_with(data.clone(), |_| {}, Arc::new(SystemResolver)).await;
    let webhook = first.create_webhook(&receiver.url, &["auth.*"], json!({})).await;
    let event = first.publish("auth.login", json!({"user_id": "u"})).await;
    receiver.wait_for(1).await;
    first.stop().await;
    // Simulate a process that stopped after storing the event, before creating its deliveries.
    let conn = rusqlite::Connection::open(&data).unwrap();
    conn.execute("DELETE FROM deliveries", []).unwrap();
    conn.execute("UPDATE events SET fanned_out = 0 WHERE id = ?1", [event["id"].as_str().unwrap()]).unwrap();
    drop(conn);

    let second = spawn_app_with(data, |_| {}, Arc::new(SystemResolver)).await;
    let redelivered = receiver.wait_for(2).await;
    assert_eq!(redelivered[1].header("webhook-id"), event["id"].as_str().unwrap());
    assert_eq!(second.settled_deliveries(webhook["id"].as_str().unwrap(), 1).await[0]["status"], "succeeded");
}

#[tokio::test]
async fn a_bulk_replay_sends_the_selected_dead_deliveries_again_and_says_when_it_is_done() {
    let app = spawn_app().await;
    let (receiver, operator) = (TestReceiver::start().await, TestReceiver::start().await);
    receiver.always(500);
    app.create_webhook(&operator.url, &["hookline.replay.finished"], json!({})).await;
    let webhook = app.create_webhook(&receiver.url, &["auth.*"], json!({"retry_policy": {"max_attempts": 1}})).await;
    let id = webhook["id"].as_str().unwrap();
    for n in 0..4 {
        app.publish(if n < 3 { "auth.login" } else { "auth.logout" }, json!({"user_id": format!("u{n}")})).await;
    }
    app.settled_deliveries(id, 4).await;
    receiver.always(200);
    let selection = json!({"webhook_id": id, "status": ["dead"], "event_type": "auth.login", "since": "2020-01-01T00:00:00Z"});
    let (status, started) = app.post("/api/v1/webhooks/deliveries/replay", &selection).await;
    assert_eq!(status, 202, "{started}");
    let path = format!("/api/v1/webhooks/replays/{}", started["id"].as_str().unwrap());
    let done = eventually("the replay to finish", Duration::from_secs(10), || async {
        let (_, replay) = app.get(&path).await;
        (replay["finished"] == true).then_some(replay)
    })
    .await;
    assert_eq!((done["matched"].as_u64(), done["replayed"].as_u64()), (Some(3), Some(3)), "{done}");
    let delivered = receiver.wait_for(7).await.into_iter().filter(|r| r.status == 200).count();
    assert_eq!(delivered, 3, "the three logins, not the logout");
    let told = operator.wait_for(1).await;
    assert_eq!(
        (told[0].json()["data"]["replay_id"].as_str(), told[0].json()["data"]["replayed"].as_u64()),
        (started["id"].as_str(), Some(3))
    );
    let (status, refused) = app.post("/api/v1/webhooks/deliveries/replay", &json!({"status": ["succeeded"]})).await;
    assert_eq!((status, refused["field"].as_str()), (422, Some("status[0]")), "{refused}");
    assert_eq!(app.get("/api/v1/webhooks/replays/rpl_nope").await.0, 404);
}
