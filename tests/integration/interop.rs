//! Our signatures verify with the official Standard Webhooks library (Python), so any
//! receiver using a Standard Webhooks library in any language accepts them.
//! The test command installs the library in a venv and sets `HOOKLINE_TEST_PYTHON`.

use std::process::Command;

use hookline_tests::{TestReceiver, spawn_app};
use serde_json::json;

const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
cases = json.load(sys.stdin)
for case in cases:
    payload = Webhook(case["secret"]).verify(case["body"], case["headers"])
    assert payload["id"] == case["headers"]["webhook-id"], payload
print(f"verified {len(cases)}")
"#;

#[tokio::test]
async fn deliveries_verify_with_the_official_standardwebhooks_python_library() {
    let python = std::env::var("HOOKLINE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "HOOKLINE_TEST_PYTHON is not set: run the README's test command (scripts/test.sh), which installs standardwebhooks in a venv"
        )
    });
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    let webhook = app.create_webhook(&receiver.url, &["*"], json!({})).await;
    app.publish("customer.created", json!({"id": 1, "full_name": "Zoë Ünicode", "email": "z@example.com"})).await;
    app.publish("invoice.paid", json!({"invoice_id": "I", "customer_id": 1, "amount": 1.5, "paid_at": "2024-01-01T00:00:00Z"})).await;
    let cases: Vec<_> = receiver
        .wait_for(2)
        .await
        .iter()
        .map(|r| {
            let headers: serde_json::Map<String, serde_json::Value> =
                ["webhook-id", "webhook-timestamp", "webhook-signature"].iter().map(|h| (h.to_string(), json!(r.header(h)))).collect();
            json!({"secret": webhook["secret"], "body": r.body, "headers": headers})
        })
        .collect();
    let mut child = Command::new(python)
        .args(["-c", VERIFY])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &cases).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python verification failed: {stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "verified 2");
}
