//! `GET /health`: is the service up and its storage answering.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::VERSION;
use crate::ports::WebhookFilter;
use crate::service::Hookline;

pub async fn health(State(hookline): State<Hookline>) -> (StatusCode, Json<Value>) {
    let probe = WebhookFilter { limit: 1, ..WebhookFilter::default() };
    match hookline.list_webhooks(&probe).await {
        Ok(_) => (StatusCode::OK, Json(json!({ "status": "ok", "version": VERSION, "storage": "ok" }))),
        Err(error) => {
            tracing::error!(%error, "health check: storage is not answering");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "degraded", "version": VERSION, "storage": "unavailable" })))
        }
    }
}
