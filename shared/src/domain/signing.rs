//! Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::secret::SigningSecret;

type HmacSha256 = Hmac<Sha256>;

/// The `webhook-signature` entry for one secret.
pub fn sign(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1,{}", STANDARD.encode(mac(secret, id, timestamp, body).finalize().into_bytes()))
}

/// Checks a `webhook-signature` header (space-separated entries) against one secret,
/// in constant time. Receivers should also refuse timestamps more than 5 minutes off.
pub fn verify(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    header.split(' ').filter_map(|entry| entry.strip_prefix("v1,")).any(|encoded| {
        let Ok(expected) = STANDARD.decode(encoded) else { return false };
        mac(secret, id, timestamp, body).verify_slice(&expected).is_ok()
    })
}

fn mac(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.key()).unwrap_or_else(|_| unreachable!());
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TIMESTAMP: i64 = 1_649_367_553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;

    #[test]
    fn the_standard_webhooks_vector_signs_to_the_published_value() {
        let secret = SigningSecret::parse(SECRET).unwrap();
        assert_eq!(sign(&secret, ID, TIMESTAMP, BODY), "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn verification_accepts_any_matching_entry_and_refuses_tampering() {
        let secret = SigningSecret::parse(SECRET).unwrap();
        let other = SigningSecret::generate();
        let header = format!("{} {}", sign(&other, ID, TIMESTAMP, BODY), sign(&secret, ID, TIMESTAMP, BODY));
        assert!(verify(&secret, ID, TIMESTAMP, BODY, &header));
        assert!(!verify(&secret, ID, TIMESTAMP + 1, BODY, &header));
        assert!(!verify(&secret, ID, TIMESTAMP, b"{}", &header));
        assert!(!verify(&secret, ID, TIMESTAMP, BODY, "v1,not-base64"));
    }
}
