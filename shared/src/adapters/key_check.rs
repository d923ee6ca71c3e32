//! The secret-key check, once for every backend: the first start stores a value sealed with
//! the key; every later start must open it, so a deployment started with the wrong key fails
//! at once instead of when a delivery tries to sign. A backend only stores and reads the value.

use async_trait::async_trait;

use super::cipher::SecretCipher;
use crate::ports::StoreError;

/// Where a backend keeps the key check.
#[async_trait]
pub trait KeyCheckStore: Send + Sync {
    /// The stored check; `fresh` is stored first when there is none yet.
    async fn stored_or_insert(&self, fresh: String) -> Result<String, StoreError>;
}

/// Refuses a secret key other than the one this storage's secrets were sealed with.
pub async fn check_secret_key(store: &dyn KeyCheckStore, cipher: &SecretCipher) -> Result<(), StoreError> {
    let stored = store.stored_or_insert(cipher.key_check()).await?;
    if cipher.verify_key_check(&stored) {
        Ok(())
    } else {
        Err(StoreError::Conflict("the secret key does not match the one this storage's secrets were sealed with".into()))
    }
}
