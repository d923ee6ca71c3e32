//! Tokens for tests: good ones, and every kind of bad one, signed with the local key or the
//! fixture RSA and EC keys in `tests/fixtures`.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// Claims with `iss`/`aud` `hookline`, valid from a minute ago for an hour, with these roles.
pub fn claims(roles: &[&str]) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": "hookline", "aud": "hookline", "sub": "alice", "iat": now, "nbf": now - 60, "exp": now + 3600, "roles": roles})
}

pub fn hs256(secret: &[u8], claims: &Value) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
}

pub fn rs256(claims: &Value) -> String {
    let pem = std::fs::read(fixture("rsa_private.pem")).unwrap();
    let header = Header { kid: Some("test-rsa".into()), ..Header::new(Algorithm::RS256) };
    encode(&header, claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

pub fn es256(claims: &Value) -> String {
    let pem = std::fs::read(fixture("ec_private.pem")).unwrap();
    let header = Header { kid: Some("test-ec".into()), ..Header::new(Algorithm::ES256) };
    encode(&header, claims, &EncodingKey::from_ec_pem(&pem).unwrap()).unwrap()
}

/// An unsigned token (`alg: none`).
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
}
