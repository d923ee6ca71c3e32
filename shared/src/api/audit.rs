//! `GET /api/v1/audit` (admin) and `DELETE /api/v1/events/{id}` (admin, erasure).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::auth::Admin;
use super::deliveries::SinceQuery;
use super::extract::{QueryParams, page_limit};
use crate::domain::audit::AuditAction;
use crate::ports::AuditFilter;
use crate::service::Hookline;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    since: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

pub async fn list(
    _caller: Admin,
    State(hookline): State<Hookline>,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({ "data": page.items, "next_cursor": page.next_cursor })))
}

/// Erases an event's payload for a data-protection request; its delivery outcomes remain.
pub async fn erase_event(caller: Admin, State(hookline): State<Hookline>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    hookline.erase_event(&id).await?;
    hookline.audit(&caller.actor, AuditAction::EventErase, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
