//! `POST /api/v1/events` and `/api/v1/events/batch`: publishing.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::auth::Publisher;
use super::extract::JsonBody;
use crate::domain::event::PublishRequest;
use crate::service::{BatchItem, Hookline, PublishAs};

/// The most events one batch may carry.
pub const MAX_BATCH: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    events: Vec<Value>,
}

/// 202 with the event id and its fan-out; 200 with `duplicate: true` for an id already published.
pub async fn publish(
    Publisher(key): Publisher,
    State(hookline): State<Hookline>,
    JsonBody(request): JsonBody<PublishRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let outcome = hookline.publish(request, PublishAs { source: "api", key: Some(&key) }).await?;
    let status = if outcome.duplicate { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(outcome)))
}

/// Up to 100 events, each accepted or refused on its own.
pub async fn publish_batch(
    Publisher(key): Publisher,
    State(hookline): State<Hookline>,
    JsonBody(batch): JsonBody<BatchRequest>,
) -> Result<Json<Value>, ApiError> {
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        return Err(ApiError::validation("events", format!("must hold 1 to {MAX_BATCH} events")));
    }
    let results = hookline.publish_batch(batch.events, PublishAs { source: "api", key: Some(&key) }).await;
    let accepted = results.iter().filter(|item| matches!(item, BatchItem::Accepted(_))).count();
    Ok(Json(json!({ "accepted": accepted, "refused": results.len() - accepted, "data": results })))
}
