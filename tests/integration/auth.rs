//! Who may call what: bearer tokens and roles on every management route, API keys for publishers.

use std::sync::Arc;

use hookline_core::adapters::resolver::SystemResolver;
use hookline_core::domain::access::Role;
use hookline_core::domain::rate_limit::Rate;
use hookline_tests::tokens::{claims, es256, fixture, hs256, rs256, unsigned};
use hookline_tests::{TestApp, spawn_app, spawn_app_with, temp_path};
use serde_json::{Value, json};

/// Every management route with the role it needs (ids that do not exist are fine: the
/// credentials are checked before anything is looked up).
const ROUTES: &[(&str, &str, Role)] = &[
    ("GET", "/api/v1/webhooks", Role::Read),
    ("POST", "/api/v1/webhooks", Role::Write),
    ("GET", "/api/v1/webhooks/wh_0", Role::Read),
    ("PUT", "/api/v1/webhooks/wh_0", Role::Write),
    ("DELETE", "/api/v1/webhooks/wh_0", Role::Write),
    ("POST", "/api/v1/webhooks/wh_0/test", Role::Write),
    ("POST", "/api/v1/webhooks/wh_0/replay", Role::Write),
    ("GET", "/api/v1/webhooks/wh_0/secret", Role::Write),
    ("POST", "/api/v1/webhooks/wh_0/secret/rotate", Role::Write),
    ("GET", "/api/v1/webhooks/wh_0/deliveries", Role::Read),
    ("GET", "/api/v1/webhooks/events", Role::Read),
    ("GET", "/api/v1/webhooks/events/customer.created", Role::Read),
    ("GET", "/api/v1/webhooks/deliveries", Role::Read),
    ("GET", "/api/v1/webhooks/deliveries/dlv_0", Role::Read),
    ("POST", "/api/v1/webhooks/deliveries/dlv_0/replay", Role::Write),
    ("GET", "/api/v1/webhooks/metrics", Role::Read),
    ("POST", "/api/v1/api-keys", Role::Admin),
    ("GET", "/api/v1/api-keys", Role::Admin),
    ("DELETE", "/api/v1/api-keys/key_0", Role::Admin),
    ("GET", "/api/v1/audit", Role::Admin),
    ("DELETE", "/api/v1/events/evt_0", Role::Admin),
];

async fn call_with_token(app: &TestApp, method: &str, path: &str, token: &str) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    app.call_with(method, path, Some(&json!({})), &[("authorization", &bearer)]).await
}

#[tokio::test]
async fn every_management_route_needs_a_token_with_the_right_role() {
    let app = spawn_app().await;
    let secret = app.local_secret();
    let roles = [Role::Read, Role::Write, Role::Admin];
    for (method, path, needed) in ROUTES {
        let (status, body) = app.call_with(method, path, Some(&json!({})), &[]).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")), "{method} {path} without a token");
        for role in roles {
            let token = hs256(&secret, &claims(&[role.as_str()]));
            let (status, body) = call_with_token(&app, method, path, &token).await;
            if role >= *needed {
                assert!(status != 401 && status != 403, "{method} {path} with {}: {status} {body}", role.as_str());
            } else {
                assert_eq!(status, 403, "{method} {path} with {}", role.as_str());
                assert!(body["detail"].as_str().unwrap().contains(needed.as_str()), "{body}");
            }
        }
    }
}

#[tokio::test]
async fn expired_early_foreign_forged_and_unsigned_tokens_are_refused() {
    let app = spawn_app().await;
    let secret = app.local_secret();
    let now = chrono::Utc::now().timestamp();
    let with = |changes: Value| {
        let mut all = claims(&["webhooks:admin"]);
        all.as_object_mut().unwrap().extend(changes.as_object().unwrap().clone());
        all
    };
    let refused = [
        ("expired", hs256(&secret, &with(json!({"exp": now - 120})))),
        ("not yet valid", hs256(&secret, &with(json!({"nbf": now + 120})))),
        ("wrong issuer", hs256(&secret, &with(json!({"iss": "someone-else"})))),
        ("wrong audience", hs256(&secret, &with(json!({"aud": "another-service"})))),
        ("no subject", hs256(&secret, &with(json!({"sub": ""})))),
        ("wrong key", hs256(b"a-different-secret-of-thirty-two-bytes", &claims(&["webhooks:admin"]))),
        ("alg none", unsigned(&claims(&["webhooks:admin"]))),
        ("RS256 to an HS256 deployment", rs256(&claims(&["webhooks:admin"]))),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (what, token) in refused {
        let (status, body) = call_with_token(&app, "GET", "/api/v1/webhooks", &token).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["detail"], "valid credentials are required", "{what}: the reason is not told");
    }
    let fine = hs256(&secret, &with(json!({"exp": now + 60, "roles": "webhooks:read", "scope": "openid"})));
    assert_eq!(call_with_token(&app, "GET", "/api/v1/webhooks", &fine).await.0, 200);
    let scoped = hs256(&secret, &with(json!({"roles": [], "scope": "openid webhooks:read"})));
    assert_eq!(call_with_token(&app, "GET", "/api/v1/webhooks", &scoped).await.0, 200, "roles from scope");
}

