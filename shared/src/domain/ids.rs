//! Typed, prefixed identifiers: `evt_…`, `wh_…`, `dlv_…`.
//!
//! Generated ids are 26 Crockford base32 characters after the prefix: 48 bits of
//! milliseconds then 80 random bits, so they sort by creation time.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Invalid;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn encode_base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(CROCKFORD[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(CROCKFORD[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// 48 bits of `unix_millis` followed by 80 random bits, base32-encoded.
fn time_ordered(unix_millis: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&unix_millis.to_be_bytes()[2..]);
    rand::rng().fill_bytes(&mut bytes[6..]);
    encode_base32(&bytes)
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new time-ordered id.
            pub fn generate(unix_millis: u64) -> Self {
                Self(format!("{}{}", $prefix, time_ordered(unix_millis)))
            }

            /// Parses an id that Hookline issued; anything else is not one of ours.
            pub fn parse(raw: &str) -> Option<Self> {
                let rest = raw.strip_prefix($prefix)?;
                let valid = !rest.is_empty() && rest.len() <= 64 && rest.chars().all(is_id_char);
                valid.then(|| Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// A subscription (webhook endpoint).
    WebhookId,
    "wh_"
);
prefixed_id!(
    /// One event sent to one webhook, with all its attempts.
    DeliveryId,
    "dlv_"
);

prefixed_id!(
    /// A bulk replay of deliveries.
    ReplayId,
    "rpl_"
);

impl DeliveryId {
    /// The delivery of `event` to `webhook` always has the same id, so fanning an
    /// event out twice (a retried publish, a redelivered queue message) cannot
    /// create a second delivery.
    pub fn for_pair(event: &EventId, webhook: &WebhookId) -> Self {
        Self::spelling(&Self::pair_digest(event, webhook))
    }

    /// The 20 bytes of digest the id of `for_pair` spells (what `packed` gives back), so a
    /// queue that knows a task's event and webhook need not keep its delivery id.
    pub fn pair_digest(event: &EventId, webhook: &WebhookId) -> [u8; PACKED_LEN] {
        let digest = Sha256::new().chain_update(event.as_str()).chain_update([0u8]).chain_update(webhook.as_str()).finalize();
        let mut packed = [0u8; PACKED_LEN];
        packed.copy_from_slice(&digest[..PACKED_LEN]);
        packed
    }

    /// Whether this is the id `for_pair` gives `event` and `webhook`.
    pub fn is_for_pair(&self, event: &EventId, webhook: &WebhookId) -> bool {
        self.packed() == Some(Self::pair_digest(event, webhook))
    }

    /// The 20 bytes an id of `for_pair` spells, so a queue can keep a waiting task's
    /// delivery in 20 bytes instead of a string; `None` for an id spelled any other way.
    pub fn packed(&self) -> Option<[u8; PACKED_LEN]> {
        let digits = self.0.strip_prefix(Self::PREFIX)?.as_bytes();
        if digits.len() != PACKED_LEN * 8 / 5 {
            return None;
        }
        let mut packed = [0u8; PACKED_LEN];
        let (mut buffer, mut bits, mut filled) = (0u32, 0u32, 0);
        for digit in digits {
            buffer = (buffer << 5) | CROCKFORD.iter().position(|d| d == digit)? as u32;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                packed[filled] = (buffer >> bits) as u8;
                filled += 1;
            }
        }
        Some(packed)
    }

    /// The id `packed` was taken from.
    pub fn unpacked(packed: &[u8; PACKED_LEN]) -> Self {
        Self::spelling(packed)
    }

    fn spelling(digest: &[u8]) -> Self {
        Self(format!("{}{}", Self::PREFIX, encode_base32(digest)))
    }
}

/// How many bytes of its digest a delivery id of `for_pair` spells.
pub const PACKED_LEN: usize = 20;

/// An event. Publishers may bring their own id (it is the idempotency key);
/// when they do not, Hookline generates an `evt_…` one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    pub const PREFIX: &'static str = "evt_";

    pub fn generate(unix_millis: u64) -> Self {
        Self(format!("{}{}", Self::PREFIX, time_ordered(unix_millis)))
    }

    /// 1 to 128 characters of letters, digits, `_`, `-`, `.` and `:`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let valid = (1..=128).contains(&raw.len()) && raw.chars().all(is_id_char);
        if valid { Ok(Self(raw.to_owned())) } else { Err(Invalid::new("id", "must be 1 to 128 letters, digits, '_', '-', '.' or ':'")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_carry_their_prefix_and_sort_by_time() {
        let early = WebhookId::generate(1_000);
        let late = WebhookId::generate(2_000);
        assert!(early.as_str().starts_with("wh_"));
        assert_eq!(early.as_str().len(), 3 + 26);
        assert!(early < late);
    }

    #[test]
    fn a_delivery_id_is_the_same_for_the_same_event_and_webhook() {
        let event = EventId::parse("evt_1").unwrap();
        let webhook = WebhookId::parse("wh_1").unwrap();
        let other = WebhookId::parse("wh_2").unwrap();
        assert_eq!(DeliveryId::for_pair(&event, &webhook), DeliveryId::for_pair(&event, &webhook));
        assert_ne!(DeliveryId::for_pair(&event, &webhook), DeliveryId::for_pair(&event, &other));
        assert!(DeliveryId::for_pair(&event, &webhook).is_for_pair(&event, &webhook));
        assert!(!DeliveryId::for_pair(&event, &webhook).is_for_pair(&event, &other));
        assert!(!DeliveryId::parse("dlv_1").unwrap().is_for_pair(&event, &webhook));
    }

    #[test]
    fn a_delivery_id_of_a_pair_packs_into_its_digest_and_back_and_no_other_does() {
        let id = DeliveryId::for_pair(&EventId::parse("evt_1").unwrap(), &WebhookId::parse("wh_1").unwrap());
        let packed = id.packed().unwrap();
        assert_eq!(DeliveryId::unpacked(&packed), id);
        let mut lower = id.as_str().to_owned();
        lower.make_ascii_lowercase();
        let foreign = ["dlv_1", "dlv_ABC", &format!("{}0", id.as_str()), &lower];
        for raw in foreign {
            assert_eq!(DeliveryId::parse(raw).and_then(|id| id.packed()), None, "{raw}");
        }
    }

    #[test]
    fn foreign_or_malformed_ids_are_refused() {
        assert!(WebhookId::parse("dlv_abc").is_none());
        assert!(WebhookId::parse("wh_").is_none());
        assert!(WebhookId::parse("wh_a/b").is_none());
        assert!(EventId::parse("").is_err());
        assert!(EventId::parse("has space").is_err());
        assert!(EventId::parse(&"x".repeat(129)).is_err());
        assert!(EventId::parse("order-42:created").is_ok());
    }
}
