//! The server as a separate process: SIGKILL mid-delivery loses nothing, SIGTERM drains.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use hookline_tests::{TestReceiver, eventually, temp_path};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

struct Server {
    child: Child,
    address: String,
    /// An admin token from `hookline token`, and a publisher key created with it.
    token: String,
    api_key: String,
}

async fn start_server(data: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookline-under-test"))
        .args(["serve", "--listen", "127.0.0.1:0", "--allow-http", "--allow-net", "127.0.0.0/8"])
        .args(["--per-webhook-concurrency", "2", "--request-timeout", "5", "--visibility-timeout", "10"])
        .arg("--data")
        .arg(data)
        .env("HOOKLINE_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await.unwrap().unwrap().unwrap();
    let address = line.split_whitespace().find(|word| word.starts_with("http://")).unwrap().to_owned();
    let token = admin_token(data).await;
    let created = send(&address, &token, "", "/api/v1/api-keys", &json!({"name": "publisher"})).await;
    Server { child, address, token, api_key: created["key"].as_str().unwrap().to_owned() }
}

/// `hookline token`, as a user would run it: the token alone on standard output.
async fn admin_token(data: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_hookline-under-test"))
        .args(["token", "--role", "webhooks:admin", "--sub", "ops", "--ttl", "10m", "--data"])
        .arg(data)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

async fn send(address: &str, token: &str, api_key: &str, path: &str, body: &Value) -> Value {
    let request = reqwest::Client::new().post(format!("{address}{path}")).bearer_auth(token).header("x-api-key", api_key);
    let response = request.json(body).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

async fn post(server: &Server, path: &str, body: &Value) -> Value {
    send(&server.address, &server.token, &server.api_key, path, body).await
}

async fn get(server: &Server, path: &str) -> Value {
    let request = reqwest::Client::new().get(format!("{}{path}", server.address)).bearer_auth(&server.token);
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_server_killed_with_sigkill_delivers_everything_pending_after_restart() {
    let data = temp_path("killed.db");
    let receiver = TestReceiver::start().await;
    receiver.delay_all(Duration::from_millis(300));
    let server = start_server(&data).await;
    let webhook = post(&server, "/api/v1/webhooks", &json!({"name": "n", "url": receiver.url, "events": ["auth.*"]})).await;
    let mut published = BTreeSet::new();
    for n in 0..30 {
        let outcome = post(&server, "/api/v1/events", &json!({"event_type": "auth.login", "data": {"user_id": format!("u{n}")}})).await;
        published.insert(outcome["id"].as_str().unwrap().to_owned());
    }
    receiver.wait_for(3).await;
    let mut child = server.child;
    child.kill().await.unwrap();
    let delivered_before_kill = receiver.received().len();
    assert!(delivered_before_kill < 30, "the kill must interrupt pending deliveries");

    let restarted = start_server(&data).await;
    eventually("every event after the restart", Duration::from_secs(30), || async {
        let ids: BTreeSet<String> = receiver.received().iter().map(|r| r.header("webhook-id").to_owned()).collect();
        (ids == published).then_some(())
    })
    .await;
    let path = format!("/api/v1/webhooks/{}/deliveries?status=succeeded&limit=100", webhook["id"].as_str().unwrap());
    eventually("all deliveries recorded as succeeded", Duration::from_secs(10), || async {
        (get(&restarted, &path).await["data"].as_array().unwrap().len() == 30).then_some(())
    })
    .await;
}

#[tokio::test]
async fn sigterm_lets_deliveries_in_flight_finish_before_exiting() {
    let data = temp_path("terminated.db");
    let receiver = TestReceiver::start().await;
    receiver.delay_all(Duration::from_millis(800));
    let server = start_server(&data).await;
    let webhook = post(&server, "/api/v1/webhooks", &json!({"name": "n", "url": receiver.url, "events": ["*"]})).await;
    post(&server, "/api/v1/events", &json!({"event_type": "auth.logout", "data": {"user_id": "u"}})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut child = server.child;
    let pid = child.id().unwrap().to_string();
    let signalled = Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(signalled.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    assert!(exit.success(), "exit status {exit}");
    assert_eq!(receiver.received().len(), 1, "the delivery in flight completed");

    let restarted = start_server(&data).await;
    let deliveries = get(&restarted, &format!("/api/v1/webhooks/{}/deliveries", webhook["id"].as_str().unwrap())).await;
    assert_eq!(deliveries["data"][0]["status"], "succeeded", "and was recorded before exit");
}