#[tokio::test]
async fn a_jwks_deployment_takes_rs256_and_es256_and_refuses_algorithm_confusion() {
    let app = spawn_app_with(temp_path("jwks.db"), |c| c.auth.jwks_file = Some(fixture("jwks.json")), Arc::new(SystemResolver)).await;
    let admin = claims(&["webhooks:admin"]);
    assert_eq!(call_with_token(&app, "GET", "/api/v1/webhooks", &rs256(&admin)).await.0, 200);
    assert_eq!(call_with_token(&app, "GET", "/api/v1/webhooks", &es256(&admin)).await.0, 200);
    // The classic confusion: HMAC "signed" with the RSA public key, presented as HS256.
    let public_pem = std::fs::read(fixture("rsa_public.pem")).unwrap();
    assert_eq!(call_with_token(&app, "GET", "/api/v1/webhooks", &hs256(&public_pem, &admin)).await.0, 401);
    assert_eq!(call_with_token(&app, "GET", "/api/v1/webhooks", &unsigned(&admin)).await.0, 401);
}

#[tokio::test]
async fn publishing_needs_a_live_api_key_allowed_for_the_event_type() {
    let app = spawn_app().await;
    let event = json!({"event_type": "invoice.paid", "data": {"invoice_id": "I", "customer_id": 1, "amount": 1, "paid_at": "2024-01-01T00:00:00Z"}});
    let publish = |headers: Vec<(&'static str, String)>| {
        let (app, event) = (&app, event.clone());
        async move {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(name, value)| (*name, value.as_str())).collect();
            app.call_with("POST", "/api/v1/events", Some(&event), &pairs).await
        }
    };
    assert_eq!(publish(vec![]).await.0, 401, "no key");
    assert_eq!(publish(vec![("x-api-key", "hk_0123456789abcdef_nope".into())]).await.0, 401, "unknown key");
    let admin_jwt = format!("Bearer {}", app.admin_token);
    assert_eq!(publish(vec![("authorization", admin_jwt)]).await.0, 401, "a management token is not a publisher key");

    let (_, billing) = app.post("/api/v1/api-keys", &json!({"name": "billing", "events": ["invoice.*"]})).await;
    let key = billing["key"].as_str().unwrap().to_owned();
    assert_eq!(publish(vec![("x-api-key", key.clone())]).await.0, 202);
    assert_eq!(publish(vec![("authorization", format!("Bearer {key}"))]).await.0, 202, "also as a bearer");
    let login = json!({"event_type": "auth.login", "data": {"user_id": "u"}});
    let (status, body) = app.call_with("POST", "/api/v1/events", Some(&login), &[("x-api-key", &key)]).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "outside the key's patterns");

    let (_, listed) = app.get("/api/v1/api-keys").await;
    let entry = listed["data"].as_array().unwrap().iter().find(|k| k["id"] == billing["id"]).unwrap().clone();
    assert!(entry["last_used_at"].is_string());
    assert!(entry.get("key").is_none() && entry.get("hash").is_none(), "{entry}");
    let stored = rusqlite::Connection::open(&app.data).unwrap();
    let hash: String =
        stored.query_row("SELECT hash FROM api_keys WHERE id = ?1", [billing["id"].as_str().unwrap()], |r| r.get(0)).unwrap();
    assert_ne!(hash, key);
    assert!(!std::fs::read(&app.data).unwrap().windows(key.len()).any(|w| w == key.as_bytes()), "the key text is not stored");

    let (status, _) = app.call("DELETE", &format!("/api/v1/api-keys/{}", billing["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 204);
    assert_eq!(publish(vec![("x-api-key", key)]).await.0, 401, "revoked");
    assert_eq!(app.call("DELETE", "/api/v1/api-keys/key_missing", None).await.0, 404);
}

#[tokio::test]
async fn a_burst_above_the_limit_gets_429_with_retry_after_and_the_bucket_refills() {
    let limited = |c: &mut hookline_core::config::Config| {
        c.rate_limits.publish = Rate { per_second: 2.0, burst: 3.0 };
        c.rate_limits.management = Rate { per_second: 2.0, burst: 4.0 };
    };
    let app = spawn_app_with(temp_path("limited.db"), limited, Arc::new(SystemResolver)).await;
    let event = json!({"event_type": "auth.login", "data": {"user_id": "u"}});
    for _ in 0..3 {
        assert_eq!(app.post("/api/v1/events", &event).await.0, 202);
    }
    let response = app.client.post(app.url("/api/v1/events")).header("x-api-key", &app.api_key).json(&event).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(app.post("/api/v1/events", &event).await.0, 202, "the bucket refilled");

    let secret = app.local_secret();
    let alice = hs256(&secret, &claims(&["webhooks:read"]));
    for _ in 0..4 {
        assert_eq!(call_with_token(&app, "GET", "/api/v1/webhooks", &alice).await.0, 200);
    }
    assert_eq!(call_with_token(&app, "GET", "/api/v1/webhooks", &alice).await.0, 429);
    let mut bob = claims(&["webhooks:read"]);
    bob["sub"] = json!("bob");
    assert_eq!(call_with_token(&app, "GET", "/api/v1/webhooks", &hs256(&secret, &bob)).await.0, 200, "limits are per subject");
}

/// Serves a JWKS document that the test can change.
async fn jwks_server(document: Value) -> (String, Arc<std::sync::Mutex<Value>>) {
    let shared = Arc::new(std::sync::Mutex::new(document));
    let served = shared.clone();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let document = served.lock().unwrap().clone();
            async move { axum::Json(document) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, shared)
}

fn fixture_key(kid: &str) -> Value {
    let set: Value = serde_json::from_str(&std::fs::read_to_string(fixture("jwks.json")).unwrap()).unwrap();
    set["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap().clone()
}

#[tokio::test]
async fn keys_from_a_jwks_url_are_refreshed_when_the_provider_rotates_them() {
    let (url, document) = jwks_server(json!({"keys": [fixture_key("test-rsa")]})).await;
    let from_url = |c: &mut hookline_core::config::Config| {
        c.auth.jwks_url = Some(url.clone());
        c.auth.jwks_refresh = std::time::Duration::from_millis(200);
    };
    let app = spawn_app_with(temp_path("jwks-url.db"), from_url, Arc::new(SystemResolver)).await;
    let admin = claims(&["webhooks:admin"]);
    assert_eq!(call_with_token(&app, "GET", "/api/v1/webhooks", &rs256(&admin)).await.0, 200);
    assert_eq!(call_with_token(&app, "GET", "/api/v1/webhooks", &es256(&admin)).await.0, 401, "not published yet");

    *document.lock().unwrap() = json!({"keys": [fixture_key("test-ec")]});
    hookline_tests::eventually("the rotated key set", std::time::Duration::from_secs(5), || async {
        (call_with_token(&app, "GET", "/api/v1/webhooks", &es256(&admin)).await.0 == 200).then_some(())
    })
    .await;
    assert_eq!(call_with_token(&app, "GET", "/api/v1/webhooks", &rs256(&admin)).await.0, 401, "the retired key no longer works");
}

#[tokio::test]
async fn a_jwks_url_that_cannot_be_fetched_stops_the_server_at_start_up() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = hookline_tests::test_config();
    config.auth.jwks_url = Some("http://127.0.0.1:9/nothing-here".into());
    let started =
        hookline::server::run_with(listener, &temp_path("no-jwks.db"), config, Arc::new(SystemResolver), std::future::pending()).await;
    assert!(format!("{:#}", started.unwrap_err()).contains("JWKS"));
}

#[tokio::test]
async fn a_401_names_the_credential_its_route_takes() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let challenge =
        |response: &reqwest::Response| response.headers().get("www-authenticate").map(|value| value.to_str().unwrap().to_owned());
    let management = client.get(app.url("/api/v1/webhooks")).send().await.unwrap();
    assert_eq!((management.status().as_u16(), challenge(&management).as_deref()), (401, Some("Bearer")));
    for key in [None, Some("hk_0000000000000000_not-a-key")] {
        let mut publish = client.post(app.url("/api/v1/events")).json(&json!({"event_type": "auth.login", "data": {}}));
        if let Some(key) = key {
            publish = publish.header("x-api-key", key);
        }
        let refused = publish.send().await.unwrap();
        assert_eq!(refused.status().as_u16(), 401, "API key {key:?}");
        assert_eq!(challenge(&refused).as_deref(), Some(r#"ApiKey header="X-API-Key""#), "never Bearer for API key {key:?}");
    }
}
