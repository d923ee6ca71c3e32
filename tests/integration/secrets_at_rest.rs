//! Signing secrets are sealed at rest, and a wrong key stops the server at start-up.

use std::sync::Arc;

use hookline_core::adapters::resolver::SystemResolver;
use hookline_core::config::Redacted;
use hookline_tests::test_config;
use hookline_tests::{spawn_app_with, temp_path};
use serde_json::json;

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

fn file_contains(path: &std::path::Path, needle: &str) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

#[tokio::test]
async fn the_stored_secret_is_sealed_and_the_database_never_holds_it_in_clear() {
    let data = temp_path("sealed.db");
    let app = spawn_app_with(data.clone(), |_| {}, Arc::new(SystemResolver)).await;
    let webhook = app.create_webhook("https://example.com/hook", &["*"], json!({"secret": SECRET})).await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/webhooks/{id}/secret/rotate"), &json!({})).await;
    let stored: String =
        rusqlite::Connection::open(&data).unwrap().query_row("SELECT secret FROM webhooks WHERE id = ?1", [&id], |row| row.get(0)).unwrap();
    assert!(stored.starts_with("enc:v1:"), "{stored}");
    let key_part = &SECRET["whsec_".len()..];
    for file in [data.clone(), data.with_extension("db-wal")] {
        assert!(!file_contains(&file, key_part), "{} holds the secret in clear", file.display());
    }
    let (_, secret) = app.get(&format!("/api/v1/webhooks/{id}/secret")).await;
    assert!(secret["secret"].as_str().unwrap().starts_with("whsec_"), "and it still opens");
    assert_eq!(secret["retired_until"].as_array().unwrap().len(), 1, "the retired one too");
}

#[tokio::test]
async fn a_wrong_secret_key_fails_at_start_up() {
    let data = temp_path("rekeyed.db");
    let key = |byte: u8| Some(Redacted::new(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [byte; 32])));
    let first = spawn_app_with(data.clone(), |c| c.secret_key = key(1), Arc::new(SystemResolver)).await;
    first.create_webhook("https://example.com/hook", &["*"], json!({})).await;
    first.stop().await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = hookline_core::config::Config { secret_key: key(2), ..test_config() };
    let started = hookline::server::run_with(listener, &data, config, Arc::new(SystemResolver), std::future::pending()).await;
    let error = format!("{:#}", started.unwrap_err());
    assert!(error.contains("secret key does not match"), "{error}");

    let again = spawn_app_with(data, |c| c.secret_key = key(1), Arc::new(SystemResolver)).await;
    assert_eq!(again.get("/api/v1/webhooks").await.1["data"].as_array().unwrap().len(), 1, "the right key still works");
}
