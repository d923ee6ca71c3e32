//! The `hookline` command as a separate process (to kill it, signal it, or read its logs),
//! with an admin token from `hookline token` and a publisher key created with it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

pub struct ServerProcess {
    pub child: Child,
    pub address: String,
    pub token: String,
    pub api_key: String,
    /// Everything the process printed, standard output and error.
    output: Arc<Mutex<String>>,
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hookline-under-test"))
}

impl ServerProcess {
    /// A server with quiet logs.
    pub async fn start(data: &Path) -> Self {
        Self::start_logging(data, "warn").await
    }

    /// A server whose log filter is `level`; its output is kept for `output()`.
    pub async fn start_logging(data: &Path, level: &str) -> Self {
        Self::start_with(data, level, &[]).await
    }

    /// A server with more flags.
    pub async fn start_with(data: &Path, level: &str, more: &[&str]) -> Self {
        let mut child = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--allow-http", "--allow-net", "127.0.0.0/8"])
            .args(["--per-webhook-concurrency", "2", "--request-timeout", "5", "--visibility-timeout", "10"])
            // Tests poll as fast as they like.
            .args(["--management-rate", "100000", "--management-burst", "100000"])
            .args(more)
            .arg("--data")
            .arg(data)
            .env("HOOKLINE_LOG", level)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let (announced, address) = tokio::sync::oneshot::channel();
        collect(child.stdout.take().unwrap(), output.clone(), Some(announced));
        collect(child.stderr.take().unwrap(), output.clone(), None);
        let address = tokio::time::timeout(Duration::from_secs(10), address).await.unwrap().unwrap();
        let token = admin_token(data).await;
        let created = send(&address, &token, "", "/api/v1/api-keys", &json!({"name": "publisher"})).await;
        Self { child, address, token, api_key: created["key"].as_str().unwrap().to_owned(), output }
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Value {
        send(&self.address, &self.token, &self.api_key, path, body).await
    }

    pub async fn get(&self, path: &str) -> Value {
        let request = reqwest::Client::new().get(format!("{}{path}", self.address)).bearer_auth(&self.token);
        request.send().await.unwrap().json().await.unwrap()
    }
}

/// Appends every line of `stream` to `output`; the first "listening" line's address goes to `announced`.
fn collect(
    stream: impl AsyncRead + Unpin + Send + 'static,
    output: Arc<Mutex<String>>,
    announced: Option<tokio::sync::oneshot::Sender<String>>,
) {
    tokio::spawn(async move {
        let mut announced = announced;
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("hookline listening on")
                && let Some(tell) = announced.take()
            {
                let address = line.split_whitespace().find(|word| word.starts_with("http://")).unwrap_or_default().to_owned();
                let _ = tell.send(address);
            }
            let mut all = output.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
}

/// `hookline token`, as a user would run it: the token alone on standard output.
pub async fn admin_token(data: &Path) -> String {
    token(data, "webhooks:admin").await
}

/// `hookline token` for `role`, as an operator would run it.
pub async fn token(data: &Path, role: &str) -> String {
    let output =
        Command::new(binary()).args(["token", "--role", role, "--sub", "ops", "--ttl", "10m", "--data"]).arg(data).output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

async fn send(address: &str, token: &str, api_key: &str, path: &str, body: &Value) -> Value {
    let request = reqwest::Client::new().post(format!("{address}{path}")).bearer_auth(token).header("x-api-key", api_key);
    let response = request.json(body).send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap()
}
