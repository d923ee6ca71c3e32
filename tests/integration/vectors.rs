//! The published test vectors (`docs/vectors.json`): signed by Hookline's own code, the file
//! must match what the code produces now (it fails when they drift; `HOOKLINE_WRITE_VECTORS=1`
//! rewrites it), every verdict must be what `hookline verify` says, the Standard Webhooks spec's
//! published vector is among them, and the official Python library signs each one the same.

use std::path::PathBuf;
use std::process::Stdio;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hookline_core::domain::secret::SigningSecret;
use hookline_core::domain::signing::sign;
use hookline_core::domain::verification::{Captured, check};
use serde_json::{Value, json};

use crate::server_process::binary;

const TOLERANCE: i64 = 300;
const AT: i64 = 1_765_000_000;
const SPEC_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors.json")
}

/// One vector: a request as a receiver gets it, the moment it checks, and the verdict.
struct Vector {
    name: &'static str,
    secret: String,
    id: &'static str,
    timestamp: i64,
    body: String,
    signature: String,
    now: i64,
}

impl Vector {
    fn verdict(&self) -> Result<usize, String> {
        let secret = SigningSecret::parse(&self.secret).unwrap();
        let timestamp = self.timestamp.to_string();
        let request =
            Captured { id: Some(self.id), timestamp: Some(&timestamp), signature: Some(&self.signature), body: self.body.as_bytes() };
        check(&secret, &request, self.now, TOLERANCE).map(|genuine| genuine.entry).map_err(|refusal| refusal.to_string())
    }

    fn to_json(&self) -> Value {
        let verdict = self.verdict();
        json!({
            "name": self.name,
            "secret": self.secret,
            "secret_whsec": SigningSecret::parse(&self.secret).unwrap().expose(),
            "headers": {"webhook-id": self.id, "webhook-timestamp": self.timestamp.to_string(), "webhook-signature": self.signature},
            "body": self.body,
            "now": self.now,
            "tolerance_secs": TOLERANCE,
            "genuine": verdict.is_ok(),
            "why": verdict.map_or_else(|reason| reason, |entry| format!("signature entry {entry} matches")),
        })
    }
}

fn signed(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    sign(&SigningSecret::parse(secret).unwrap(), id, timestamp, body.as_bytes())
}

fn vectors() -> Vec<Vector> {
    let secret = format!("whsec_{}", STANDARD.encode((0u8..32).collect::<Vec<_>>()));
    let old = format!("whsec_{}", STANDARD.encode([7u8; 32]));
    let id = "evt_01JEXAMPLE0000000000000000";
    let body = r#"{"id":"evt_01JEXAMPLE0000000000000000","event_type":"customer.created","timestamp":"2025-12-06T05:46:40Z","data":{"id":123,"portal_id":"100123","full_name":"Zoë Ünicode","email":"zoe@example.com"}}"#;
    let good = signed(&secret, id, AT, body);
    let spec_body = r#"{"email":"test@example.com","username":"test_user"}"#;
    let base =
        |name, signature: String| Vector { name, secret: secret.clone(), id, timestamp: AT, body: body.to_owned(), signature, now: AT + 5 };
    vec![
        Vector {
            name: "the Standard Webhooks specification's own vector",
            secret: SPEC_SECRET.into(),
            id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            timestamp: 1_649_367_553,
            body: spec_body.into(),
            signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=".into(),
            now: 1_649_367_553,
        },
        base("a Hookline delivery", good.clone()),
        Vector {
            name: "a plain-text secret (its UTF-8 bytes are the key)",
            secret: "your-secret-key".into(),
            signature: signed("your-secret-key", id, AT, body),
            ..base("", String::new())
        },
        base("during a rotation: the new secret's signature is the second entry", format!("{} {good}", signed(&old, id, AT, body))),
        Vector {
            name: "during a rotation: the old secret still verifies",
            secret: old.clone(),
            ..base("", format!("{} {good}", signed(&old, id, AT, body)))
        },
        Vector { name: "the wrong secret", secret: old, ..base("", good.clone()) },
        Vector { body: body.replace("123", "124"), ..base("the body altered after signing", good.clone()) },
        Vector { now: AT + TOLERANCE + 1, ..base("a stale timestamp (a replay of an old capture)", good.clone()) },
        Vector { now: AT - TOLERANCE - 1, ..base("a timestamp too far in the future", good.clone()) },
        Vector { timestamp: AT + 1, ..base("the timestamp changed after signing", good.clone()) },
        base("a signature without the v1 scheme", good.replacen("v1,", "v2,", 1)),
    ]
}

