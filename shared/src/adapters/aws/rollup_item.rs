//! A metrics rollup as a DynamoDB item: counters as number attributes, so adding a batch is one
//! `UpdateItem` of `ADD`s that never reads and never conflicts with another writer.
//!
//! `PK = MET#<level>#<period>#<shard>`, `SK = <start, 10 digits>#<webhook>#<event type>`: a
//! partition holds one UTC day of minute rollups or one month of hour rollups, spread over
//! `shards::SHARDS` partitions by webhook. One webhook's writes take `SPREAD` neighbouring
//! shards in turn, so a very busy webhook's rollup is not one hot item: it may be stored up to
//! `SPREAD` times, and a reader (which reads them all) adds them up. Rollups written before this
//! were sharded over 0–3 by another hash (`legacy_shard`), which readers still cover.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Datelike, Utc};

use super::item::{Item, get_n, get_s, n, s};
use super::shards::{SHARDS, shard_of};
use crate::domain::ids::WebhookId;
use crate::domain::metrics::{Counts, Histogram, Level, RollupKey};
use crate::ports::StoreError;

/// How many shards one webhook's rollups are spread over.
const SPREAD: u32 = 4;

/// The shard of a webhook's `turn`-th rollup write.
pub fn write_shard(webhook: &WebhookId, turn: u32) -> u32 {
    (shard_of(webhook.as_str(), SHARDS) + turn % SPREAD) % SHARDS
}

/// The shards that may hold `webhook`'s rollups, or everyone's.
pub fn read_shards(webhook: Option<&WebhookId>) -> Vec<u32> {
    let Some(webhook) = webhook else { return (0..SHARDS).collect() };
    let mut shards: Vec<u32> = (0..SPREAD).map(|turn| write_shard(webhook, turn)).collect();
    if !shards.contains(&legacy_shard(webhook)) {
        shards.push(legacy_shard(webhook));
    }
    shards
}

/// Where rollups were written before they were spread.
fn legacy_shard(webhook: &WebhookId) -> u32 {
    webhook.as_str().bytes().fold(0u32, |hash, byte| hash.wrapping_mul(31).wrapping_add(u32::from(byte))) % 4
}

/// The partition that holds rollups of `level` starting at `start` for `shard`.
pub fn partition(level: Level, start: DateTime<Utc>, shard: u32) -> String {
    let period = match level {
        Level::Minute => start.format("%Y-%m-%d").to_string(),
        Level::Hour => start.format("%Y-%m").to_string(),
    };
    format!("MET#{}#{period}#{shard}", level.as_str())
}

/// The first instant of every partition period from `from` to before `until`.
pub fn periods(level: Level, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut starts = Vec::new();
    let mut at = period_start(level, from);
    while at < until {
        starts.push(at);
        at = match level {
            Level::Minute => at + chrono::Duration::days(1),
            Level::Hour => next_month(at),
        };
    }
    starts
}

fn period_start(level: Level, at: DateTime<Utc>) -> DateTime<Utc> {
    let day = at.date_naive();
    let first = match level {
        Level::Minute => day,
        Level::Hour => day.with_day(1).unwrap_or(day),
    };
    first.and_hms_opt(0, 0, 0).map_or(at, |midnight| midnight.and_utc())
}

fn next_month(at: DateTime<Utc>) -> DateTime<Utc> {
    let (year, month) = if at.month() == 12 { (at.year() + 1, 1) } else { (at.year(), at.month() + 1) };
    chrono::NaiveDate::from_ymd_opt(year, month, 1).and_then(|day| day.and_hms_opt(0, 0, 0)).map_or(at, |midnight| midnight.and_utc())
}

/// The sort key's prefix for rollups starting at `start` (epoch seconds).
pub fn sort_prefix(start: i64) -> String {
    format!("{start:010}")
}

/// Where `key`'s counts are added on its webhook's `turn`-th write.
pub fn item_key(key: &RollupKey, turn: u32) -> Item {
    item_in(key, write_shard(&key.webhook_id, turn))
}

/// Every key `key`'s counts may be stored under, the first write shard first (`read_shards`).
pub fn spread_keys(key: &RollupKey) -> Vec<Item> {
    read_shards(Some(&key.webhook_id)).into_iter().map(|shard| item_in(key, shard)).collect()
}

fn item_in(key: &RollupKey, shard: u32) -> Item {
    let sk = format!("{}#{}#{}", sort_prefix(key.start.timestamp()), key.webhook_id, key.event_type);
    super::item::key(partition(key.level, key.start, shard), &sk)
}

