//! No partition key takes more than DynamoDB's 1,000 write units a second at 10,000 deliveries a
//! second: the keys of a million deliveries, built by the adapters' own item and key functions,
//! with the write units of every index entry they write (sizes by `units`), counted per key and
//! second.
//!
//! The writes counted are those every successful delivery makes to a key shared with others: the
//! delivery put's index entry under its webhook (the put that stores it with its first attempt;
//! keys only, so later attempts write no index), and the minute
//! rollups, as if every ten deliveries wrote theirs (the stream's batches of up to 1,000
//! attempts write fewer: an upper bound). Writes to a table item's own key (`EVT#`, `DLV#`) are
//! one item each and never hot; an event, fanned out from the table's stream, writes nothing
//! else. Not counted: a
//! webhook's health item (written on failures, and once a minute on success) and held-delivery
//! markers (written only while a webhook is failing): both are per webhook, see ARCHITECTURE.md.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::delivery_item::{index_partition, to_item, webhook_partition};
use super::item::{Item, n};
use super::rollup_item::{counters, identity, item_key};
use super::units::{item_size, write_units};
use crate::domain::delivery::Delivery;
use crate::domain::ids::{EventId, WebhookId};
use crate::domain::metrics::{Counts, Level, RollupKey};

const LIMIT: u64 = 1_000;
const RATE: u64 = 10_000;
const DELIVERIES: u64 = 1_000_000;
/// Deliveries per rollup write: the rollups a batch touched are written once per batch (ten, a
/// `deliver` batch, when the rollups were written there; the stream's batches are larger).
const BATCH: u64 = 10;

/// Write units per (partition key, second).
#[derive(Default)]
struct Load(HashMap<(String, u64), u64>);

impl Load {
    fn add(&mut self, key: String, second: u64, units: u64) {
        *self.0.entry((key, second)).or_default() += units;
    }

    fn hottest(&self) -> Option<(&str, u64, u64)> {
        self.0.iter().map(|((key, second), units)| (key.as_str(), *second, *units)).max_by_key(|(_, _, units)| *units)
    }

    /// What the keys starting with `base` (its shards) take together in `second`.
    fn unsharded(&self, base: &str, second: u64) -> u64 {
        self.0.iter().filter(|((key, at), _)| *at == second && key.starts_with(base)).map(|(_, units)| units).sum()
    }
}

/// Write units of `item`.
fn units_of(item: &Item) -> u64 {
    write_units(item_size(item))
}

/// `item`'s entry in the index keyed by `pk` and `sk` (keys only: the table's and the index's).
fn index_entry(item: &Item, [pk, sk]: [&str; 2]) -> Item {
    ["PK", "SK", pk, sk].iter().filter_map(|name| Some(((*name).to_owned(), item.get(*name)?.clone()))).collect()
}

/// What one delivery's index entries and a rollup cost: every delivery has the same size (ids
/// and timestamps are fixed width), so one is measured.
struct DeliveryUnits {
    webhook_index: u64,
    rollup: u64,
}

impl DeliveryUnits {
    fn measure(at: DateTime<Utc>) -> Self {
        let webhook = WebhookId::generate(0);
        let created = to_item(&Delivery::new(EventId::generate(0), webhook.clone(), "customer.created", at), Duration::days(30));
        let mut counts = Counts::default();
        for _ in 0..BATCH {
            counts.attempts += 1;
            counts.succeeded += 1;
            counts.attempt_duration.observe(40);
            counts.delivery_latency.observe(90);
        }
        let key = RollupKey { level: Level::Minute, start: at, webhook_id: webhook, event_type: "customer.created".into() };
        let mut rollup = item_key(&key, 0);
        rollup.extend(identity(&key).into_iter().map(|(name, value)| (name.to_owned(), value)));
        rollup.extend(counters(&counts).into_iter().map(|(name, value)| (name, n(value))));
        Self { webhook_index: units_of(&index_entry(&created, ["GSI2PK", "GSI2SK"])), rollup: units_of(&rollup) }
    }
}

/// The load of `DELIVERIES` at `RATE`, each event fanned out to all `webhooks`.
fn load(webhooks: &[WebhookId]) -> Load {
    let start = DateTime::from_timestamp(1_796_000_000, 0).unwrap_or_default();
    let units = DeliveryUnits::measure(start);
    let fan_out = webhooks.len() as u64;
    let (mut load, mut rollup_turn, mut in_batch) = (Load::default(), 0u32, 0u64);
    for number in 0..DELIVERIES / fan_out {
        let second = number * fan_out / RATE;
        let at = start + Duration::milliseconds(i64::try_from(number * fan_out * 1_000 / RATE).unwrap_or(0));
        let event = EventId::generate(u64::try_from(at.timestamp_millis()).unwrap_or(0));
        for webhook in webhooks {
            let of_webhook = index_partition(&Delivery::new(event.clone(), webhook.clone(), "", at));
            load.add(of_webhook, second, units.webhook_index);
            in_batch += 1;
            if in_batch == BATCH {
                in_batch = 0;
                // The minute rollup only: `maintain` folds the hours from the minutes.
                let key = RollupKey { level: Level::Minute, start: at, webhook_id: webhook.clone(), event_type: "customer.created".into() };
                let partition = item_key(&key, rollup_turn).remove("PK").and_then(|pk| pk.as_s().ok().cloned());
                load.add(partition.unwrap_or_default(), second, units.rollup);
                rollup_turn += 1;
            }
        }
    }
    load
}

fn assert_no_hot_key(fan_out: u64) {
    let webhooks: Vec<WebhookId> = (0..fan_out).map(WebhookId::generate).collect();
    let load = load(&webhooks);
    let (key, second, units) = load.hottest().unwrap_or_default();
    assert!(units <= LIMIT, "fan-out {fan_out}: {key} takes {units} write units in second {second}");
    // Without the shards, one webhook's partition would take far more than a partition can: at
    // a fan-out of one, every delivery of a second writes an entry there, about ten times what a
    // partition takes (a third of that at three).
    let first = webhook_partition(webhooks[0].as_str());
    assert!(load.unsharded(&first, 1) >= 9 * LIMIT / fan_out, "the model counts the webhook partition's writes");
    let per = DeliveryUnits::measure(DateTime::from_timestamp(1_796_000_000, 0).unwrap_or_default());
    eprintln!(
        "fan-out {fan_out}: hottest key {key}: {units} write units in second {second} (entry units: webhook index {}, rollup {})",
        per.webhook_index, per.rollup
    );
}

#[test]
fn no_key_takes_more_than_a_partition_at_ten_thousand_deliveries_a_second_to_one_webhook() {
    assert_no_hot_key(1);
}

#[test]
fn no_key_takes_more_than_a_partition_at_ten_thousand_deliveries_a_second_fanned_out_to_three() {
    assert_no_hot_key(3);
}
