//! `POST /api/v1/webhooks/deliveries/replay` (a bulk replay) and `GET /api/v1/webhooks/replays/{id}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ApiError;
use super::auth::{Reader, Writer};
use super::extract::{OptionalJsonBody, PathParam};
use super::openapi::{Refusals, Rejections};
use crate::domain::audit::AuditAction;
use crate::domain::ids::ReplayId;
use crate::domain::replay::{Replay, ReplayFilter, ReplayRequest};
use crate::service::Hookline;

/// A replay as the API shows it: its selection and progress (not where its paging stands).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplayView {
    id: ReplayId,
    filter: ReplayFilter,
    matched: u64,
    replayed: u64,
    finished: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl From<Replay> for ReplayView {
    fn from(replay: Replay) -> Self {
        Self {
            finished: replay.is_finished(),
            id: replay.id,
            filter: replay.filter,
            matched: replay.matched,
            replayed: replay.replayed,
            created_at: replay.created_at,
            updated_at: replay.updated_at,
            finished_at: replay.finished_at,
        }
    }
}

/// Starts a bulk replay: 202 with its id and how far it got at once; the rest goes on in the background.
#[utoipa::path(post, path = "/api/v1/webhooks/deliveries/replay", tag = "deliveries", operation_id = "replay_start", security(("bearer" = ["webhooks:write"])),
    request_body(content = Option<ReplayRequest>, description = "Which deliveries: `webhook_id`, `status` (default [\"dead\"]), `event_type`, `since`, `until`"),
    responses((status = 202, description = "Started: its id and how far it got at once; the rest goes on in the background", body = ReplayView), Refusals, Rejections))]
pub async fn start(
    caller: Writer,
    State(hookline): State<Hookline>,
    OptionalJsonBody(request): OptionalJsonBody<ReplayRequest>,
) -> Result<(StatusCode, Json<ReplayView>), ApiError> {
    let replay = hookline.start_replay(request).await?;
    hookline.audit(&caller.actor, AuditAction::DeliveriesReplay, replay.id.as_str()).await?;
    Ok((StatusCode::ACCEPTED, Json(replay.into())))
}

#[utoipa::path(get, path = "/api/v1/webhooks/replays/{id}", tag = "deliveries", operation_id = "replay_status", security(("bearer" = ["webhooks:read"])), params(("id" = String, Path, description = "The replay's id (`rpl_…`)")),
    responses((status = 200, description = "A bulk replay's progress", body = ReplayView), Refusals, Rejections))]
pub async fn one(
    _caller: Reader,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
) -> Result<Json<ReplayView>, ApiError> {
    Ok(Json(hookline.replay_status(&id).await?.into()))
}
