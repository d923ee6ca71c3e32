//! `POST /api/v1/events` and `/api/v1/events/batch`: publishing.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::ApiError;
use super::auth::Publisher;
use super::extract::JsonBody;
use super::openapi::{ErrorBody, Refusals, Rejections};
use crate::domain::event::PublishRequest;
use crate::domain::trace::TraceContext;
use crate::service::{Hookline, PublishAs, PublishOutcome, ServiceError};

/// The most events one batch may carry.
pub const MAX_BATCH: usize = 100;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 100 publish requests (see `PublishRequest`), each accepted or refused on its own.
    #[schema(value_type = Vec<PublishRequest>)]
    events: Vec<Value>,
}

/// 202 with the event id and its fan-out; 200 with `duplicate: true` for an id already published.
#[utoipa::path(post, path = "/api/v1/events", tag = "events", security(("api_key" = [])), request_body = PublishRequest,
    params(("traceparent" = Option<String>, Header, description = "W3C Trace Context: every attempt is a child span of it")),
    responses((status = 202, description = "Stored and fanned out: durable before this answer", body = PublishOutcome),
        (status = 200, description = "This `id` was published before with the same content: a duplicate, nothing sent again", body = PublishOutcome),
        (status = 413, description = "The event is over the size limit", body = ErrorBody),
        Refusals, Rejections))]
pub async fn publish(
    Publisher(key): Publisher,
    State(hookline): State<Hookline>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<PublishRequest>,
) -> Result<impl IntoResponse, ApiError> {
    hookline.admit().await?;
    let outcome = hookline.publish(request, PublishAs { source: "api", key: Some(&key), trace: traceparent(&headers) }).await?;
    let status = if outcome.duplicate { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(outcome)))
}

/// Up to 100 events, each accepted or refused on its own.
#[utoipa::path(post, path = "/api/v1/events/batch", tag = "events", security(("api_key" = [])), request_body = BatchRequest,
    params(("traceparent" = Option<String>, Header, description = "W3C Trace Context, for every event of the batch")),
    responses((status = 200, description = "Each event accepted or refused on its own", body = BatchAnswer),
        Refusals, Rejections))]
pub async fn publish_batch(
    Publisher(key): Publisher,
    State(hookline): State<Hookline>,
    headers: HeaderMap,
    JsonBody(batch): JsonBody<BatchRequest>,
) -> Result<Json<BatchAnswer>, ApiError> {
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        return Err(ApiError::validation("events", format!("must hold 1 to {MAX_BATCH} events")));
    }
    hookline.admit().await?;
    let results = hookline.publish_batch(batch.events, PublishAs { source: "api", key: Some(&key), trace: traceparent(&headers) }).await;
    let accepted = results.iter().filter(|result| result.is_ok()).count();
    let data: Vec<BatchItem> = results.into_iter().map(batch_item).collect();
    Ok(Json(BatchAnswer { accepted, refused: data.len() - accepted, data }))
}

/// The request's W3C `traceparent`; one that does not parse is ignored, as the specification says.
fn traceparent(headers: &HeaderMap) -> Option<TraceContext> {
    headers.get("traceparent").and_then(|value| value.to_str().ok()).and_then(TraceContext::parse)
}

/// One entry of a batch's answer: the outcome, or the error body saying why it was refused
/// (naming the field a refusal is about, and that a storage failure is worth retrying).
fn batch_item(result: Result<PublishOutcome, ServiceError>) -> BatchItem {
    let error = match result {
        Ok(outcome) => return BatchItem::Accepted(outcome),
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
    let detail = body["detail"].as_str().unwrap_or_default().to_owned();
    BatchItem::Refused(serde_json::from_value(body).unwrap_or(ErrorBody { code: "internal_error".into(), detail, field: None }))
}

/// A batch's answer, item by item in the order sent.
#[derive(Serialize, ToSchema)]
pub struct BatchAnswer {
    accepted: usize,
    refused: usize,
    data: Vec<BatchItem>,
}

/// One item's outcome, or why it was refused.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchItem {
    Accepted(PublishOutcome),
    Refused(ErrorBody),
}
