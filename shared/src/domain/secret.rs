//! Signing secrets: `whsec_` followed by base64 of 24 to 64 random bytes (Standard Webhooks).
//! A `SigningSecret` never prints itself: `Debug` and `masked()` show only its last characters.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

use super::Invalid;

const PREFIX: &str = "whsec_";

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

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let invalid = || Invalid::new("secret", "must be 'whsec_' followed by base64 of 24 to 64 bytes");
        let encoded = raw.strip_prefix(PREFIX).ok_or_else(invalid)?;
        let key = STANDARD.decode(encoded).map_err(|_| invalid())?;
        if !(24..=64).contains(&key.len()) {
            return Err(invalid());
        }
        Ok(Self { text: raw.to_owned(), key })
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
    fn secrets_without_prefix_with_bad_base64_or_wrong_length_are_refused() {
        assert!(SigningSecret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").is_err());
        assert!(SigningSecret::parse("whsec_not base64!").is_err());
        assert!(SigningSecret::parse(&format!("whsec_{}", STANDARD.encode([1u8; 16]))).is_err());
        assert!(SigningSecret::parse(&format!("whsec_{}", STANDARD.encode([1u8; 65]))).is_err());
    }

    #[test]
    fn debug_output_and_masking_hide_the_key() {
        let secret = SigningSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(secret.masked(), "whsec_…b7oD");
        assert!(!format!("{secret:?}").contains("C2FVsBQ"));
    }
}
