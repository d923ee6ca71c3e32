//! `MetricsStore` over DynamoDB. Attempts are counted from the table's stream: every write of
//! an attempt marks the delivery item `fresh` (`delivery_item::FRESH`), `ingest` reads the
//! samples of the stream's batch (up to 1,000 records, `stream::sample_of_image`) and
//! `count_from_stream` writes each minute rollup they touch with one `UpdateItem` of `ADD`s
//! (into its webhook's next shard, see `rollup_item`), so a stream batch of a thousand
//! deliveries to ten webhooks is ten writes, whatever its size. What a write fails to add waits
//! in memory (`PendingRollups`) for the process's next flush; a process that dies before it
//! loses those counts, never a delivery or an attempt.
//!
//! Hour rollups are not written per batch: `fold`, run by every `maintain` pass, sums each hour's
//! minute rollups once the hour is `FOLD_GRACE` old and puts the totals (a put, so folding an
//! hour again gives the same figures), then moves the watermark (`MET#FOLDED`) past it. A read
//! of hours takes the hour rollups before the watermark and sums the minute rollups after it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use futures_util::future::join_all;

use chrono::{DateTime, Duration, Utc};

use super::item::{Item, get_n, key, n, s};
use super::reads::{get_item, query_pages};
use super::rollup_item::{counters, from_item, identity, item_key, partition, periods, read_shards, sort_prefix, spread_keys};
use super::{Dynamo, condition_failed, store_error};
use crate::domain::metrics::{Counts, Level, Rollup, RollupKey, RollupSelection, Sample};
use crate::ports::{MetricsStore, StoreError};

/// How late a sample may still be flushed after its minute (a `deliver` batch flushes when it
/// ends, and Lambda stops an invocation after 15 minutes): an hour is folded this long after it.
const FOLD_GRACE: Duration = Duration::minutes(20);

/// Hours folded per pass at most, so a pass after a long pause stays short; the next passes
/// (one a minute) catch up.
const FOLDS_PER_PASS: usize = 6;

/// The fold's watermark: hours before its `until` (epoch seconds) are in hour rollups.
fn watermark_key() -> Item {
    key("MET#FOLDED".into(), "META")
}

/// Samples recorded by this process and not yet written.
#[derive(Default)]
struct PendingRollups(Mutex<Rollup>);

impl PendingRollups {
    pub fn observe(&self, sample: &Sample) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).observe(sample);
    }

    fn take(&self) -> Rollup {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Puts back what could not be written, to go with the next flush.
    fn restore(&self, unwritten: impl IntoIterator<Item = (RollupKey, Counts)>) {
        let mut pending = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, counts) in unwritten {
            pending.groups.entry(key).or_default().merge(&counts);
        }
    }
}

pub struct DynamoDbMetricsStore {
    db: Dynamo,
    pending: PendingRollups,
    /// Counts this store's writes, to take a webhook's shards in turn (`rollup_item`); starts
    /// anywhere, so instances do not move in step.
    turn: AtomicU32,
}

impl DynamoDbMetricsStore {
    pub fn new(db: Dynamo) -> Self {
        Self { db, pending: PendingRollups::default(), turn: AtomicU32::new(rand::random::<u32>()) }
    }

    async fn add(&self, key: &RollupKey, counts: &Counts) -> Result<(), StoreError> {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let mut request = self.db.client.update_item().table_name(&*self.db.table).set_key(Some(item_key(key, turn)));
        let mut sets = Vec::new();
        for (name, value) in identity(key) {
            sets.push(format!("#{name} = :{name}"));
            request = request.expression_attribute_names(format!("#{name}"), name).expression_attribute_values(format!(":{name}"), value);
        }
        let mut adds = Vec::new();
        for (name, value) in counters(counts) {
            adds.push(format!("#{name} :{name}"));
            request =
                request.expression_attribute_names(format!("#{name}"), &name).expression_attribute_values(format!(":{name}"), n(value));
        }
        let expression = format!("SET {} ADD {}", sets.join(", "), adds.join(", "));
        request.update_expression(expression).send().await.map_err(store_error)?;
        Ok(())
    }

    /// The rollup items of `selection.level` the selection covers, as stored.
    async fn stored(&self, selection: &RollupSelection) -> Result<Vec<(RollupKey, Counts)>, StoreError> {
        let mut rollups = Vec::new();
        for period in periods(selection.level, selection.from, selection.until) {
            let shards = read_shards(selection.webhook_id.as_ref()).into_iter();
            let shards = shards.map(|shard| self.query_partition(partition(selection.level, period, shard), selection));
            for items in join_all(shards).await {
                for item in items? {
                    let (key, counts) = from_item(selection.level, &item)?;
                    if selection.covers(&key) {
                        rollups.push((key, counts));
                    }
                }
            }
        }
        Ok(rollups)
    }

    /// Where the fold has got to; `None` before its first pass.
    async fn folded_until(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(item) = get_item(&self.db, watermark_key()).await? else { return Ok(None) };
        Ok(DateTime::from_timestamp(get_n(&item, "until")?, 0))
    }

    /// Moves the watermark from `from` (absent: `None`) to `to`; false when another pass moved it.
    async fn move_watermark(&self, from: Option<DateTime<Utc>>, to: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut item = watermark_key();
        item.insert("until".into(), n(to.timestamp()));
        let request = self.db.client.put_item().table_name(&*self.db.table).set_item(Some(item));
        let request = match from {
            Some(from) => request
                .condition_expression("#until = :from")
                .expression_attribute_names("#until", "until")
                .expression_attribute_values(":from", n(from.timestamp())),
            None => request.condition_expression("attribute_not_exists(PK)"),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(error) if condition_failed(&error) => Ok(false),
            Err(error) => Err(store_error(error)),
        }
    }

