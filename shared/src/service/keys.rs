//! Publisher API keys: created and revoked by admins, presented by publishers.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::{Hookline, ServiceError, not_found};
use crate::domain::Invalid;
use crate::domain::api_key::ApiKey;
use crate::domain::filter::parse_patterns;

/// `last_used_at` is refreshed at most this often, so publishing does not write on every event.
const TOUCH_EVERY: Duration = Duration::seconds(60);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRequest {
    pub name: String,
    /// Event types or patterns the key may publish; all when absent.
    pub events: Option<Vec<String>>,
}

/// The creation response: the only time the key text is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    pub key: String,
}

impl Hookline {
    pub async fn create_api_key(&self, request: ApiKeyRequest) -> Result<CreatedApiKey, ServiceError> {
        let name = request.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Invalid::new("name", "must be 1 to 200 characters").into());
        }
        let events = request.events.as_deref().map(parse_patterns).transpose()?.unwrap_or_default();
        let (api_key, key) = ApiKey::generate(name, events, self.clock.now());
        self.stores.api_keys.insert(&api_key).await?;
        tracing::info!(api_key_id = %api_key.id, "API key created");
        Ok(CreatedApiKey { api_key, key })
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, ServiceError> {
        Ok(self.stores.api_keys.list().await?)
    }

    pub async fn revoke_api_key(&self, id: &str) -> Result<(), ServiceError> {
        self.stores.api_keys.revoke(id, self.clock.now()).await.map_err(not_found("API key"))
    }

    /// The key a publisher presented, if it is one of ours and not revoked.
    pub async fn authenticate_publisher(&self, text: &str) -> Result<ApiKey, ServiceError> {
        let id = ApiKey::id_of(text).ok_or(ServiceError::Unauthenticated)?;
        let key = self.stores.api_keys.get(&id).await?.filter(|key| key.accepts(text)).ok_or(ServiceError::Unauthenticated)?;
        let now = self.clock.now();
        if key.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY) {
            self.stores.api_keys.touch(&key.id, now).await?;
        }
        Ok(key)
    }
}
