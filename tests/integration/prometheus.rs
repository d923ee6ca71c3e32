//! `GET /metrics` (local): Prometheus exposition text, parsed by the official Prometheus
//! Python client's OpenMetrics parser, with the figures the deliveries made.

use std::process::{Command, Stdio};

use hookline_core::domain::access::Role;
use hookline_tests::spawn_app;
use serde_json::{Value, json};

/// Parses the text on stdin strictly and prints every sample as `[name, labels, value]`.
const PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
samples = [[s.name, s.labels, s.value] for family in text_string_to_metric_families(sys.stdin.read()) for s in family.samples]
print(json.dumps(samples))
"#;

fn parse(text: &str) -> Vec<(String, Value, f64)> {
    let python = std::env::var("HOOKLINE_TEST_PYTHON").expect("HOOKLINE_TEST_PYTHON: run the README's test command");
    let mut child =
        Command::new(python).args(["-c", PARSE]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "not valid exposition text: {}\n{text}", String::from_utf8_lossy(&output.stderr));
    let samples: Vec<(String, Value, f64)> = serde_json::from_slice(&output.stdout).unwrap();
    samples
}

fn value(samples: &[(String, Value, f64)], name: &str, labels: Value) -> Option<f64> {
    samples.iter().find(|(n, l, _)| n == name && *l == labels).map(|(_, _, v)| *v)
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_what_the_deliveries_did() {
    let app = spawn_app().await;
    app.deliver_to_a_good_and_a_failing_webhook().await;

    let scrape = |token: Option<String>| {
        let mut request = app.client.get(format!("{}/metrics", app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let response = scrape(Some(app.admin_token.clone())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let samples = parse(&response.text().await.unwrap());
    let count = |name: &str, labels: Value| value(&samples, name, labels).unwrap_or_else(|| panic!("{name} missing: {samples:?}"));
    assert_eq!(count("hookline_events_published_total", json!({"event_type": "auth.login"})), 1.0);
    assert_eq!(count("hookline_events_published_total", json!({"event_type": "customer.deleted"})), 1.0);
    assert_eq!(count("hookline_deliveries_total", json!({"status": "pending"})), 3.0, "three deliveries created");
    assert_eq!(count("hookline_deliveries_total", json!({"status": "succeeded"})), 2.0);
    assert_eq!(count("hookline_deliveries_total", json!({"status": "dead"})), 1.0);
    assert_eq!(count("hookline_attempts_total", json!({"outcome": "success", "error_kind": "none"})), 2.0);
    assert_eq!(count("hookline_attempts_total", json!({"outcome": "failure", "error_kind": "http_status"})), 2.0);
    assert_eq!(count("hookline_attempt_duration_seconds_count", json!({})), 4.0);
    assert_eq!(count("hookline_attempt_duration_seconds_bucket", json!({"le": "+Inf"})), 4.0);
    assert_eq!(count("hookline_delivery_latency_seconds_count", json!({})), 2.0);
    assert_eq!(count("hookline_queue_depth", json!({})), 0.0);
    assert_eq!(count("hookline_oldest_task_age_seconds", json!({})), 0.0);
    assert_eq!(count("hookline_webhooks", json!({"state": "active"})), 2.0);
    assert_eq!(count("hookline_webhooks", json!({"state": "failing"})), 0.0);

    assert_eq!(scrape(None).await.unwrap().status(), 401, "a token is needed on the API's address");
    let reader = app.token(&[Role::Read], std::time::Duration::from_secs(60));
    assert_eq!(scrape(Some(reader)).await.unwrap().status(), 403, "an admin token");
}

/// `--metrics-listen` serves `/metrics` alone, without a token; `--log-format json` writes one
/// JSON object per log line, a failed attempt's with the trace and span ids it was sent with.
#[tokio::test]
async fn metrics_on_their_own_address_need_no_token_and_logs_can_be_json() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = free.local_addr().unwrap().to_string();
    drop(free);
    let data = hookline_tests::temp_path("metrics-listen.db");
    let flags = ["--metrics-listen", address.as_str(), "--log-format", "json"];
    let server = crate::server_process::ServerProcess::start_with(&data, "info", &flags).await;
    let response = reqwest::get(format!("http://{address}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    let samples = parse(&response.text().await.unwrap());
    assert_eq!(value(&samples, "hookline_webhooks", json!({"state": "active"})), Some(0.0));
    let api = reqwest::get(format!("http://{address}/api/v1/webhooks")).await.unwrap();
    assert_eq!(api.status(), 404, "only /metrics is served there");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let webhook = json!({"name": "down", "url": nowhere, "events": ["auth.*"], "retry_policy": {"max_attempts": 1}});
    server.post("/api/v1/webhooks", &webhook).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let published = reqwest::Client::new()
        .post(format!("{}/api/v1/events", server.address))
        .header("x-api-key", &server.api_key)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&json!({"event_type": "auth.login", "data": {"user_id": "u"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 202);
    hookline_tests::eventually("the failed attempt's log line", std::time::Duration::from_secs(10), || async {
        server.output().lines().any(|line| line.contains("attempt failed") && line.contains(trace_id)).then_some(())
    })
    .await;
    let output = server.output();
    let logs: Vec<&str> = output.lines().filter(|line| line.starts_with('{')).collect();
    assert!(logs.iter().any(|line| line.contains("hookline is serving")), "{output}");
    for line in &logs {
        let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(parsed["level"].is_string() && parsed["fields"].is_object(), "{line}");
    }
    let failed: Value = serde_json::from_str(logs.iter().find(|line| line.contains("attempt failed")).unwrap()).unwrap();
    assert_eq!(failed["fields"]["trace_id"], trace_id);
    assert_eq!(failed["fields"]["span_id"].as_str().map(str::len), Some(16));
}
