//! Delivery history: global, per webhook, and one delivery with its attempts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiError;
use super::auth::{Reader, Writer};
use super::extract::{PathParam, QueryParams, page_limit};
use super::openapi::{Listing, Refusals, Rejections};
use crate::domain::audit::AuditAction;
use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::ids::WebhookId;
use crate::domain::metrics::{Bucket, MetricsQuery, MetricsReport};
use crate::ports::DeliveryFilter;
use crate::service::{DeliveryDetail, Hookline};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Page size, 1 to 100 (default 50).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `pending`, `retrying`, `succeeded`, `dead`, `cancelled` or `held`.
    status: Option<String>,
    event_type: Option<String>,
    /// Only deliveries created at or after this RFC 3339 time.
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

#[utoipa::path(get, path = "/api/v1/webhooks/deliveries", tag = "deliveries", security(("bearer" = ["webhooks:read"])), params(HistoryQuery),
    responses((status = 200, description = "Deliveries, newest first", body = Listing<Delivery>), Refusals, Rejections))]
pub async fn list(
    _caller: Reader,
    State(hookline): State<Hookline>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Result<Json<Listing<Delivery>>, ApiError> {
    page(&hookline, query.into_filter()?).await
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "deliveries", security(("bearer" = ["webhooks:read"])), params(("id" = String, Path, description = "The webhook's id (`wh_…`)"), HistoryQuery),
    responses((status = 200, description = "The webhook's deliveries, newest first", body = Listing<Delivery>), Refusals, Rejections))]
pub async fn list_for_webhook(
    _caller: Reader,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Result<Json<Listing<Delivery>>, ApiError> {
    let webhook = hookline.webhook(&id).await?;
    page(&hookline, DeliveryFilter { webhook_id: Some(webhook.id), ..query.into_filter()? }).await
}

/// `?since=` alone.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SinceQuery {
    /// An RFC 3339 time.
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

/// `?since&until&bucket&webhook_id&event_type` of the metrics query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MetricsParams {
    /// RFC 3339; 24 hours before `until` by default. Widened to whole buckets.
    since: Option<String>,
    /// RFC 3339; now by default.
    until: Option<String>,
    /// `1m`, `1h` or `1d`; by default minutes up to 6 hours, hours up to 14 days, days beyond. At most 1,500 buckets.
    bucket: Option<String>,
    /// Only this webhook's deliveries.
    webhook_id: Option<String>,
    /// Only this event type's deliveries.
    event_type: Option<String>,
}

impl MetricsParams {
    fn into_query(self, now: DateTime<Utc>) -> Result<MetricsQuery, ApiError> {
        let bucket = match self.bucket.as_deref() {
            None => None,
            Some(raw) => Some(Bucket::parse(raw).ok_or_else(|| invalid_query(format!("bucket must be 1m, 1h or 1d, not '{raw}'")))?),
        };
        let until = self.until.as_deref().map(|raw| parse_time("until", raw)).transpose()?;
        let since = self.since.as_deref().map(parse_since).transpose()?;
        let query = MetricsQuery::new(since, until, bucket, now).map_err(|invalid| invalid_query(invalid.to_string()))?;
        let webhook_id = match self.webhook_id.as_deref() {
            None => None,
            Some(raw) => Some(WebhookId::parse(raw).ok_or_else(|| invalid_query(format!("webhook_id '{raw}' is not a webhook id")))?),
        };
        Ok(MetricsQuery { webhook_id, event_type: self.event_type, ..query })
    }
}

/// `GET /api/v1/webhooks/metrics`: delivery health over a period (the last 24 hours unless
/// `since`/`until` say otherwise), totals and a series, from rollups.
#[utoipa::path(get, path = "/api/v1/webhooks/metrics", tag = "metrics", security(("bearer" = ["webhooks:read"])), params(MetricsParams),
    responses((status = 200, description = "Totals and a series, from rollups: the cost depends on the buckets, not the traffic", body = MetricsReport), Refusals, Rejections))]
pub async fn metrics(
    _caller: Reader,
    State(hookline): State<Hookline>,
    QueryParams(params): QueryParams<MetricsParams>,
) -> Result<Json<MetricsReport>, ApiError> {
    let query = params.into_query(hookline.clock.now())?;
    Ok(Json(hookline.metrics(&query).await?))
}

fn invalid_query(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", detail)
}

/// `POST /api/v1/webhooks/deliveries/{id}/replay`: a new round of attempts for a closed delivery.
#[utoipa::path(post, path = "/api/v1/webhooks/deliveries/{delivery_id}/replay", tag = "deliveries", security(("bearer" = ["webhooks:write"])), params(("delivery_id" = String, Path, description = "The delivery's id (`dlv_…`)")),
    responses((status = 202, description = "A new round of attempts (the whole retry policy again) for a closed delivery", body = Delivery), Refusals, Rejections))]
pub async fn replay(
    caller: Writer,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    let delivery = hookline.replay_delivery(&id).await?;
    hookline.audit(&caller.actor, AuditAction::DeliveryReplay, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

/// `POST /api/v1/webhooks/deliveries/{id}/acknowledge`: a dead delivery reviewed.
#[utoipa::path(post, path = "/api/v1/webhooks/deliveries/{delivery_id}/acknowledge", tag = "deliveries", security(("bearer" = ["webhooks:write"])), params(("delivery_id" = String, Path, description = "The delivery's id (`dlv_…`)")),
    responses((status = 200, description = "A dead delivery marked reviewed: its type's retention applies from now (409 for any other)", body = Delivery), Refusals, Rejections))]
pub async fn acknowledge(
    caller: Writer,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
) -> Result<Json<Delivery>, ApiError> {
    let delivery = hookline.acknowledge_delivery(&id).await?;
    hookline.audit(&caller.actor, AuditAction::DeliveryAcknowledge, &id).await?;
    Ok(Json(delivery))
}

fn parse_since(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    parse_time("since", raw)
}

fn parse_time(name: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid_query(format!("{name} must be an RFC 3339 date-time")))
}

#[utoipa::path(get, path = "/api/v1/webhooks/deliveries/{delivery_id}", tag = "deliveries", security(("bearer" = ["webhooks:read"])), params(("delivery_id" = String, Path, description = "The delivery's id (`dlv_…`)")),
    responses((status = 200, description = "The delivery with every attempt and the payload that was sent", body = DeliveryDetail), Refusals, Rejections))]
pub async fn one(
    _caller: Reader,
    State(hookline): State<Hookline>,
    PathParam(id): PathParam<String>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    Ok(Json(hookline.delivery(&id).await?))
}

async fn page(hookline: &Hookline, filter: DeliveryFilter) -> Result<Json<Listing<Delivery>>, ApiError> {
    let page = hookline.list_deliveries(&filter).await?;
    Ok(Json(Listing { data: page.items, next_cursor: page.next_cursor }))
}
