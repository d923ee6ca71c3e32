//! Cold start of a function binary, measured locally: from spawning the process to its first
//! answer on a minimal Lambda runtime API (the one `lambda_runtime` polls), with the table and
//! queues on the emulator. Start-up includes reading the settings, building the SDK and HTTP
//! clients and the secret-key check in DynamoDB.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hookline_tests::emulator::Emulator;
use hookline_tests::functions::{DEV_AUTH_KEY, sample_event};
use serde_json::Value;
use tokio::sync::mpsc;

#[derive(Clone)]
struct Runtime {
    event: Arc<Mutex<Option<Value>>>,
    answered: mpsc::UnboundedSender<Result<(), String>>,
}

async fn next(State(runtime): State<Runtime>) -> (HeaderMap, String) {
    let event = runtime.event.lock().unwrap().take();
    let Some(event) = event else { return std::future::pending().await };
    let mut headers = HeaderMap::new();
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    headers.insert("lambda-runtime-aws-request-id", "bench-request".parse().unwrap());
    headers.insert("lambda-runtime-deadline-ms", deadline.to_string().parse().unwrap());
    headers.insert("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench".parse().unwrap());
    (headers, event.to_string())
}

async fn answered(State(runtime): State<Runtime>) -> &'static str {
    let _ = runtime.answered.send(Ok(()));
    "{}"
}

async fn failed(State(runtime): State<Runtime>, body: String) -> &'static str {
    let _ = runtime.answered.send(Err(body));
    "{}"
}

fn sample_for(function: &str) -> Value {
    match function {
        "api" => sample_event("api-list-webhooks", &[]),
        "ingest" => sample_event("ingest-sqs", &[]),
        _ => sample_event("deliver-batch", &[]),
    }
}

async fn once(endpoint: &str, binary: &Path, function: &str) -> Duration {
    let emulator = Emulator::connect_to(endpoint, None).await;
    let (table, queues) = (emulator.fresh_table().await, emulator.fresh_queues(Duration::from_secs(30), 10).await);
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let runtime = Runtime { event: Arc::new(Mutex::new(Some(sample_for(function)))), answered: sender };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(answered))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(failed))
        .route("/2018-06-01/runtime/init/error", post(failed))
        .with_state(runtime);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("HOOKLINE_AWS_ENDPOINT", endpoint)
        .env("HOOKLINE_TABLE", table)
        .env("HOOKLINE_QUEUE_URL", &queues.queue_url)
        .env("HOOKLINE_DLQ_URL", &queues.dlq_url)
        .env("HOOKLINE_SECRET_KEY", STANDARD.encode([3u8; 32]))
        .env("HOOKLINE_AUTH_KEY", STANDARD.encode(DEV_AUTH_KEY))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e} (build it: cargo build --release --workspace)", binary.display()));
    let outcome = tokio::time::timeout(Duration::from_secs(30), receiver.recv()).await;
    let elapsed = started.elapsed();
    let _ = child.kill().await;
    server.abort();
    match outcome {
        Ok(Some(Ok(()))) => elapsed,
        other => panic!("{function} did not answer its first invocation: {other:?}"),
    }
}

/// The median cold start over `runs` fresh processes, in milliseconds.
pub async fn median(endpoint: &str, binary: &Path, function: &str, runs: usize) -> f64 {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        times.push(once(endpoint, binary, function).await.as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
