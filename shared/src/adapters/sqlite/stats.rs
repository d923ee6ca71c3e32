//! The delivery-health queries behind `DeliveryStore::stats`.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{corrupt, to_text};
use crate::domain::delivery::DeliveryStatus;
use crate::domain::ids::WebhookId;
use crate::domain::stats::{AttemptStats, DeliveryStats, EventTypeCount, WebhookFailures, rank};
use crate::ports::StoreError;

pub fn delivery_stats(conn: &Connection, since: DateTime<Utc>) -> Result<DeliveryStats, StoreError> {
    let from = to_text(since);
    let mut by_status = conn.prepare_cached("SELECT status, COUNT(*) FROM deliveries WHERE created_at >= ?1 GROUP BY status")?;
    let by_status = by_status
        .query_map([&from], |row| {
            let status: String = row.get(0)?;
            Ok((DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery status"))?, row.get(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut event_types = conn.prepare_cached(
        "SELECT event_type, COUNT(*) AS n FROM deliveries WHERE created_at >= ?1 GROUP BY event_type ORDER BY n DESC, event_type",
    )?;
    let event_types = event_types
        .query_map([&from], |row| Ok(EventTypeCount { event_type: row.get(0)?, deliveries: row.get(1)? }))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DeliveryStats::new(since, &by_status, attempt_stats(conn, &from)?, failures(conn, &from)?, event_types))
}

fn attempt_stats(conn: &Connection, from: &str) -> Result<AttemptStats, StoreError> {
    let (total, failed, avg): (u64, u64, Option<f64>) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(error_kind IS NOT NULL), 0), AVG(duration_ms) FROM attempts WHERE started_at >= ?1",
        [from],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    let mut nth = conn.prepare_cached("SELECT duration_ms FROM attempts WHERE started_at >= ?1 ORDER BY duration_ms LIMIT 1 OFFSET ?2")?;
    let mut percentile = |q: f64| -> Result<Option<u64>, StoreError> {
        let Some(offset) = rank(total, q) else { return Ok(None) };
        Ok(nth.query_row(params![from, i64::try_from(offset).unwrap_or(i64::MAX)], |row| row.get(0)).optional()?)
    };
    Ok(AttemptStats {
        total,
        failed,
        avg_duration_ms: avg,
        p50_duration_ms: percentile(0.50)?,
        p95_duration_ms: percentile(0.95)?,
        p99_duration_ms: percentile(0.99)?,
    })
}

fn failures(conn: &Connection, from: &str) -> Result<Vec<WebhookFailures>, StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT d.webhook_id, SUM(a.error_kind IS NOT NULL) AS failed, COUNT(DISTINCT CASE WHEN d.status = {dead} THEN d.id END) \
         FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE a.started_at >= ?1 \
         GROUP BY d.webhook_id HAVING failed > 0 ORDER BY failed DESC",
        dead = super::status::literal(DeliveryStatus::Dead)
    ))?;
    let rows = statement.query_map([from], |row| {
        let id: String = row.get(0)?;
        Ok(WebhookFailures {
            webhook_id: WebhookId::parse(&id).ok_or_else(|| corrupt("webhook id"))?,
            failed_attempts: row.get(1)?,
            dead_deliveries: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
