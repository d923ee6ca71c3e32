//! A full scenario with the most verbose logs, then a search of everything the server printed
//! for each secret, token, key and personal value it handled.

use std::time::Duration;

use serde_json::json;

use crate::server_process::ServerProcess;
use hookline_tests::{TestReceiver, temp_path};

#[tokio::test]
async fn logs_never_hold_secrets_tokens_keys_headers_or_personal_data() {
    let data = temp_path("leaks.db");
    let (ok, failing) = (TestReceiver::start().await, TestReceiver::start().await);
    failing.always(500);
    let server = ServerProcess::start_logging(&data, "debug").await;
    let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let receiver_credential = "Bearer receiver-credential-7Q2";
    let hook = |url: &str| json!({"name": "leak check", "url": url, "events": ["customer.*"], "secret": secret, "headers": {"authorization": receiver_credential}});
    let good = server.post("/api/v1/webhooks", &hook(&ok.url)).await;
    let bad = server.post("/api/v1/webhooks", &json!({"retry_policy": {"max_attempts": 2, "schedule_secs": [0.05]}, "name": "failing", "url": failing.url, "events": ["customer.*"]})).await;
    let rotated = server.post(&format!("/api/v1/webhooks/{}/secret/rotate", good["id"].as_str().unwrap()), &json!({})).await;
    let personal = ["Ada Lovelace", "ada.lovelace@example.net", "+441234567890", "12 St James's Square"];
    let data_fields = json!({"id": 1815, "full_name": personal[0], "email": personal[1], "phone": personal[2], "address": personal[3]});
    server.post("/api/v1/events", &json!({"event_type": "customer.created", "data": data_fields})).await;
    let batch = json!({"events": [{"event_type": "customer.updated", "data": {"id": 1815, "email": personal[1]}}, {"event_type": "customer.nope", "data": {"email": personal[1]}}]});
    server.post("/api/v1/events/batch", &batch).await;
    ok.wait_for(2).await;
    failing.wait_for(4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused =
        reqwest::Client::new().get(format!("{}/api/v1/webhooks", server.address)).bearer_auth("not-a-real-token").send().await.unwrap();
    assert_eq!(refused.status(), 401);

    let output = server.output();
    assert!(output.contains("DEBUG") || output.contains("INFO"), "the logs were captured: {output}");
    let secrets = [
        secret,
        &secret["whsec_".len()..],
        rotated["secret"].as_str().unwrap(),
        bad["secret"].as_str().unwrap(),
        server.token.as_str(),
        server.api_key.as_str(),
        receiver_credential,
        "not-a-real-token",
    ];
    for value in secrets.iter().chain(personal.iter()) {
        assert!(!output.contains(value), "the logs contain {value:?}:\n{output}");
    }
}
