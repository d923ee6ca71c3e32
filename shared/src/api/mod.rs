//! The management HTTP API: one axum `Router`, served by `axum::serve` in the local binary
//! and by `lambda_http` on AWS. Handlers are thin: extractors parse, one service call acts.

mod api_keys;
mod audit;
pub mod auth;
mod catalog;
pub mod dashboard;
mod deliveries;
mod error;
mod events;
mod extract;
mod health;
pub mod rate_limit;
mod replays;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};

pub use auth::{AppState, RateLimits};
pub use error::ApiError;

#[derive(Debug, Clone, Copy)]
pub struct ApiConfig {
    /// Request bodies larger than this are refused with 413 before they are parsed.
    pub max_request_bytes: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self { max_request_bytes: 1024 * 1024 }
    }
}

pub fn router(state: AppState, config: ApiConfig) -> Router {
    Router::new()
        .route("/", get(dashboard::index))
        .route("/ui/{file}", get(dashboard::asset))
        .route("/health", get(health::health))
        .route("/api/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/api/v1/webhooks/events", get(catalog::list))
        .route("/api/v1/webhooks/events/{event_type}", get(catalog::one))
        .route("/api/v1/webhooks/deliveries", get(deliveries::list))
        .route("/api/v1/webhooks/metrics", get(deliveries::metrics))
        .route("/api/v1/webhooks/deliveries/{delivery_id}", get(deliveries::one))
        .route("/api/v1/webhooks/{id}", get(webhooks::one).put(webhooks::replace).delete(webhooks::delete))
        .route("/api/v1/webhooks/deliveries/{delivery_id}/replay", post(deliveries::replay))
        .route("/api/v1/webhooks/deliveries/{delivery_id}/acknowledge", post(deliveries::acknowledge))
        .route("/api/v1/webhooks/deliveries/replay", post(replays::start))
        .route("/api/v1/webhooks/replays/{id}", get(replays::one))
        .route("/api/v1/webhooks/{id}/test", post(webhooks::test))
        .route("/api/v1/webhooks/{id}/replay", post(webhooks::replay_dead))
        .route("/api/v1/webhooks/{id}/enable", post(webhooks::enable))
        .route("/api/v1/webhooks/{id}/secret", get(webhooks::secret))
        .route("/api/v1/webhooks/{id}/secret/rotate", post(webhooks::rotate_secret))
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries::list_for_webhook))
        .route("/api/v1/api-keys", post(api_keys::create).get(api_keys::list))
        .route("/api/v1/api-keys/{id}", delete(api_keys::revoke))
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/events", post(events::publish))
        .route("/api/v1/events/{id}", delete(audit::erase_event))
        .route("/api/v1/events/batch", post(events::publish_batch))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(config.max_request_bytes))
        .with_state(state)
}
