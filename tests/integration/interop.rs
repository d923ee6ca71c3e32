//! Our signatures verify with the official Standard Webhooks library (Python), so any
//! receiver using a Standard Webhooks library in any language accepts them.
//! The test command installs the library in a venv and sets `HOOKLINE_TEST_PYTHON`.

use std::process::Command;

use hookline_tests::{Received, TestReceiver, spawn_app};
use serde_json::json;

/// Reads cases `{secret, body, headers, expect}` and checks that the library accepts exactly
/// the ones expected to verify.
const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
cases = json.load(sys.stdin)
for n, case in enumerate(cases):
    try:
        payload = Webhook(case["secret"]).verify(case["body"], case["headers"])
        verified = payload["id"] == case["headers"]["webhook-id"]
    except WebhookVerificationError:
        verified = False
    assert verified == case["expect"], f"case {n}: verified={verified}, expected {case['expect']}"
print(f"checked {len(cases)}")
"#;

fn python() -> String {
    std::env::var("HOOKLINE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "HOOKLINE_TEST_PYTHON is not set: run the README's test command (scripts/test.sh), which installs standardwebhooks in a venv"
        )
    })
}

fn case(request: &Received, secret: &str, expect: bool) -> serde_json::Value {
    let headers: serde_json::Map<String, serde_json::Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"].iter().map(|h| (h.to_string(), json!(request.header(h)))).collect();
    json!({"secret": secret, "body": request.body, "headers": headers, "expect": expect})
}

/// Runs the official library over `cases`; panics with its message if any case disagrees.
fn check_with_python(cases: &[serde_json::Value]) {
    assert_eq!(run_python(VERIFY, &json!(cases)), format!("checked {}", cases.len()));
}

/// Runs `script` with `input` as JSON on its standard input; its output, or a panic with its
/// error output when it fails.
fn run_python(script: &str, input: &serde_json::Value) -> String {
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python check failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test]
async fn deliveries_verify_with_the_official_standardwebhooks_python_library() {
    python();
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    let webhook = app.create_webhook(&receiver.url, &["*"], json!({})).await;
    app.publish("customer.created", json!({"id": 1, "full_name": "Zoë Ünicode", "email": "z@example.com"})).await;
    app.publish("invoice.paid", json!({"invoice_id": "I", "customer_id": 1, "amount": 1.5, "paid_at": "2024-01-01T00:00:00Z"})).await;
    let secret = webhook["secret"].as_str().unwrap();
    let cases: Vec<_> = receiver.wait_for(2).await.iter().map(|r| case(r, secret, true)).collect();
    check_with_python(&cases);
}

#[tokio::test]
async fn during_a_rotation_both_secrets_verify_and_afterwards_only_the_new_one() {
    python();
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    let webhook = app.create_webhook(&receiver.url, &["auth.*"], json!({})).await;
    let (id, old) = (webhook["id"].as_str().unwrap(), webhook["secret"].as_str().unwrap());
    let (status, rotated) = app.post(&format!("/api/v1/webhooks/{id}/secret/rotate"), &json!({"grace_period_secs": 2})).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(rotated["retired_until"].as_array().unwrap().len(), 1);

    app.publish("auth.login", json!({"user_id": "during"})).await;
    let during = receiver.wait_for(1).await.remove(0);
    assert_eq!(during.header("webhook-signature").split(' ').count(), 2);
    assert!(during.verifies_with(old) && during.verifies_with(new));

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    app.publish("auth.login", json!({"user_id": "after"})).await;
    let after = receiver.wait_for(2).await.remove(1);
    assert_eq!(after.header("webhook-signature").split(' ').count(), 1);
    assert!(after.verifies_with(new) && !after.verifies_with(old));
    check_with_python(&[case(&during, old, true), case(&during, new, true), case(&after, new, true), case(&after, old, false)]);
}

/// The original platform's documentation registers a webhook with exactly this body; its
/// secret is plain text, which receivers use as the HMAC key (its UTF-8 bytes).
const SEED_REGISTRATION: &str = r#"{
    "name": "My Webhook",
    "url": "https://your-webhook-endpoint.com/webhook",
    "secret": "your-secret-key",
    "events": ["customer.created", "invoice.paid"],
    "is_active": true
  }"#;

/// Checks with plain HMAC-SHA256 (Python's standard library, no Standard Webhooks code) that
/// the signature is over `id.timestamp.body` with the key `your-secret-key`.
const PLAIN_HMAC: &str = r#"
import base64, hashlib, hmac, json, sys
case = json.load(sys.stdin)
h = case["headers"]
signed = f'{h["webhook-id"]}.{h["webhook-timestamp"]}.{case["body"]}'.encode()
expected = base64.b64encode(hmac.new(b"your-secret-key", signed, hashlib.sha256).digest()).decode()
assert h["webhook-signature"] == "v1," + expected, (h["webhook-signature"], expected)
print("ok")
"#;

#[tokio::test]
async fn the_seeds_registration_request_works_verbatim_and_its_plain_secret_signs() {
    python();
    let app = spawn_app().await;
    let (status, created) = app.post("/api/v1/webhooks", &serde_json::from_str::<serde_json::Value>(SEED_REGISTRATION).unwrap()).await;
    assert_eq!(status, 201, "{created}");
    let shown = created["secret"].as_str().unwrap();
    assert_eq!(shown, "whsec_eW91ci1zZWNyZXQta2V5", "the same key, in the Standard Webhooks form");
    assert!(created["warnings"][0].as_str().unwrap().contains("15 bytes"), "{created}");

    let receiver = TestReceiver::start().await;
    app.create_webhook(&receiver.url, &["customer.*"], json!({"secret": "your-secret-key"})).await;
    app.publish("customer.created", json!({"id": 123, "portal_id": "100123", "full_name": "John Doe", "email": "john@example.com"})).await;
    let request = receiver.wait_for(1).await.remove(0);
    check_with_python(&[case(&request, shown, true)]);
    assert_eq!(run_python(PLAIN_HMAC, &case(&request, shown, true)), "ok");
}
