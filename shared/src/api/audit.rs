//! `GET /api/v1/audit` (admin) and `DELETE /api/v1/events/{id}` (admin, erasure).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiError;
use super::auth::Admin;
use super::deliveries::SinceQuery;
use super::extract::{PathParam, QueryParams, page_limit};
use super::openapi::{Listing, Refusals, Rejections};
use crate::domain::audit::{AuditAction, AuditEntry};
use crate::ports::AuditFilter;
use crate::service::Hookline;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this subject's changes.
    actor: Option<String>,
    /// Only this action, e.g. `webhook.create`.
    action: Option<String>,
    /// Only changes to this id.
    target: Option<String>,
    /// RFC 3339.
    since: Option<String>,
    /// Page size, 1 to 100 (default 50).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = ["webhooks:admin"])), params(AuditQuery),
    responses((status = 200, description = "Management changes, newest first; no route changes the trail", body = Listing<AuditEntry>), Refusals, Rejections))]
pub async fn list(
    _caller: Admin,
    State(hookline): State<Hookline>,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<Listing<AuditEntry>>, ApiError> {
    let action = match query.action.as_deref() {
        None => None,
        Some(raw) => Some(
            AuditAction::parse(raw)
                .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", format!("unknown action '{raw}'")))?,
        ),
    };
    let since = SinceQuery::from(query.since).parse()?;
    let filter =
        AuditFilter { actor: query.actor, action, target: query.target, since, limit: page_limit(query.limit)?, cursor: query.cursor };
    let page = hookline.audit_trail(&filter).await?;
    Ok(Json(Listing { data: page.items, next_cursor: page.next_cursor }))
}

/// Erases an event's payload for a data-protection request; its delivery outcomes remain.
#[utoipa::path(delete, path = "/api/v1/events/{id}", tag = "events", security(("bearer" = ["webhooks:admin"])), params(("id" = String, Path, description = "The event's id")),
    responses((status = 204, description = "The payload replaced by an erasure marker; open deliveries cancelled, outcomes kept"), Refusals, Rejections))]
pub async fn erase_event(
    caller: Admin,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
) -> Result<StatusCode, ApiError> {
    hookline.erase_event(&id).await?;
    hookline.audit(&caller.actor, AuditAction::EventErase, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
