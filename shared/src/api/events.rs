//! `POST /api/v1/events` and `/api/v1/events/batch`: publishing.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::auth::Publisher;
use super::extract::JsonBody;
use crate::domain::event::PublishRequest;
use crate::domain::trace::TraceContext;
use crate::service::{Hookline, PublishAs, PublishOutcome, ServiceError};

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
    headers: HeaderMap,
    JsonBody(request): JsonBody<PublishRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let outcome = hookline.publish(request, PublishAs { source: "api", key: Some(&key), trace: traceparent(&headers) }).await?;
    let status = if outcome.duplicate { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(outcome)))
}

/// Up to 100 events, each accepted or refused on its own.
pub async fn publish_batch(
    Publisher(key): Publisher,
    State(hookline): State<Hookline>,
    headers: HeaderMap,
    JsonBody(batch): JsonBody<BatchRequest>,
) -> Result<Json<Value>, ApiError> {
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        return Err(ApiError::validation("events", format!("must hold 1 to {MAX_BATCH} events")));
    }
    let results = hookline.publish_batch(batch.events, PublishAs { source: "api", key: Some(&key), trace: traceparent(&headers) }).await;
    let accepted = results.iter().filter(|result| result.is_ok()).count();
    let data: Vec<Value> = results.into_iter().map(batch_item).collect();
    Ok(Json(json!({ "accepted": accepted, "refused": data.len() - accepted, "data": data })))
}

/// The request's W3C `traceparent`; one that does not parse is ignored, as the specification says.
fn traceparent(headers: &HeaderMap) -> Option<TraceContext> {
    headers.get("traceparent").and_then(|value| value.to_str().ok()).and_then(TraceContext::parse)
}

/// One entry of a batch's answer: the outcome, or the error body saying why it was refused
/// (naming the field a refusal is about, and that a storage failure is worth retrying).
fn batch_item(result: Result<PublishOutcome, ServiceError>) -> Value {
    let error = match result {
        Ok(outcome) => return json!(outcome),
        Err(error) => error,
    };
    let field = match &error {
        ServiceError::Conflict(_) => Some("id"),
        ServiceError::Forbidden(_) => Some("event_type"),
        _ => None,
    };
    let mut body = ApiError::from(error).body();
    if let Some(field) = field {
        body["field"] = json!(field);
    }
    if body["code"] == "internal_error" {
        body["detail"] = json!("the event could not be stored; retry it");
    }
    body
}
