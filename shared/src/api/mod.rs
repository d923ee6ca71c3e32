//! The management HTTP API: one axum `Router`, served by `axum::serve` in the local binary
//! and by the Lambda functions on AWS (through their API Gateway conversion). Handlers are
//! thin: extractors parse, one service call acts.

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
pub mod openapi;
pub mod rate_limit;
mod replays;
mod webhooks;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    let (routes, _) = documented().split_for_parts();
    routes
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(config.max_request_bytes))
        .with_state(state)
}

/// The OpenAPI document of every route `router` serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::finish(documented().split_for_parts().1)
}

/// Every route, each registered from its handler's `#[utoipa::path]` (its path and method come
/// from there), so the document and the router cannot disagree. Handlers sharing a path share
/// a `routes!`.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(dashboard::index))
        .routes(routes!(dashboard::asset))
        .routes(routes!(serve_openapi))
        .routes(routes!(health::health))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(catalog::list))
        .routes(routes!(catalog::one))
        .routes(routes!(deliveries::list))
        .routes(routes!(deliveries::metrics))
        .routes(routes!(deliveries::one))
        .routes(routes!(webhooks::one, webhooks::replace, webhooks::delete))
        .routes(routes!(deliveries::replay))
        .routes(routes!(deliveries::acknowledge))
        .routes(routes!(replays::start))
        .routes(routes!(replays::one))
        .routes(routes!(webhooks::test))
        .routes(routes!(webhooks::test_filter))
        .routes(routes!(webhooks::replay_dead))
        .routes(routes!(webhooks::enable))
        .routes(routes!(webhooks::secret))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(deliveries::list_for_webhook))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(audit::list))
        .routes(routes!(events::publish))
        .routes(routes!(audit::erase_event))
        .routes(routes!(events::publish_batch))
}

/// `GET /api/v1/openapi.json`: this document, built and serialised once per process.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json")))]
async fn serve_openapi() -> impl IntoResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let json = DOCUMENT.get_or_init(|| openapi().to_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], json.as_str())
}