    /// Puts the hour starting at `hour` as the sum of its minute rollups: each (webhook, type)
    /// whole in its webhook's first shard, and removes the copies other shards may hold (hour
    /// rollups were added per batch before folding).
    async fn fold_hour(&self, hour: DateTime<Utc>) -> Result<(), StoreError> {
        let minutes =
            RollupSelection { level: Level::Minute, from: hour, until: hour + Duration::hours(1), webhook_id: None, event_type: None };
        for (key, counts) in by_hour(self.stored(&minutes).await?) {
            let mut item = item_key(&key, 0);
            item.extend(identity(&key).into_iter().map(|(name, value)| (name.to_owned(), value)));
            item.extend(counters(&counts).into_iter().map(|(name, value)| (name, n(value))));
            self.db.client.put_item().table_name(&*self.db.table).set_item(Some(item)).send().await.map_err(store_error)?;
            for copy in spread_keys(&key).into_iter().skip(1) {
                self.db.client.delete_item().table_name(&*self.db.table).set_key(Some(copy)).send().await.map_err(store_error)?;
            }
        }
        Ok(())
    }

    async fn query_partition(&self, pk: String, selection: &RollupSelection) -> Result<Vec<Item>, StoreError> {
        let (low, high) = (sort_prefix(selection.from.timestamp()), format!("{}~", sort_prefix(selection.until.timestamp() - 1)));
        let mut values = Item::from([(":pk".to_owned(), s(pk)), (":low".to_owned(), s(low)), (":high".to_owned(), s(high))]);
        let mut filters = Vec::new();
        if let Some(webhook) = &selection.webhook_id {
            filters.push("wh = :wh");
            values.insert(":wh".into(), s(webhook.as_str()));
        }
        if let Some(event_type) = &selection.event_type {
            filters.push("et = :et");
            values.insert(":et".into(), s(event_type.as_str()));
        }
        query_pages(&self.db, |query| {
            query
                .key_condition_expression("PK = :pk AND SK BETWEEN :low AND :high")
                .set_filter_expression((!filters.is_empty()).then(|| filters.join(" AND ")))
                .set_expression_attribute_values(Some(values.clone()))
        })
        .await
    }
}

#[async_trait]
impl MetricsStore for DynamoDbMetricsStore {
    async fn rollups(&self, selection: &RollupSelection) -> Result<Vec<(RollupKey, Counts)>, StoreError> {
        if selection.level == Level::Minute {
            return self.stored(selection).await;
        }
        // Hours before the watermark are folded; the rest are summed from their minutes.
        let folded = self.folded_until().await?.map_or(selection.from, |until| until.clamp(selection.from, selection.until));
        let mut rollups =
            if folded > selection.from { self.stored(&RollupSelection { until: folded, ..selection.clone() }).await? } else { Vec::new() };
        let minutes = RollupSelection { level: Level::Minute, from: folded, ..selection.clone() };
        rollups.extend(by_hour(self.stored(&minutes).await?).into_iter().filter(|(key, _)| selection.covers(key)));
        Ok(rollups)
    }

    /// Only minute rollups: hours are folded from them (`fold`).
    async fn flush(&self) -> Result<Rollup, StoreError> {
        let mut rollup = self.pending.take();
        rollup.groups.retain(|key, _| key.level == Level::Minute);
        let mut groups = rollup.groups.iter();
        while let Some((key, counts)) = groups.next() {
            if let Err(error) = self.add(key, counts).await {
                let unwritten: Vec<_> = std::iter::once((key, counts)).chain(groups).map(|(k, c)| (k.clone(), c.clone())).collect();
                self.pending.restore(unwritten);
                return Err(error);
            }
        }
        Ok(rollup)
    }

    /// The stream's samples go with what earlier flushes could not write.
    async fn count_from_stream(&self, samples: &[Sample]) -> Result<Rollup, StoreError> {
        for sample in samples {
            self.pending.observe(sample);
        }
        self.flush().await
    }

    async fn fold(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let Some(mut next) = self.folded_until().await? else {
            // The first pass: the hours still open to late samples are folded from here on;
            // the hour rollups written per batch before folding existed stay as they are.
            self.move_watermark(None, Level::Hour.start_of(now - FOLD_GRACE)).await?;
            return Ok(());
        };
        for _ in 0..FOLDS_PER_PASS {
            if next + Duration::hours(1) + FOLD_GRACE > now {
                break;
            }
            self.fold_hour(next).await?;
            if !self.move_watermark(Some(next), next + Duration::hours(1)).await? {
                return Ok(());
            }
            next += Duration::hours(1);
        }
        Ok(())
    }
}

/// Minute rollups summed into the hours they fall in.
fn by_hour(minutes: Vec<(RollupKey, Counts)>) -> BTreeMap<RollupKey, Counts> {
    let mut hours: BTreeMap<RollupKey, Counts> = BTreeMap::new();
    for (key, counts) in minutes {
        let hour = RollupKey { level: Level::Hour, start: Level::Hour.start_of(key.start), ..key };
        hours.entry(hour).or_default().merge(&counts);
    }
    hours
}
