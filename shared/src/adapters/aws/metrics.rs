//! `MetricsStore` over DynamoDB. `record_attempt` only counts its sample in memory
//! (`PendingRollups`); `flush`, called once per `deliver` batch and by every `maintain` pass,
//! writes each rollup the batch touched with one `UpdateItem` of `ADD`s (into its webhook's next
//! shard, see `rollup_item`), so a batch of ten
//! deliveries to one webhook is one write per level, whatever its size. A process that dies
//! before flushing loses those counts, never a delivery or an attempt.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::future::join_all;

use super::item::{Item, n, s};
use super::reads::query_pages;
use super::rollup_item::{counters, from_item, identity, item_key, partition, periods, read_shards, sort_prefix};
use super::{Dynamo, store_error};
use crate::domain::metrics::{Counts, Rollup, RollupKey, RollupSelection, Sample};
use crate::ports::{MetricsStore, StoreError};

/// Samples recorded by this process and not yet written.
#[derive(Default)]
pub struct PendingRollups(Mutex<Rollup>);

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
    pending: Arc<PendingRollups>,
    /// Counts this store's writes, to take a webhook's shards in turn (`rollup_item`); starts
    /// anywhere, so instances do not move in step.
    turn: AtomicU32,
}

impl DynamoDbMetricsStore {
    pub fn new(db: Dynamo, pending: Arc<PendingRollups>) -> Self {
        Self { db, pending, turn: AtomicU32::new(rand::random::<u32>()) }
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

    async fn flush(&self) -> Result<Rollup, StoreError> {
        let rollup = self.pending.take();
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
}
