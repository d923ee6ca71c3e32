//! `/api/v1/api-keys`: publisher keys, managed by admins.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::ApiError;
use super::auth::Admin;
use super::extract::JsonBody;
use crate::domain::audit::AuditAction;
use crate::service::{ApiKeyRequest, CreatedApiKey, Hookline};

/// 201 with the key text in `key`: the only time it is shown.
pub async fn create(
    caller: Admin,
    State(hookline): State<Hookline>,
    JsonBody(request): JsonBody<ApiKeyRequest>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let created = hookline.create_api_key(request).await?;
    hookline.audit(&caller.actor, AuditAction::ApiKeyCreate, &created.api_key.id).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn list(_caller: Admin, State(hookline): State<Hookline>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "data": hookline.list_api_keys().await?, "next_cursor": null })))
}

pub async fn revoke(caller: Admin, State(hookline): State<Hookline>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    hookline.revoke_api_key(&id).await?;
    hookline.audit(&caller.actor, AuditAction::ApiKeyRevoke, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
