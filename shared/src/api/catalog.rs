//! `/api/v1/webhooks/events`: the event catalog.

use axum::Json;
use axum::http::StatusCode;

use super::ApiError;
use super::auth::Reader;
use super::extract::PathParam;
use super::openapi::{Listing, Refusals, Rejections};
use crate::domain::catalog::{self, EventTypeInfo};

/// The ISP types, then Hookline's own (`hookline.*`).
#[utoipa::path(get, path = "/api/v1/webhooks/events", tag = "catalog", security(("bearer" = ["webhooks:read"])),
    responses((status = 200, description = "Every event type with its schema and an example", body = Listing<EventTypeInfo>), Refusals, Rejections))]
pub async fn list(_caller: Reader) -> Json<Listing<&'static EventTypeInfo>> {
    let data: Vec<&EventTypeInfo> = catalog::subscribable().collect();
    Json(Listing { data, next_cursor: None })
}

#[utoipa::path(get, path = "/api/v1/webhooks/events/{event_type}", tag = "catalog", security(("bearer" = ["webhooks:read"])), params(("event_type" = String, Path, description = "e.g. `invoice.paid`")),
    responses((status = 200, description = "One event type", body = EventTypeInfo), Refusals, Rejections))]
pub async fn one(_caller: Reader, PathParam(event_type): PathParam<String>) -> Result<Json<&'static EventTypeInfo>, ApiError> {
    catalog::find_subscribable(&event_type)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("unknown event type '{event_type}'")))
}
