//! `GET /health`: is the service up and its storage answering.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::VERSION;
use crate::ports::WebhookFilter;
use crate::service::Hookline;

/// Whether the service and its storage answer.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    /// `ok` or `degraded`.
    status: &'static str,
    version: &'static str,
    /// `ok` or `unavailable`.
    storage: &'static str,
}

#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "Up, storage answering", body = Liveness), (status = 503, description = "Storage not answering", body = Liveness)))]
pub async fn health(State(hookline): State<Hookline>) -> (StatusCode, Json<Liveness>) {
    let probe = WebhookFilter { limit: 1, ..WebhookFilter::default() };
    match hookline.list_webhooks(&probe).await {
        Ok(_) => (StatusCode::OK, Json(Liveness { status: "ok", version: VERSION, storage: "ok" })),
        Err(error) => {
            tracing::error!(%error, "health check: storage is not answering");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Liveness { status: "degraded", version: VERSION, storage: "unavailable" }))
        }
    }
}
