//! A delivery as stored in DynamoDB: `DLV#<id>` with its attempts in the same item (`log`, one
//! JSON document per attempt), so recording an attempt is one `UpdateItem` and reading a delivery
//! with its history one `GetItem`. One index entry: `GSI2` by webhook, sharded by delivery id
//! (`shards`), keys only, so recording an attempt writes this item and nothing else; everyone's
//! deliveries are the webhooks' merged (`walk`). No index by event: a delivery's id derives
//! from its event and webhook (`DeliveryId::for_pair`), so an event's deliveries are looked up
//! by key. Deliveries written by earlier versions also carry a `GSI1` entry by day and a `GSI3`
//! entry by event; the first is no longer read, the second still is.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::item::{Item, expiry, get_n, get_s, get_time, key, n, opt_n, opt_s, opt_time, put_opt, s, time};
use super::shards::{SHARDS, sharded};
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::domain::metrics::Sample;
use crate::domain::outcome::ErrorKind;
use crate::ports::{AttemptRecord, StoreError};

/// A webhook's partition of `GSI2`, before sharding.
pub fn webhook_partition(webhook: &str) -> String {
    format!("WHD#{webhook}")
}

/// Sort key in the webhook index: creation time, then id.
pub fn created_key(at: DateTime<Utc>, id: &DeliveryId) -> String {
    format!("{}#{id}", crate::domain::event::format_timestamp(at))
}

/// The attribute naming the attempt the item's last write recorded: set by every write of an
/// attempt and removed by every other write, so the table's stream shows each attempt in one
/// record (`sample_of_item`), which the rollups are counted from.
pub const FRESH: &str = "fresh";

pub fn delivery_key(id: &DeliveryId) -> Item {
    key(format!("DLV#{id}"), "META")
}

/// The partition key of a delivery's index entry: its webhook's, sharded by delivery id.
pub fn index_partition(delivery: &Delivery) -> String {
    sharded(&webhook_partition(delivery.webhook_id.as_str()), delivery.id.as_str(), SHARDS)
}

/// The `GSI3` partition holding an event's deliveries as earlier versions wrote them.
pub fn legacy_event_partition(event: &EventId) -> String {
    format!("EVD#{event}")
}

pub fn to_item(delivery: &Delivery, retention: Duration) -> Item {
    let sort = created_key(delivery.created_at, &delivery.id);
    let mut item = delivery_key(&delivery.id);
    for (name, value) in [
        ("event_id", s(delivery.event_id.as_str())),
        ("webhook_id", s(delivery.webhook_id.as_str())),
        ("event_type", s(&delivery.event_type)),
        ("status", s(delivery.status.as_str())),
        ("attempts", n(delivery.attempts)),
        ("attempts_before_replay", n(delivery.attempts_before_replay)),
        ("created_at", time(delivery.created_at)),
        ("updated_at", time(delivery.updated_at)),
        ("log", AttributeValue::L(Vec::new())),
        ("expires_at", expiry(delivery.created_at, retention)),
        ("GSI2PK", s(index_partition(delivery))),
        ("GSI2SK", s(&sort)),
    ] {
        item.insert(name.to_owned(), value);
    }
    put_opt(&mut item, "next_attempt_at", delivery.next_attempt_at.map(time));
    put_opt(&mut item, "last_status_code", delivery.last_status_code.map(n));
    put_opt(&mut item, "last_error", delivery.last_error.as_deref().map(s));
    put_opt(&mut item, "acknowledged_at", delivery.acknowledged_at.map(time));
    put_opt(&mut item, "body", delivery.body.as_deref().map(s));
    item
}

/// The item of a delivery stored with its first attempt (`record`), as `record_attempt` would
/// leave it.
pub fn attempted_item(delivery: &Delivery, record: &AttemptRecord, at: DateTime<Utc>, retention: Duration) -> Item {
    let attempt = &record.attempt;
    let attempted = Delivery {
        status: record.status,
        attempts: attempt.number,
        next_attempt_at: attempt.next_attempt_at,
        last_status_code: attempt.status_code,
        last_error: record.last_error.clone(),
        updated_at: at,
        ..delivery.clone()
    };
    let mut item = to_item(&attempted, retention);
    item.insert("log".to_owned(), AttributeValue::L(vec![attempt_value(attempt)]));
    item.insert(FRESH.to_owned(), n(attempt.number));
    item
}

/// `expression` (an update of a delivery that records no attempt) also removing `FRESH`.
pub fn recording_no_attempt(expression: &str) -> String {
    if expression.contains(" REMOVE ") { format!("{expression}, {FRESH}") } else { format!("{expression} REMOVE {FRESH}") }
}