/// The attributes set (not added) on every write: what filters and reads need.
pub fn identity(key: &RollupKey) -> Vec<(&'static str, AttributeValue)> {
    let expires = key.start + key.level.retention();
    vec![
        ("wh", s(key.webhook_id.as_str())),
        ("et", s(key.event_type.as_str())),
        ("t", n(key.start.timestamp())),
        ("expires_at", n(expires.timestamp())),
    ]
}

/// Every non-zero counter of `counts`, by attribute name.
pub fn counters(counts: &Counts) -> Vec<(String, u64)> {
    let mut named = vec![
        ("a".to_owned(), counts.attempts),
        ("f".to_owned(), counts.failed_attempts),
        ("s".to_owned(), counts.succeeded),
        ("d".to_owned(), counts.dead),
    ];
    for (prefix, histogram) in [("ad", &counts.attempt_duration), ("dl", &counts.delivery_latency)] {
        named.push((format!("{prefix}_n"), histogram.count));
        named.push((format!("{prefix}_sum"), histogram.sum_ms));
        named.extend(histogram.buckets.iter().map(|(bucket, count)| (format!("{prefix}_b{bucket}"), *count)));
    }
    named.retain(|(_, value)| *value > 0);
    named
}

/// A stored rollup back as its key and counts.
pub fn from_item(level: Level, item: &Item) -> Result<(RollupKey, Counts), StoreError> {
    let number = |name: &str| -> Result<u64, StoreError> { if item.contains_key(name) { get_n(item, name) } else { Ok(0) } };
    let start: i64 = get_n(item, "t")?;
    let key = RollupKey {
        level,
        start: DateTime::from_timestamp(start, 0).ok_or_else(|| StoreError::Backend("stored rollup start is out of range".into()))?,
        webhook_id: WebhookId::parse(get_s(item, "wh")?)
            .ok_or_else(|| StoreError::Backend("stored rollup webhook id is malformed".into()))?,
        event_type: get_s(item, "et")?.to_owned(),
    };
    let histogram = |prefix: &str| -> Result<Histogram, StoreError> {
        let mut histogram =
            Histogram { count: number(&format!("{prefix}_n"))?, sum_ms: number(&format!("{prefix}_sum"))?, ..Histogram::default() };
        let bucket_prefix = format!("{prefix}_b");
        for (name, value) in item {
            if let Some(bucket) = name.strip_prefix(&bucket_prefix).and_then(|raw| raw.parse::<usize>().ok()) {
                let count = value.as_n().ok().and_then(|raw| raw.parse().ok()).unwrap_or(0);
                histogram.buckets.insert(bucket, count);
            }
        }
        Ok(histogram)
    };
    let counts = Counts {
        attempts: number("a")?,
        failed_attempts: number("f")?,
        succeeded: number("s")?,
        dead: number("d")?,
        attempt_duration: histogram("ad")?,
        delivery_latency: histogram("dl")?,
    };
    Ok((key, counts))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn partitions_cover_days_of_minutes_and_months_of_hours() {
        let at = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).single().unwrap_or_default();
        assert_eq!(periods(Level::Minute, at(3, 22), at(4, 1)).len(), 2);
        assert_eq!(periods(Level::Minute, at(3, 0), at(4, 0)).len(), 1);
        let year_end = Utc.with_ymd_and_hms(2027, 1, 2, 0, 0, 0).single().unwrap_or_default();
        assert_eq!(periods(Level::Hour, at(30, 0), year_end).len(), 2);
        assert!(partition(Level::Hour, at(3, 5), 1).starts_with("MET#h#2026-12#1"));
    }

    #[test]
    fn counters_round_trip_through_an_item() {
        let key = RollupKey {
            level: Level::Minute,
            start: Utc.timestamp_opt(1_800_000_000, 0).single().unwrap_or_default(),
            webhook_id: WebhookId::generate(5),
            event_type: "invoice.paid".into(),
        };
        let mut counts = Counts { attempts: 3, failed_attempts: 1, succeeded: 2, ..Counts::default() };
        counts.attempt_duration.observe(12);
        counts.delivery_latency.observe(1_500);
        let mut item: Item = identity(&key).into_iter().map(|(name, value)| (name.to_owned(), value)).collect();
        item.extend(counters(&counts).into_iter().map(|(name, value)| (name, n(value))));
        assert_eq!(from_item(Level::Minute, &item).ok(), Some((key, counts)));
    }
}
