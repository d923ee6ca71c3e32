//! Encryption of signing secrets at rest: AES-256-GCM with a random nonce, the webhook id as
//! associated data (so a sealed secret cannot be moved to another webhook's row). Someone who
//! can read the database but not the key cannot sign as Hookline.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Sealed values start with this, so a plain value is never mistaken for one.
const PREFIX: &str = "enc:v1:";
/// A known value sealed with the key on first start; opening it at the next start proves the key.
const KEY_CHECK: &str = "hookline key check";

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("the encryption key must be 32 bytes")]
    BadKey,
    #[error("the value could not be decrypted: wrong key, or not a value this key sealed")]
    Undecryptable,
}

pub struct SecretCipher {
    key: RandomizedNonceKey,
}

impl SecretCipher {
    pub fn new(key: &[u8]) -> Result<Self, CipherError> {
        if key.len() != 32 {
            return Err(CipherError::BadKey);
        }
        Ok(Self { key: RandomizedNonceKey::new(&AES_256_GCM, key).map_err(|_| CipherError::BadKey)? })
    }

    /// `enc:v1:` + base64(nonce ‖ ciphertext ‖ tag), bound to `context`.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let mut sealed = plaintext.as_bytes().to_vec();
        let Ok(nonce) = self.key.seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut sealed) else {
            // AES-GCM sealing only fails on absurd lengths; never store the plaintext instead.
            return String::from(PREFIX);
        };
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<String, CipherError> {
        let encoded = sealed.strip_prefix(PREFIX).ok_or(CipherError::Undecryptable)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| CipherError::Undecryptable)?;
        if bytes.len() < NONCE_LEN {
            return Err(CipherError::Undecryptable);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CipherError::Undecryptable)?;
        let mut in_out = ciphertext.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out).map_err(|_| CipherError::Undecryptable)?;
        String::from_utf8(plain.to_vec()).map_err(|_| CipherError::Undecryptable)
    }

    /// A value to store beside the data, proving later that the same key is in use.
    pub fn key_check(&self) -> String {
        self.seal(KEY_CHECK, "key-check")
    }

    pub fn verify_key_check(&self, stored: &str) -> bool {
        self.open(stored, "key-check").is_ok_and(|value| value == KEY_CHECK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_the_same_key_and_context_only() {
        let cipher = SecretCipher::new(&[7u8; 32]).unwrap();
        let sealed = cipher.seal("whsec_abc", "wh_1");
        assert!(sealed.starts_with("enc:v1:") && !sealed.contains("whsec_abc"));
        assert_ne!(sealed, cipher.seal("whsec_abc", "wh_1"), "a fresh nonce every time");
        assert_eq!(cipher.open(&sealed, "wh_1").unwrap(), "whsec_abc");
        assert!(cipher.open(&sealed, "wh_2").is_err(), "bound to its row");
        assert!(SecretCipher::new(&[8u8; 32]).unwrap().open(&sealed, "wh_1").is_err());
        assert!(cipher.open("whsec_abc", "wh_1").is_err());
    }

    #[test]
    fn the_key_check_tells_a_wrong_key_apart() {
        let right = SecretCipher::new(&[1u8; 32]).unwrap();
        let check = right.key_check();
        assert!(right.verify_key_check(&check));
        assert!(!SecretCipher::new(&[2u8; 32]).unwrap().verify_key_check(&check));
        assert!(SecretCipher::new(&[1u8; 16]).is_err());
    }
}