fn generated() -> Value {
    json!({
        "about": "Standard Webhooks signatures as Hookline makes them: v1,base64(HMAC-SHA256(key, id.timestamp.body)), the key being the base64 after whsec_ (or a plain secret's UTF-8 bytes). A receiver is correct when it finds each vector's 'genuine' at its 'now'. Generated by tests/integration/vectors.rs.",
        "vectors": vectors().iter().map(Vector::to_json).collect::<Vec<_>>(),
    })
}

#[test]
fn the_published_vectors_are_what_the_code_signs_and_verifies() {
    let expected = serde_json::to_string_pretty(&generated()).unwrap() + "\n";
    if std::env::var("HOOKLINE_WRITE_VECTORS").is_ok() {
        std::fs::write(vectors_path(), &expected).unwrap();
    }
    let published = std::fs::read_to_string(vectors_path()).unwrap_or_default();
    assert!(
        published == expected,
        "docs/vectors.json is not what the code produces: run this test with HOOKLINE_WRITE_VECTORS=1 and review the change"
    );
    let genuine: Vec<bool> = vectors().iter().map(|v| v.verdict().is_ok()).collect();
    assert_eq!(genuine, [true, true, true, true, true, false, false, false, false, false, false]);
}

/// The official library signs each vector's message; a vector is genuine exactly when one of
/// its entries is that signature and its timestamp is within tolerance of its `now`.
const OFFICIAL: &str = r#"
import json, sys
from datetime import datetime, timezone
from standardwebhooks.webhooks import Webhook
vectors = json.load(sys.stdin)["vectors"]
for v in vectors:
    h = v["headers"]
    ts = int(h["webhook-timestamp"])
    expected = Webhook(v["secret_whsec"]).sign(h["webhook-id"], datetime.fromtimestamp(ts, tz=timezone.utc), v["body"])
    matches = expected in h["webhook-signature"].split(" ")
    timely = abs(v["now"] - ts) <= v["tolerance_secs"]
    assert (matches and timely) == v["genuine"], v["name"]
print(f"checked {len(vectors)}")
"#;

#[test]
fn the_official_python_library_agrees_with_every_vector() {
    let python = std::env::var("HOOKLINE_TEST_PYTHON").expect("HOOKLINE_TEST_PYTHON is set by the test command");
    let mut child = std::process::Command::new(python)
        .args(["-c", OFFICIAL])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &generated()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), format!("checked {}", vectors().len()));
}

/// `hookline verify` on a vector: its exit status and what it printed.
fn verify_command(vector: &Value, body: &str) -> (bool, String) {
    let headers = &vector["headers"];
    let output = std::process::Command::new(binary())
        .args(["verify", "--tolerance-secs", "300"])
        .args(["--secret", vector["secret"].as_str().unwrap()])
        .args(["--id", headers["webhook-id"].as_str().unwrap(), "--timestamp", headers["webhook-timestamp"].as_str().unwrap()])
        .args(["--signature", headers["webhook-signature"].as_str().unwrap(), "--now", &vector["now"].to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(body.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    (output.status.success(), format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

#[test]
fn hookline_verify_gives_each_vectors_verdict_and_reason() {
    for vector in generated()["vectors"].as_array().unwrap() {
        let (genuine, said) = verify_command(vector, vector["body"].as_str().unwrap());
        assert_eq!(genuine, vector["genuine"].as_bool().unwrap(), "{}: {said}", vector["name"]);
        assert!(said.contains(vector["why"].as_str().unwrap()), "{}: {said}", vector["name"]);
    }
    let headers_file = hookline_tests::temp_path("captured-headers.txt");
    let spec = &generated()["vectors"][0];
    let captured = format!(
        "HTTP/1.1 POST /hook\r\nWebhook-Id: {}\r\nwebhook-timestamp: {}\r\nwebhook-signature: {}\r\n",
        spec["headers"]["webhook-id"].as_str().unwrap(),
        spec["headers"]["webhook-timestamp"].as_str().unwrap(),
        spec["headers"]["webhook-signature"].as_str().unwrap()
    );
    std::fs::write(&headers_file, captured).unwrap();
    let output = std::process::Command::new(binary())
        .args(["verify", "--secret", SPEC_SECRET, "--now", "1649367600", "--headers"])
        .arg(&headers_file)
        .args(["--body", "/dev/null"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && said.contains("the body was altered"), "an empty body is not the one signed: {said}");
    let missing = std::process::Command::new(binary()).args(["verify", "--secret", SPEC_SECRET, "--body", "/dev/null"]).output().unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("the webhook-id header is missing"));
}
