//! Delivery history: global, per webhook, and one delivery with its attempts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::auth::{Reader, Writer};
use super::extract::{QueryParams, page_limit};
use crate::domain::audit::AuditAction;
use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::stats::DeliveryStats;
use crate::ports::DeliveryFilter;
use crate::service::{DeliveryDetail, Hookline};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    limit: Option<usize>,
    cursor: Option<String>,
    status: Option<String>,
    event_type: Option<String>,
    since: Option<String>,
}

impl HistoryQuery {
    fn into_filter(self) -> Result<DeliveryFilter, ApiError> {
        let status = match self.status.as_deref() {
            None => None,
            Some(raw) => Some(
                DeliveryStatus::parse(raw)
                    .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", format!("unknown status '{raw}'")))?,
            ),
        };
        let since = self.since.as_deref().map(parse_since).transpose()?;
        Ok(DeliveryFilter {
            webhook_id: None,
            status,
            event_type: self.event_type,
            since,
            limit: page_limit(self.limit)?,
            cursor: self.cursor,
        })
    }
}

pub async fn list(
    _caller: Reader,
    State(hookline): State<Hookline>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    page(&hookline, query.into_filter()?).await
}

pub async fn list_for_webhook(
    _caller: Reader,
    State(hookline): State<Hookline>,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let webhook = hookline.webhook(&id).await?;
    page(&hookline, DeliveryFilter { webhook_id: Some(webhook.id), ..query.into_filter()? }).await
}

/// `?since=` alone.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinceQuery {
    since: Option<String>,
}

impl From<Option<String>> for SinceQuery {
    fn from(since: Option<String>) -> Self {
        Self { since }
    }
}

impl SinceQuery {
    pub fn parse(&self) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.since.as_deref().map(parse_since).transpose()
    }
}

/// `GET /api/v1/webhooks/metrics`: delivery health, by default over the last 24 hours.
pub async fn metrics(
    _caller: Reader,
    State(hookline): State<Hookline>,
    QueryParams(query): QueryParams<SinceQuery>,
) -> Result<Json<DeliveryStats>, ApiError> {
    Ok(Json(hookline.delivery_stats(query.parse()?).await?))
}

/// `POST /api/v1/webhooks/deliveries/{id}/replay`: a new round of attempts for a closed delivery.
pub async fn replay(
    caller: Writer,
    State(hookline): State<Hookline>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    let delivery = hookline.replay_delivery(&id).await?;
    hookline.audit(&caller.actor, AuditAction::DeliveryReplay, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

/// `POST /api/v1/webhooks/deliveries/{id}/acknowledge`: a dead delivery reviewed.
pub async fn acknowledge(caller: Writer, State(hookline): State<Hookline>, Path(id): Path<String>) -> Result<Json<Delivery>, ApiError> {
    let delivery = hookline.acknowledge_delivery(&id).await?;
    hookline.audit(&caller.actor, AuditAction::DeliveryAcknowledge, &id).await?;
    Ok(Json(delivery))
}

fn parse_since(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "since must be an RFC 3339 date-time"))
}

pub async fn one(_caller: Reader, State(hookline): State<Hookline>, Path(id): Path<String>) -> Result<Json<DeliveryDetail>, ApiError> {
    Ok(Json(hookline.delivery(&id).await?))
}

async fn page(hookline: &Hookline, filter: DeliveryFilter) -> Result<Json<Value>, ApiError> {
    let page = hookline.list_deliveries(&filter).await?;
    Ok(Json(json!({ "data": page.items, "next_cursor": page.next_cursor })))
}
