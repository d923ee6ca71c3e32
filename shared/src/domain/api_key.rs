//! Publisher API keys: `hk_<id>_<secret>`, shown once; only a SHA-256 hash is stored, and
//! the `<id>` part finds the stored key without scanning.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::filter::{EventPattern, any_matches};
use super::hex;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// `key_…`, also the public part of the key text.
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the whole key text.
    #[serde(skip)]
    pub hash: String,
    /// Event types this key may publish; empty means all.
    pub events: Vec<EventPattern>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// A new key and its text, which exists only in the creation response.
    pub fn generate(name: String, events: Vec<EventPattern>, now: DateTime<Utc>) -> (Self, String) {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let id = format!("key_{}", hex(&bytes[..8]));
        let text = format!("hk_{}_{}", &id[4..], URL_SAFE_NO_PAD.encode(&bytes[8..]));
        let key = Self { id, name, hash: hash(&text), events, created_at: now, last_used_at: None, revoked_at: None };
        (key, text)
    }

    /// The id a presented key text claims to be, if it has the right shape.
    pub fn id_of(text: &str) -> Option<String> {
        let rest = text.strip_prefix("hk_")?;
        let (id, secret) = rest.split_once('_')?;
        (id.len() == 16 && !secret.is_empty()).then(|| format!("key_{id}"))
    }

    /// True when `text` is this key and it is not revoked.
    pub fn accepts(&self, text: &str) -> bool {
        self.revoked_at.is_none() && constant_time_eq(hash(text).as_bytes(), self.hash.as_bytes())
    }

    pub fn may_publish(&self, event_type: &str) -> bool {
        self.events.is_empty() || any_matches(&self.events, event_type)
    }
}

fn hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_found_by_its_id_and_accepted_by_its_hash() {
        let (key, text) = ApiKey::generate("crm".into(), Vec::new(), Utc::now());
        assert!(text.starts_with("hk_"));
        assert_eq!(ApiKey::id_of(&text).as_deref(), Some(key.id.as_str()));
        assert!(key.accepts(&text));
        assert!(!key.accepts(&format!("{text}x")));
        assert!(!key.hash.contains(&text[3..]), "only the hash is kept");
    }

    #[test]
    fn revoked_keys_and_malformed_texts_are_refused() {
        let (mut key, text) = ApiKey::generate("crm".into(), Vec::new(), Utc::now());
        key.revoked_at = Some(Utc::now());
        assert!(!key.accepts(&text));
        assert_eq!(ApiKey::id_of("hk_short_x"), None);
        assert_eq!(ApiKey::id_of("sk_0123456789abcdef_x"), None);
    }

    #[test]
    fn event_patterns_limit_what_a_key_may_publish() {
        let billing = vec![EventPattern::from_stored("invoice.*")];
        let (key, _) = ApiKey::generate("billing".into(), billing, Utc::now());
        assert!(key.may_publish("invoice.paid"));
        assert!(!key.may_publish("customer.created"));
        let (open, _) = ApiKey::generate("all".into(), Vec::new(), Utc::now());
        assert!(open.may_publish("customer.created"));
    }
}
