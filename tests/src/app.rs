//! `spawn_app`: the local server, in process, on a random loopback port.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hookline_core::adapters::jwt::{JwtKeys, mint_hs256};
use hookline_core::adapters::resolver::SystemResolver;
use hookline_core::api::RateLimits;
use hookline_core::config::{AuthConfig, Config};
use hookline_core::domain::access::Role;
use hookline_core::domain::net_policy::NetPolicy;
use hookline_core::domain::rate_limit::Rate;
use hookline_core::domain::retry::{RetryPolicy, Schedule};
use hookline_core::ports::Resolver;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub address: String,
    pub data: PathBuf,
    pub client: reqwest::Client,
    /// A `webhooks:admin` token, sent by `call` on every request.
    pub admin_token: String,
    /// A publisher API key for every event type, sent by `call` on every request.
    pub api_key: String,
    auth: AuthConfig,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), String>>>,
}

/// A unique path under the system temp folder.
pub fn temp_path(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("hookline-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{n}-{name}"))
}

/// Retries after 50 ms, then 100 ms, …: tests see the whole policy in well under a second.
pub fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy { max_attempts, schedule: Schedule::Exponential { base_delay_secs: 0.05, factor: 2.0, max_delay_secs: 1.0 }, jitter: 0.0 }
}

/// A server that may deliver to loopback receivers over plain HTTP, with fast retries.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(temp_path("hookline.db"), |_| {}, Arc::new(SystemResolver)).await
}

pub fn test_config() -> Config {
    Config {
        allow_http: true,
        net: NetPolicy { allow: vec!["127.0.0.0/8".parse().unwrap()] },
        retry_policy: fast_retries(3),
        request_timeout: Duration::from_secs(5),
        visibility_timeout: Duration::from_secs(10),
        // Tests poll the API as fast as they like; the rate-limit test sets its own limits.
        rate_limits: RateLimits { management: Rate { per_second: 100_000.0, burst: 100_000.0 }, ..RateLimits::default() },
        ..Config::default()
    }
}

pub async fn spawn_app_with(data: PathBuf, tune: impl FnOnce(&mut Config), resolver: Arc<dyn Resolver>) -> TestApp {
    let mut config = test_config();
    tune(&mut config);
    let auth = config.auth.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let path = data.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        hookline::server::run_with(listener, &path, config, resolver, shutdown).await.map_err(|e| format!("{e:#}"))
    });
    let mut app = TestApp {
        address,
        data,
        client: reqwest::Client::new(),
        admin_token: String::new(),
        api_key: String::new(),
        auth,
        stop: Some(stop),
        server: Some(server),
    };
    app.wait_until_healthy().await;
    app.admin_token = app.token(&[Role::Admin], Duration::from_secs(3600));
    let (status, key) = app.post("/api/v1/api-keys", &json!({"name": "tests"})).await;
    assert_eq!(status, 201, "{key}");
    app.api_key = key["key"].as_str().unwrap().to_owned();
    app
}

impl TestApp {
    async fn wait_until_healthy(&self) {
        for _ in 0..200 {
            let response = self.client.get(format!("{}/health", self.address)).send().await;
            if response.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the server did not become healthy");
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.stop.take().map(|stop| stop.send(()));
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The server's local HS256 key, for tests that craft their own tokens.
    pub fn local_secret(&self) -> Vec<u8> {
        hookline::key_files::load(&hookline::key_files::key_path(&self.auth, &self.data), false).unwrap()
    }

    /// A token for this server, signed with its local key.
    pub fn token(&self, roles: &[Role], ttl: Duration) -> String {
        let settings = hookline::key_files::jwt_settings(&self.auth, &self.data, false).unwrap();
        match &settings.keys {
            JwtKeys::Hs256(secret) => mint_hs256(secret, &settings, "test-admin", roles, ttl).unwrap(),
            JwtKeys::Jwks(_) => {
                let names: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
                crate::tokens::rs256(&crate::tokens::claims(&names))
            }
        }
    }

    /// Sends a request as the test admin (and publisher) and returns the status and the JSON body.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let bearer = format!("Bearer {}", self.admin_token);
        self.call_with(method, path, body, &[("authorization", &bearer), ("x-api-key", &self.api_key)]).await
    }

    /// Sends a request with only the given headers (no credentials unless among them).
    pub async fn call_with(&self, method: &str, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }

    /// Registers a webhook and returns its creation response (with the full secret).
    pub async fn create_webhook(&self, url: &str, events: &[&str], extra: Value) -> Value {
        let mut body = json!({ "name": format!("hook for {}", events.join(",")), "url": url, "events": events });
        if let (Some(target), Some(more)) = (body.as_object_mut(), extra.as_object()) {
            target.extend(more.clone());
        }
        let (status, created) = self.post("/api/v1/webhooks", &body).await;
        assert_eq!(status, 201, "{created}");
        created
    }

    pub async fn publish(&self, event_type: &str, data: Value) -> Value {
        let (status, body) = self.post("/api/v1/events", &json!({ "event_type": event_type, "data": data })).await;
        assert_eq!(status, 202, "{body}");
        body
    }

    /// Known traffic for the metrics tests: a webhook on `*` whose receiver answers 200 and one
    /// on `auth.*` whose receiver always answers 500 (two attempts); one `customer.deleted` and
    /// one `auth.login` published and settled: 2 succeeded, 1 dead, 4 attempts, 2 of them failed.
    /// Returns both webhooks and keeps the receivers running.
    pub async fn deliver_to_a_good_and_a_failing_webhook(&self) -> (Value, Value, [crate::TestReceiver; 2]) {
        let (ok, failing) = (crate::TestReceiver::start().await, crate::TestReceiver::start().await);
        failing.always(500);
        let good = self.create_webhook(&ok.url, &["*"], json!({})).await;
        let bad =
            self.create_webhook(&failing.url, &["auth.*"], json!({"retry_policy": {"max_attempts": 2, "schedule_secs": [0.05]}})).await;
        self.publish("customer.deleted", json!({"id": 5})).await;
        self.publish("auth.login", json!({"user_id": "u"})).await;
        self.settled_deliveries(good["id"].as_str().unwrap(), 2).await;
        self.settled_deliveries(bad["id"].as_str().unwrap(), 1).await;
        (good, bad, [ok, failing])
    }

    /// The deliveries of one webhook, newest first.
    pub async fn deliveries_of(&self, webhook_id: &str) -> Vec<Value> {
        let (status, page) = self.get(&format!("/api/v1/webhooks/{webhook_id}/deliveries?limit=100")).await;
        assert_eq!(status, 200, "{page}");
        page["data"].as_array().unwrap().clone()
    }

    /// Waits until every delivery of `webhook_id` is closed, and returns them.
    pub async fn settled_deliveries(&self, webhook_id: &str, expected: usize) -> Vec<Value> {
        crate::eventually("deliveries to settle", Duration::from_secs(15), || async {
            let deliveries = self.deliveries_of(webhook_id).await;
            let open = deliveries.iter().any(|d| d["status"] == "pending" || d["status"] == "retrying");
            (deliveries.len() == expected && !open).then_some(deliveries)
        })
        .await
    }
}
