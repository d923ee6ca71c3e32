//! An identity provider's signing keys fetched from its JWKS URL, and kept fresh: the
//! provider rotates keys, so the set is fetched again every refresh interval. A failed refresh
//! keeps the keys already known.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;

use super::jwt::{JwtKeys, TokenVerifier};

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("fetching the JWKS from {url}: {detail}")]
    Fetch { url: String, detail: String },
}

pub async fn fetch_jwks(client: &reqwest::Client, url: &str) -> Result<JwkSet, JwksError> {
    let failed = |detail: String| JwksError::Fetch { url: url.to_owned(), detail };
    let response = client.get(url).send().await.map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status())));
    }
    let body = response.bytes().await.map_err(|e| failed(e.to_string()))?;
    serde_json::from_slice(&body).map_err(|e| failed(format!("not a JWKS document: {e}")))
}

/// Fetches the set again every `interval`, for as long as the process runs.
pub async fn refresh_periodically(verifier: Arc<TokenVerifier>, client: reqwest::Client, url: String, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match fetch_jwks(&client, &url).await {
            Ok(set) => verifier.replace_keys(JwtKeys::Jwks(set)),
            Err(error) => tracing::warn!(%error, "JWKS refresh failed; keeping the keys already known"),
        }
    }
}
