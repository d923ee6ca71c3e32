//! `/api/v1/webhooks` and `/api/v1/webhooks/{id}`: create, list, read, replace, delete, test.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiError;
use super::auth::{Reader, Writer};
use super::deliveries::SinceQuery;
use super::extract::{JsonBody, OptionalJsonBody, PathParam, QueryParams, page_limit};
use super::openapi::{Listing, Refusals, Rejections};
use crate::domain::audit::AuditAction;
use crate::domain::filter::EventPattern;
use crate::domain::health::{Health, WebhookState};
use crate::domain::ids::WebhookId;
use crate::domain::retry::RetryPolicy;
use crate::domain::signature_profile::SignatureProfile;
use crate::domain::webhook::{Webhook, WebhookRequest};
use crate::ports::WebhookFilter;
use crate::service::{FilterTestReport, FilterTestRequest, Hookline, RotateRequest, SecretView, TestOutcome};

/// A webhook as the API shows it: the secret masked unless `secret_shown` says otherwise.
#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    id: WebhookId,
    name: String,
    url: String,
    secret: String,
    /// The secret as the text GitHub- and Stripe-style verifiers are given: only in the
    /// creation response, and only for those signature profiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_text: Option<String>,
    events: Vec<EventPattern>,
    is_active: bool,
    state: WebhookState,
    state_changed_at: DateTime<Utc>,
    health: Health,
    description: Option<String>,
    headers: BTreeMap<String, String>,
    retry_policy: Option<RetryPolicy>,
    rate_limit_per_sec: Option<f64>,
    signature: SignatureProfile,
    filter: Option<String>,
    transform: Option<String>,
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// What was accepted but is worth changing, such as a secret shorter than Standard
    /// Webhooks asks for. Absent when there is nothing to say.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

impl WebhookView {
    fn masked(webhook: Webhook) -> Self {
        let secret = webhook.secret.masked();
        Self::with_secret(webhook, secret, None)
    }

    /// Only the creation response shows the secret in full.
    fn revealed(webhook: Webhook) -> Self {
        let secret = webhook.secret.expose().to_owned();
        let text = webhook.secret_text().map(str::to_owned);
        Self::with_secret(webhook, secret, text)
    }

    fn with_secret(webhook: Webhook, secret: String, secret_text: Option<String>) -> Self {
        Self {
            warnings: webhook.secret_warnings(),
            secret_text,
            id: webhook.id,
            name: webhook.name,
            url: webhook.url.as_str().to_owned(),
            secret,
            events: webhook.events,
            is_active: webhook.state == WebhookState::Active,
            state: webhook.state,
            state_changed_at: webhook.state_changed_at,
            health: webhook.health,
            description: webhook.description,
            headers: webhook.headers,
            retry_policy: webhook.retry_policy,
            rate_limit_per_sec: webhook.rate_limit_per_sec,
            signature: webhook.signature,
            filter: webhook.filter.map(|f| f.source().to_owned()),
            transform: webhook.transform.map(|t| t.source().to_owned()),
            disabled_reason: webhook.disabled_reason,
            created_at: webhook.created_at,
            updated_at: webhook.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 50).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only webhooks that are (not) active.
    is_active: Option<bool>,
    /// Only webhooks subscribed to this event type.
    event_type: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = ["webhooks:write"])), request_body = WebhookRequest,
    responses((status = 201, description = "Created; the only answer that shows the secret in full", body = WebhookView), Refusals, Rejections))]
pub async fn create(
    caller: Writer,
    State(hookline): State<Hookline>,
    JsonBody(request): JsonBody<WebhookRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let webhook = hookline.create_webhook(request).await?;
    hookline.audit(&caller.actor, AuditAction::WebhookCreate, webhook.id.as_str()).await?;
    Ok((StatusCode::CREATED, Json(WebhookView::revealed(webhook))))
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = ["webhooks:read"])), params(ListQuery),
    responses((status = 200, description = "Webhooks, oldest first, secrets masked", body = Listing<WebhookView>), Refusals, Rejections))]
pub async fn list(
    _caller: Reader,
    State(hookline): State<Hookline>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Listing<WebhookView>>, ApiError> {
    let filter =
        WebhookFilter { is_active: query.is_active, event_type: query.event_type, limit: page_limit(query.limit)?, cursor: query.cursor };
    let page = hookline.list_webhooks(&filter).await?;
    let data: Vec<WebhookView> = page.items.into_iter().map(WebhookView::masked).collect();
    Ok(Json(Listing { data, next_cursor: page.next_cursor }))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = ["webhooks:read"])), params(("id" = String, Path, description = "The webhook's id (`wh_…`)")),
    responses((status = 200, description = "The webhook, secret masked", body = WebhookView), Refusals, Rejections))]
pub async fn one(
    _caller: Reader,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(WebhookView::masked(hookline.webhook(&id).await?)))
}

#[utoipa::path(put, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = ["webhooks:write"])), params(("id" = String, Path, description = "The webhook's id (`wh_…`)")), request_body = WebhookRequest,
    responses((status = 200, description = "Replaced; `is_active: false` pauses it (enabling is POST …/enable)", body = WebhookView), Refusals, Rejections))]