/// The metrics sample of the attempt a delivery item's last write recorded, as the table's
/// stream shows the item; `None` when that write recorded no attempt.
pub fn sample_of_item(item: &Item) -> Result<Option<Sample>, StoreError> {
    let Some(number) = opt_n::<u32>(item, FRESH)? else { return Ok(None) };
    let delivery = from_item(item)?;
    let attempt = attempts_of(item)?.into_iter().rev().find(|attempt| attempt.number == number);
    Ok(attempt.map(|attempt| Sample::of(&delivery, &attempt, delivery.status)))
}

pub fn from_item(item: &Item) -> Result<Delivery, StoreError> {
    let corrupt = |what: &str| StoreError::Backend(format!("stored delivery {what} does not parse").into());
    let id = get_s(item, "PK")?.trim_start_matches("DLV#");
    Ok(Delivery {
        id: DeliveryId::parse(id).ok_or_else(|| corrupt("id"))?,
        event_id: EventId::parse(get_s(item, "event_id")?).map_err(|_| corrupt("event id"))?,
        webhook_id: WebhookId::parse(get_s(item, "webhook_id")?).ok_or_else(|| corrupt("webhook id"))?,
        event_type: get_s(item, "event_type")?.to_owned(),
        status: DeliveryStatus::parse(get_s(item, "status")?).ok_or_else(|| corrupt("status"))?,
        attempts: get_n(item, "attempts")?,
        attempts_before_replay: get_n(item, "attempts_before_replay")?,
        next_attempt_at: opt_time(item, "next_attempt_at")?,
        last_status_code: opt_n(item, "last_status_code")?,
        last_error: opt_s(item, "last_error"),
        acknowledged_at: opt_time(item, "acknowledged_at")?,
        created_at: get_time(item, "created_at")?,
        updated_at: get_time(item, "updated_at")?,
        body: opt_s(item, "body"),
    })
}

/// One attempt in a delivery's `log`.
#[derive(Serialize, Deserialize)]
struct AttemptDoc {
    number: u32,
    started_at: DateTime<Utc>,
    duration_ms: u64,
    status_code: Option<u16>,
    response_excerpt: Option<String>,
    error_kind: Option<String>,
    error_detail: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
}

pub fn attempt_value(attempt: &Attempt) -> AttributeValue {
    let doc = AttemptDoc {
        number: attempt.number,
        started_at: attempt.started_at,
        duration_ms: attempt.duration_ms,
        status_code: attempt.status_code,
        response_excerpt: attempt.response_excerpt.clone(),
        error_kind: attempt.error_kind.map(|kind| kind.as_str().to_owned()),
        error_detail: attempt.error_detail.clone(),
        next_attempt_at: attempt.next_attempt_at,
    };
    s(serde_json::to_string(&doc).unwrap_or_default())
}

/// The attempts in a delivery item's `log`, oldest first.
pub fn attempts_of(item: &Item) -> Result<Vec<Attempt>, StoreError> {
    let Some(AttributeValue::L(log)) = item.get("log") else { return Ok(Vec::new()) };
    log.iter()
        .map(|entry| {
            let raw = entry.as_s().map_err(|_| StoreError::Backend("stored attempt is not text".into()))?;
            let doc: AttemptDoc = serde_json::from_str(raw).map_err(|_| StoreError::Backend("stored attempt does not parse".into()))?;
            Ok(Attempt {
                number: doc.number,
                started_at: doc.started_at,
                duration_ms: doc.duration_ms,
                status_code: doc.status_code,
                response_excerpt: doc.response_excerpt,
                error_kind: doc.error_kind.as_deref().and_then(ErrorKind::parse),
                error_detail: doc.error_detail,
                next_attempt_at: doc.next_attempt_at,
            })
        })
        .collect()
}

/// The log with every response excerpt removed (after an event's erasure).
pub fn log_without_excerpts(attempts: &[Attempt]) -> AttributeValue {
    AttributeValue::L(attempts.iter().map(|a| attempt_value(&Attempt { response_excerpt: None, ..a.clone() })).collect())
}

/// The statuses that still expect an attempt, from the domain.
pub fn open_statuses() -> Vec<DeliveryStatus> {
    DeliveryStatus::ALL.into_iter().filter(|status| status.is_open()).collect()
}

/// The statuses that are not finished (open or held), from the domain.
pub fn unfinished_statuses() -> Vec<DeliveryStatus> {
    DeliveryStatus::ALL.into_iter().filter(|status| status.is_unfinished()).collect()
}

/// `#status IN (:status0, …)` and its values, for a condition on a delivery's status.
pub fn status_in(statuses: &[DeliveryStatus]) -> (String, Vec<(String, AttributeValue)>) {
    let values: Vec<(String, AttributeValue)> =
        statuses.iter().enumerate().map(|(i, status)| (format!(":status{i}"), s(status.as_str()))).collect();
    let names: Vec<&str> = values.iter().map(|(name, _)| name.as_str()).collect();
    (format!("#status IN ({})", names.join(", ")), values)
}
