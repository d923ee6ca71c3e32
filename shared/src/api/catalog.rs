//! `/api/v1/webhooks/events`: the event catalog.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::ApiError;
use super::auth::Reader;
use crate::domain::catalog::{self, EventTypeInfo};

/// The ISP types, then Hookline's own (`hookline.*`).
pub async fn list(_caller: Reader) -> Json<Value> {
    let data: Vec<&EventTypeInfo> = catalog::subscribable().collect();
    Json(json!({ "data": data, "next_cursor": null }))
}

pub async fn one(_caller: Reader, Path(event_type): Path<String>) -> Result<Json<&'static EventTypeInfo>, ApiError> {
    catalog::find_subscribable(&event_type)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("unknown event type '{event_type}'")))
}
