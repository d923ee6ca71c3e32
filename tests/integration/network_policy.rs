//! The URL policy at registration and, again, at connect time (so DNS rebinding or a
//! tightened policy cannot slip through).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hookline_core::domain::net_policy::NetPolicy;
use hookline_core::ports::{ResolveError, Resolver};
use hookline_tests::{TestReceiver, spawn_app, spawn_app_with, temp_path};
use serde_json::json;

/// A resolver whose answers the test changes while the server runs.
#[derive(Default)]
struct SwitchableResolver {
    table: Mutex<HashMap<String, IpAddr>>,
}

impl SwitchableResolver {
    fn point(&self, host: &str, ip: &str) {
        self.table.lock().unwrap().insert(host.to_owned(), ip.parse().unwrap());
    }
}

#[async_trait]
impl Resolver for SwitchableResolver {
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let found = self.table.lock().unwrap().get(host).copied();
        found.map(|ip| vec![ip]).ok_or_else(|| ResolveError { host: host.to_owned(), detail: "unknown".into() })
    }
}

#[tokio::test]
async fn private_and_local_urls_are_refused_at_registration() {
    let resolver = Arc::new(SwitchableResolver::default());
    resolver.point("metadata.example", "169.254.169.254");
    let app = spawn_app_with(temp_path("strict.db"), |c| c.net = NetPolicy::default(), resolver).await;
    for url in ["http://127.0.0.1:9/hook", "https://localhost/hook", "https://[::ffff:10.0.0.1]/", "https://metadata.example/latest"] {
        let (status, body) = app.post("/api/v1/webhooks", &json!({"name": "x", "url": url, "events": ["*"]})).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["field"], "url");
    }
}

#[tokio::test]
async fn a_name_that_rebinds_to_loopback_after_registration_is_refused_at_connect_time() {
    let receiver = TestReceiver::start().await;
    let port = receiver.url.rsplit(':').next().unwrap().trim_end_matches("/hook").to_owned();
    let resolver = Arc::new(SwitchableResolver::default());
    resolver.point("hooks.partner.example", "93.184.216.34");
    let app = spawn_app_with(temp_path("rebind.db"), |c| c.net = NetPolicy::default(), resolver.clone()).await;
    let webhook = app
        .create_webhook(&format!("http://hooks.partner.example:{port}/hook"), &["auth.*"], json!({"retry_policy": {"max_attempts": 1}}))
        .await;
    resolver.point("hooks.partner.example", "127.0.0.1");
    app.publish("auth.login", json!({"user_id": "u"})).await;
    let delivery = &app.settled_deliveries(webhook["id"].as_str().unwrap(), 1).await[0];
    let (_, detail) = app.get(&format!("/api/v1/webhooks/deliveries/{}", delivery["id"].as_str().unwrap())).await;
    assert_eq!(detail["attempts_log"][0]["error_kind"], "blocked");
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn the_same_name_is_delivered_to_when_the_operator_allows_loopback() {
    let receiver = TestReceiver::start().await;
    let port = receiver.url.rsplit(':').next().unwrap().trim_end_matches("/hook").to_owned();
    let resolver = Arc::new(SwitchableResolver::default());
    resolver.point("hooks.partner.example", "127.0.0.1");
    let app = spawn_app_with(temp_path("allowed.db"), |_| {}, resolver).await;
    app.create_webhook(&format!("http://hooks.partner.example:{port}/hook"), &["auth.*"], json!({})).await;
    app.publish("auth.login", json!({"user_id": "u"})).await;
    receiver.wait_for(1).await;
}

#[tokio::test]
async fn an_address_allowed_at_registration_is_refused_once_the_policy_tightens() {
    let receiver = TestReceiver::start().await;
    let data = temp_path("tightened.db");
    let open = spawn_app_with(data.clone(), |_| {}, Arc::new(hookline_core::adapters::resolver::SystemResolver)).await;
    let webhook = open.create_webhook(&receiver.url, &["auth.*"], json!({"retry_policy": {"max_attempts": 1}})).await;
    open.stop().await;
    let strict = spawn_app_with(data, |c| c.net = NetPolicy::default(), Arc::new(hookline_core::adapters::resolver::SystemResolver)).await;
    strict.publish("auth.login", json!({"user_id": "u"})).await;
    let delivery = &strict.settled_deliveries(webhook["id"].as_str().unwrap(), 1).await[0];
    assert_eq!(delivery["status"], "dead");
    let (_, detail) = strict.get(&format!("/api/v1/webhooks/deliveries/{}", delivery["id"].as_str().unwrap())).await;
    assert_eq!(detail["attempts_log"][0]["error_kind"], "blocked");
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn a_redirect_is_not_followed_even_to_an_allowed_address() {
    let app = spawn_app().await;
    let target = TestReceiver::start().await;
    let location = target.url.clone();
    let redirector = axum::Router::new().fallback(move || {
        let location = location.clone();
        async move { (axum::http::StatusCode::FOUND, [("location", location)], "moved") }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, redirector).await });
    let webhook = app.create_webhook(&url, &["auth.*"], json!({"retry_policy": {"max_attempts": 1}})).await;
    app.publish("auth.logout", json!({"user_id": "u"})).await;
    let delivery = &app.settled_deliveries(webhook["id"].as_str().unwrap(), 1).await[0];
    assert_eq!(delivery["status"], "dead");
    assert_eq!(delivery["last_status_code"], 302);
    assert!(target.received().is_empty(), "the redirect target was never contacted");
}
