//! The `github` and `stripe` signature profiles, checked by those senders' own verifiers:
//! GitHub's `@octokit/webhooks-methods` (npm, locked in `tests/receiving/`) and Stripe's `stripe`
//! library (PyPI). Each receiver gets a delivery signed with its secret, then one sent during a
//! rotation's grace period, which both the old and the new secret must verify; a wrong secret
//! and an altered body must not.

use std::path::PathBuf;
use std::process::Command;

use hookline_tests::{Received, TestReceiver, spawn_app};
use serde_json::{Value, json};

/// Verifies each case with GitHub's library: `{secret, body, signatures, expected}`, where a
/// delivery verifies when any of its `x-hub-signature-256` values does.
const GITHUB_VERIFIER: &str = r#"
import { verify } from "@octokit/webhooks-methods";
import { readFileSync } from "node:fs";
const cases = JSON.parse(readFileSync(process.argv[1], "utf8"));
for (const c of cases) {
  let verified = false;
  for (const signature of c.signatures) {
    verified = verified || (await verify(c.secret, c.body, signature));
  }
  if (verified !== c.expected) {
    console.error("github case", JSON.stringify(c), "verified:", verified);
    process.exit(1);
  }
}
console.log("verified", cases.length);
"#;

/// Verifies each case with Stripe's library, as a Stripe receiver does.
const STRIPE_VERIFIER: &str = r#"
import json, sys
import stripe
cases = json.load(open(sys.argv[1]))
for case in cases:
    try:
        stripe.WebhookSignature.verify_header(case["body"], case["header"], case["secret"], tolerance=300)
        verified = True
    except stripe.SignatureVerificationError:
        verified = False
    if verified != case["expected"]:
        sys.exit(f"stripe case {case}: verified {verified}")
print("verified", len(cases))
"#;

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

fn run(command: &mut Command, cases: &[Value]) {
    let file = hookline_tests::temp_path("signature-cases.json");
    std::fs::write(&file, serde_json::to_string(cases).unwrap()).unwrap();
    let output = command.arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.trim(), format!("verified {}", cases.len()));
}

fn values(request: &Received, name: &str) -> Vec<String> {
    request.headers.get_all(name).iter().map(|value| value.to_str().unwrap().to_owned()).collect()
}

/// The cases a delivery makes for a verifier: each secret verifies it, a wrong secret and an
/// altered body do not. `signature` is the case's signature field(s) for this sender.
fn cases(request: &Received, secrets: &[&str], signature: (&str, Value)) -> Vec<Value> {
    let case = |secret: &str, body: &str, expected: bool| {
        let mut case = json!({"secret": secret, "body": body, "expected": expected});
        case[signature.0] = signature.1.clone();
        case
    };
    let mut all: Vec<Value> = secrets.iter().map(|secret| case(secret, &request.body, true)).collect();
    all.push(case("not-the-secret-at-all", &request.body, false));
    all.push(case(secrets[0], &request.body.replace("cus_", "cus_x"), false));
    all
}

async fn rotate(app: &hookline_tests::TestApp, webhook: &Value) -> String {
    let (status, rotated) = app.post(&format!("/api/v1/webhooks/{}/secret/rotate", webhook["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    rotated["secret_text"].as_str().expect("a text-secret profile shows the rotated secret as text").to_owned()
}

#[tokio::test]
async fn github_and_stripe_receivers_verify_with_their_senders_libraries_also_during_rotation() {
    let app = spawn_app().await;
    let (github_receiver, stripe_receiver) = (TestReceiver::start().await, TestReceiver::start().await);
    let github = app.create_webhook(&github_receiver.url, &["customer.created"], json!({"signature": "github"})).await;
    assert_eq!(github["signature"], json!({"profile": "github"}));
    let github_secret = github["secret_text"].as_str().expect("a generated github secret is shown as text").to_owned();
    // The seed's plain secret, as a receiver migrated from Stripe holds it.
    let stripe =
        app.create_webhook(&stripe_receiver.url, &["customer.created"], json!({"signature": "stripe", "secret": "your-secret-key"})).await;
    assert_eq!(stripe["signature"], json!({"profile": "stripe", "header_prefix": "Stripe"}));
    assert_eq!(stripe["secret_text"], "your-secret-key");

    app.publish("customer.created", json!({"id": "cus_1", "full_name": "A", "email": "a@example.com"})).await;
    let (github_first, stripe_first) = (github_receiver.wait_for(1).await.remove(0), stripe_receiver.wait_for(1).await.remove(0));
    let (new_github, new_stripe) = (rotate(&app, &github).await, rotate(&app, &stripe).await);
    app.publish("customer.created", json!({"id": "cus_2", "full_name": "B", "email": "b@example.com"})).await;
    let (github_second, stripe_second) = (github_receiver.wait_for(2).await.remove(1), stripe_receiver.wait_for(2).await.remove(1));

    assert_eq!(values(&github_second, "x-hub-signature-256").len(), 2, "one header per secret during the grace period");
    assert_eq!(github_first.header("x-hookline-delivery"), github_first.header("webhook-id"));
    assert!(github_first.header("webhook-signature").is_empty() && stripe_first.header("webhook-signature").is_empty());
    let mut github_cases = cases(&github_first, &[&github_secret], ("signatures", json!(values(&github_first, "x-hub-signature-256"))));
    github_cases.extend(cases(
        &github_second,
        &[&new_github, &github_secret],
        ("signatures", json!(values(&github_second, "x-hub-signature-256"))),
    ));
    let mut node = Command::new("node");
    node.current_dir(repo_path("tests/receiving")).args(["--input-type=module", "-e", GITHUB_VERIFIER]);
    run(&mut node, &github_cases);

    assert_eq!(stripe_second.header("stripe-signature").matches(",v1=").count(), 2, "one v1 entry per secret");
    let mut stripe_cases = cases(&stripe_first, &["your-secret-key"], ("header", json!(stripe_first.header("stripe-signature"))));
    stripe_cases.extend(cases(
        &stripe_second,
        &[&new_stripe, "your-secret-key"],
        ("header", json!(stripe_second.header("stripe-signature"))),
    ));
    let python = std::env::var("HOOKLINE_TEST_PYTHON").expect("HOOKLINE_TEST_PYTHON is set by the test command");
    run(Command::new(python).args(["-c", STRIPE_VERIFIER]), &stripe_cases);
}

#[tokio::test]
async fn a_stripe_prefix_names_the_header_and_a_non_text_key_is_warned_about() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    let extra = json!({"signature": {"profile": "stripe", "header_prefix": "Acme"}, "secret": "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="});
    let webhook = app.create_webhook(&receiver.url, &["customer.created"], extra).await;
    assert!(webhook.get("secret_text").is_none(), "{webhook}");
    assert!(webhook["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("not text")), "{webhook}");
    app.publish("customer.created", json!({"id": "cus_1", "full_name": "A", "email": "a@example.com"})).await;
    let request = receiver.wait_for(1).await.remove(0);
    assert!(request.header("acme-signature").starts_with("t="), "{:?}", request.headers);
    let (status, refused) =
        app.post("/api/v1/webhooks", &json!({"name": "x", "url": receiver.url, "events": ["*"], "signature": "svix"})).await;
    assert_eq!((status, refused["code"].as_str()), (422, Some("validation_failed")), "{refused}");
}
