//! `/api/v1/api-keys`: publisher keys, managed by admins.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::ApiError;
use super::auth::Admin;
use super::extract::{JsonBody, PathParam};
use super::openapi::{Listing, Refusals, Rejections};
use crate::domain::api_key::ApiKey;
use crate::domain::audit::AuditAction;
use crate::service::{ApiKeyRequest, CreatedApiKey, Hookline};

/// 201 with the key text in `key`: the only time it is shown.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = ["webhooks:admin"])), request_body = ApiKeyRequest,
    responses((status = 201, description = "Created; `key` is the key text, shown this once", body = CreatedApiKey), Refusals, Rejections))]
pub async fn create(
    caller: Admin,
    State(hookline): State<Hookline>,
    JsonBody(request): JsonBody<ApiKeyRequest>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let created = hookline.create_api_key(request).await?;
    hookline.audit(&caller.actor, AuditAction::ApiKeyCreate, &created.api_key.id).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = ["webhooks:admin"])),
    responses((status = 200, description = "Publisher keys (never their text)", body = Listing<ApiKey>), Refusals, Rejections))]
pub async fn list(_caller: Admin, State(hookline): State<Hookline>) -> Result<Json<Listing<ApiKey>>, ApiError> {
    Ok(Json(Listing { data: hookline.list_api_keys().await?, next_cursor: None }))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = ["webhooks:admin"])), params(("id" = String, Path, description = "The key's id (`key_…`)")),
    responses((status = 204, description = "Revoked: the key no longer publishes"), Refusals, Rejections))]
pub async fn revoke(caller: Admin, State(hookline): State<Hookline>, PathParam(id): PathParam<String>) -> Result<StatusCode, ApiError> {
    hookline.revoke_api_key(&id).await?;
    hookline.audit(&caller.actor, AuditAction::ApiKeyRevoke, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