pub async fn replace(
    caller: Writer,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
    JsonBody(request): JsonBody<WebhookRequest>,
) -> Result<Json<WebhookView>, ApiError> {
    let replaced = hookline.replace_webhook(&id, request).await?;
    hookline.audit(&caller.actor, AuditAction::WebhookUpdate, &id).await?;
    Ok(Json(WebhookView::masked(replaced)))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = ["webhooks:write"])), params(("id" = String, Path, description = "The webhook's id (`wh_…`)")),
    responses((status = 204, description = "Deleted; its unfinished deliveries are cancelled"), Refusals, Rejections))]
pub async fn delete(caller: Writer, State(hookline): State<Hookline>, PathParam(id): PathParam<String>) -> Result<StatusCode, ApiError> {
    hookline.delete_webhook(&id).await?;
    hookline.audit(&caller.actor, AuditAction::WebhookDelete, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/webhooks/{id}/replay?since=`: replays the webhook's dead deliveries.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/replay", tag = "deliveries", security(("bearer" = ["webhooks:write"])), params(("id" = String, Path, description = "The webhook's id (`wh_…`)"), SinceQuery),
    responses((status = 202, description = "Every dead delivery (created since `since`) gets a new round of attempts", body = Replayed), Refusals, Rejections))]
pub async fn replay_dead(
    caller: Writer,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
    QueryParams(query): QueryParams<SinceQuery>,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    let replayed = hookline.replay_dead_of(&id, query.parse()?).await?;
    hookline.audit(&caller.actor, AuditAction::WebhookReplay, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed })))
}

/// `GET /api/v1/webhooks/{id}/secret`: the current secret in full (write role).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/secret", tag = "webhooks", security(("bearer" = ["webhooks:write"])), params(("id" = String, Path, description = "The webhook's id (`wh_…`)")),
    responses((status = 200, description = "The signing secret in full, and until when retired ones still sign", body = SecretView), Refusals, Rejections))]
pub async fn secret(
    caller: Writer,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
) -> Result<Json<SecretView>, ApiError> {
    let secret = hookline.webhook_secret(&id).await?;
    hookline.audit(&caller.actor, AuditAction::SecretRead, &id).await?;
    Ok(Json(secret))
}

/// `POST /api/v1/webhooks/{id}/secret/rotate`: a new secret; the old one signs on for the grace period.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/secret/rotate", tag = "webhooks", security(("bearer" = ["webhooks:write"])), params(("id" = String, Path, description = "The webhook's id (`wh_…`)")),
    request_body(content = Option<RotateRequest>, description = "Optional: a secret of your own, and how long the old one keeps signing"),
    responses((status = 200, description = "The new secret; requests carry both signatures during the grace period", body = SecretView), Refusals, Rejections))]
pub async fn rotate_secret(
    caller: Writer,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
    OptionalJsonBody(request): OptionalJsonBody<RotateRequest>,
) -> Result<Json<SecretView>, ApiError> {
    let rotated = hookline.rotate_secret(&id, request).await?;
    hookline.audit(&caller.actor, AuditAction::SecretRotate, &id).await?;
    Ok(Json(rotated))
}

/// How many dead deliveries were sent again.
#[derive(Serialize, ToSchema)]
pub struct Replayed {
    replayed: usize,
}

/// The body of `POST /api/v1/webhooks/{id}/enable`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableRequest {
    /// Send what the webhook held while it was not active (oldest first, at the recovery
    /// rate), or cancel it.
    #[serde(default = "release_by_default")]
    release_held: bool,
}

fn release_by_default() -> bool {
    true
}

impl Default for EnableRequest {
    fn default() -> Self {
        Self { release_held: true }
    }
}

/// `POST /api/v1/webhooks/{id}/enable`: makes a paused, failing or disabled webhook active.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/enable", tag = "webhooks", security(("bearer" = ["webhooks:write"])), params(("id" = String, Path, description = "The webhook's id (`wh_…`)")),
    request_body(content = Option<EnableRequest>, description = "Optional: `release_held` (default true) sends what was held, else cancels it"),
    responses((status = 200, description = "Active again", body = WebhookView), Refusals, Rejections))]
pub async fn enable(
    caller: Writer,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
    OptionalJsonBody(request): OptionalJsonBody<EnableRequest>,
) -> Result<Json<WebhookView>, ApiError> {
    let webhook = hookline.enable_webhook(&id, request.release_held).await?;
    hookline.audit(&caller.actor, AuditAction::WebhookEnable, &id).await?;
    Ok(Json(WebhookView::masked(webhook)))
}

#[utoipa::path(post, path = "/api/v1/webhooks/filter/test", tag = "webhooks", security(("bearer" = ["webhooks:read"])), request_body = FilterTestRequest,
    responses((status = 200, description = "How the filter fared on the newest delivered events (or the catalog's examples when there are none)", body = FilterTestReport), Refusals, Rejections))]
pub async fn test_filter(
    _caller: Reader,
    State(hookline): State<Hookline>,
    JsonBody(request): JsonBody<FilterTestRequest>,
) -> Result<Json<FilterTestReport>, ApiError> {
    Ok(Json(hookline.test_filter(request).await?))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", security(("bearer" = ["webhooks:write"])), params(("id" = String, Path, description = "The webhook's id (`wh_…`)")),
    responses((status = 200, description = "A signed `webhook.test` sent now, and how it went", body = TestOutcome), Refusals, Rejections))]
pub async fn test(
    _caller: Writer,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
) -> Result<Json<TestOutcome>, ApiError> {
    Ok(Json(hookline.test_webhook(&id).await?))
}
