//! Signing secrets: `whsec_` followed by base64 of the key (Standard Webhooks), or, for receivers
//! configured with a plain text secret (GitHub's and the original platform's style), that text,
//! whose UTF-8 bytes are the key and which is shown back in the `whsec_` form so Standard
//! Webhooks libraries verify too. Keys shorter than `MIN_KEY_BYTES` are refused; shorter than
//! `STRONG_KEY_BYTES` they are accepted with a warning. A `SigningSecret` never prints itself:
//! `Debug` and `masked()` show only its last characters.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;

use super::Invalid;

const PREFIX: &str = "whsec_";

/// Below this a key is refused: 8 random printable characters are about 52 bits, the least
/// that stands up to offline guessing from one captured request for any useful time, and
/// shorter ones are passwords typed by hand. The seed's example, `your-secret-key`, has 15.
pub const MIN_KEY_BYTES: usize = 8;
/// What Standard Webhooks asks for (24 to 64 random bytes); below it a warning.
pub const STRONG_KEY_BYTES: usize = 24;
/// HMAC-SHA256 hashes longer keys first; past this a secret is not a key but a mistake.
pub const MAX_KEY_BYTES: usize = 256;

#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    /// The full `whsec_…` text, as shown once to the webhook's owner.
    text: String,
    /// The decoded key bytes that HMAC uses.
    key: Vec<u8>,
}

impl SigningSecret {
    /// A fresh secret of 32 random bytes.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self { text: format!("{PREFIX}{}", STANDARD.encode(&key)), key }
    }

    /// A fresh secret whose key is text (43 characters of base64url over 32 random bytes), for
    /// receivers whose verifiers take the secret as text (GitHub's and Stripe's).
    pub fn generate_text() -> Self {
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        let key = URL_SAFE_NO_PAD.encode(random).into_bytes();
        Self { text: format!("{PREFIX}{}", STANDARD.encode(&key)), key }
    }

    /// A `whsec_` secret, or a plain text one (see the module's comment).
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let key = match raw.strip_prefix(PREFIX) {
            Some(encoded) => STANDARD
                .decode(encoded)
                .map_err(|_| Invalid::new("secret", "after 'whsec_' must come base64 (or give the secret without the prefix)"))?,
            None if raw.chars().any(|c| c.is_control() || c.is_whitespace()) => {
                return Err(Invalid::new("secret", "a plain secret may not contain spaces or control characters"));
            }
            None => raw.as_bytes().to_vec(),
        };
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(Invalid::new("secret", "must be 8 to 256 bytes of key ('whsec_' + base64, or plain text)"));
        }
        Ok(Self { text: format!("{PREFIX}{}", STANDARD.encode(&key)), key })
    }

    /// What is wrong with the secret short of refusing it: a key shorter than Standard
    /// Webhooks asks for.
    pub fn warning(&self) -> Option<String> {
        (self.key.len() < STRONG_KEY_BYTES).then(|| {
            format!(
                "the secret's key is {} bytes; Standard Webhooks asks for at least {STRONG_KEY_BYTES} random bytes: rotate to a generated secret when the receiver allows",
                self.key.len()
            )
        })
    }

    /// The key as text, when it is text a receiver can type (no spaces or control characters).
    pub fn as_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok().filter(|text| !text.chars().any(|c| c.is_control() || c.is_whitespace()))
    }

    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The full secret. Only for the creation response and for storage.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// `whsec_…` plus the last four characters, enough to tell secrets apart.
    pub fn masked(&self) -> String {
        let tail: String = self.text.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        format!("{PREFIX}…{tail}")
    }
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_parse_back_and_hold_32_bytes() {
        let secret = SigningSecret::generate();
        assert_eq!(secret.key().len(), 32);
        assert_eq!(SigningSecret::parse(secret.expose()).unwrap(), secret);
    }

    #[test]
    fn bad_base64_and_keys_too_short_or_too_long_are_refused() {
        assert!(SigningSecret::parse("whsec_not base64!").is_err());
        assert!(SigningSecret::parse(&format!("whsec_{}", STANDARD.encode([1u8; 7]))).is_err());
        assert!(SigningSecret::parse(&format!("whsec_{}", STANDARD.encode([1u8; 257]))).is_err());
        assert!(SigningSecret::parse("short").is_err());
        assert!(SigningSecret::parse("has a space in it").is_err());
        assert!(SigningSecret::parse("tab\tinside-it").is_err());
        assert!(SigningSecret::parse(&"k".repeat(257)).is_err());
    }

    #[test]
    fn a_plain_secret_is_its_utf8_bytes_shown_as_whsec() {
        let plain = SigningSecret::parse("your-secret-key").unwrap();
        assert_eq!(plain.key(), b"your-secret-key");
        assert_eq!(plain.expose(), format!("whsec_{}", STANDARD.encode("your-secret-key")));
        assert_eq!(SigningSecret::parse(plain.expose()).unwrap(), plain, "stored and read back the same");
        assert!(plain.warning().is_some_and(|w| w.contains("15 bytes")));
        assert!(SigningSecret::generate().warning().is_none());
        let long_plain = SigningSecret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(long_plain.key().len(), 32, "without the prefix, even base64-looking text is the key itself");
    }

    #[test]
    fn debug_output_and_masking_hide_the_key() {
        let secret = SigningSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(secret.masked(), "whsec_…b7oD");
        assert!(!format!("{secret:?}").contains("C2FVsBQ"));
    }
}
