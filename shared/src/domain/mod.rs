//! The webhook domain: events, the catalog, subscriptions and their filters, signing,
//! retry policy and delivery outcomes. Pure code: no I/O crate is imported here (a tidy test checks).

pub mod access;
pub mod api_key;
pub mod audit;
pub mod catalog;
pub mod content_filter;
pub mod delivery;
pub mod envelope_schema;
pub mod event;
pub mod expression;
pub mod filter;
pub mod health;
pub mod ids;
pub mod json;
pub mod metrics;
pub mod net_policy;
pub mod outcome;
pub mod rate_limit;
pub mod replay;
pub mod retention;
pub mod retry;
pub mod schema;
pub mod secret;
pub mod signature_profile;
pub mod signing;
pub mod trace;
pub mod transform;
pub mod verification;

pub mod webhook;
pub mod webhook_url;

/// Lower-case hexadecimal, for digests.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// A validation failure that names the field it is about, as a JSON path (`data.email`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct Invalid {
    pub field: String,
    pub detail: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { field: field.into(), detail: detail.into() }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_two_lower_case_digits_per_byte_high_nibble_first() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xf0, 0xff]), "000fa5f0ff");
        assert_eq!(super::hex(&[]), "");
    }
}
