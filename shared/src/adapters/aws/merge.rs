//! Reading sharded index partitions as one: each shard is queried newest first, a few entries at
//! a time, and the shards' heads are merged by sort key, so the entries come out newest first
//! across all of them. A shard is queried again only when its buffer runs dry, and the shards
//! that need it are queried together (`CONCURRENT_QUERIES` at a time), so a page of a few
//! hundred shards usually costs one round trip. The indexes hold keys only: the merge gives
//! entries, and the caller reads the items of those it uses (`reads::items_of`).

use std::collections::VecDeque;

use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::StreamExt;
use futures_util::stream;

use super::item::{Item, s};
use super::{Dynamo, store_error};
use crate::ports::StoreError;

/// Queries of one merge in flight at once: a walk of every webhook's shards may have thousands.
const CONCURRENT_QUERIES: usize = 64;

/// One index and the key range a merge reads from each of its partitions.
pub struct Range<'a> {
    pub index: &'static str,
    pub keys: [&'static str; 2],
    /// Only sort keys at or after this.
    pub from: Option<&'a str>,
    /// Only sort keys strictly before this (where a previous page stopped).
    pub below: Option<&'a str>,
}

struct Shard {
    partition: String,
    buffered: VecDeque<Item>,
    start: Option<Item>,
    done: bool,
}

pub struct Merge<'a> {
    db: &'a Dynamo,
    range: Range<'a>,
    shards: Vec<Shard>,
    /// Items asked of a shard per query.
    fetch: i32,
}

impl<'a> Merge<'a> {
    /// A merge of `partitions` expected to be read for about `wanted` items.
    pub fn new(db: &'a Dynamo, range: Range<'a>, partitions: &[String], wanted: usize) -> Self {
        let shards = partitions
            .iter()
            .map(|partition| Shard { partition: partition.clone(), buffered: VecDeque::new(), start: None, done: false })
            .collect();
        let share = (2 * wanted).div_ceil(partitions.len().max(1)) + 2;
        let done = matches!((range.from, range.below), (Some(from), Some(below)) if below <= from);
        let mut merge = Self { db, range, shards, fetch: i32::try_from(share.min(1_000)).unwrap_or(1_000) };
        if done {
            merge.shards.clear();
        }
        merge
    }

    /// The newest entry not yet given, of all the shards.
    pub async fn next(&mut self) -> Result<Option<Item>, StoreError> {
        self.refill().await?;
        let sort = self.range.keys[1];
        let newest = self
            .shards
            .iter()
            .enumerate()
            .filter_map(|(at, shard)| Some((sort_key(shard.buffered.front()?, sort), at)))
            .max()
            .map(|(_, at)| at);
        Ok(newest.and_then(|at| self.shards[at].buffered.pop_front()))
    }

    /// Up to `count` entries, newest first.
    pub async fn take(&mut self, count: usize) -> Result<Vec<Item>, StoreError> {
        let mut taken = Vec::with_capacity(count);
        while taken.len() < count {
            match self.next().await? {
                Some(entry) => taken.push(entry),
                None => break,
            }
        }
        Ok(taken)
    }

    /// Queries every shard whose buffer is empty and that has more, until each has an item or
    /// is exhausted.
    async fn refill(&mut self) -> Result<(), StoreError> {
        loop {
            let dry: Vec<usize> =
                (0..self.shards.len()).filter(|&at| self.shards[at].buffered.is_empty() && !self.shards[at].done).collect();
            if dry.is_empty() {
                return Ok(());
            }
            // Collected first: a stream over a closure is not `Send` in an `async_trait` method.
            let queries: Vec<_> = dry.iter().map(|&at| self.query(&self.shards[at].partition, self.shards[at].start.clone())).collect();
            let answers: Vec<_> = stream::iter(queries).buffered(CONCURRENT_QUERIES).collect().await;
            for (at, answer) in dry.into_iter().zip(answers) {
                let (items, next) = answer?;
                let shard = &mut self.shards[at];
                let below = self.range.below;
                let sort = self.range.keys[1];
                shard.buffered.extend(items.into_iter().filter(|item| below.is_none_or(|below| sort_key(item, sort) < below)));
                shard.done = next.is_none();
                shard.start = next;
            }
        }
    }

    /// One query of one partition, newest first, from `start`.
    async fn query(&self, partition: &str, start: Option<Item>) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let [pk, sk] = self.range.keys;
        let mut values = Item::from([(":pk".to_owned(), s(partition))]);
        let condition = match (self.range.from, self.range.below) {
            (Some(from), Some(below)) => {
                values.insert(":from".into(), s(from));
                values.insert(":below".into(), s(below));
                // BETWEEN includes `below`; `refill` drops it.
                format!("{pk} = :pk AND {sk} BETWEEN :from AND :below")
            }
            (Some(from), None) => {
                values.insert(":from".into(), s(from));
                format!("{pk} = :pk AND {sk} >= :from")
            }
            (None, Some(below)) => {
                values.insert(":below".into(), s(below));
                format!("{pk} = :pk AND {sk} < :below")
            }
            (None, None) => format!("{pk} = :pk"),
        };
        let output = self
            .db
            .client
            .query()
            .table_name(&*self.db.table)
            .index_name(self.range.index)
            .scan_index_forward(false)
            .key_condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .set_exclusive_start_key(start)
            .limit(self.fetch)
            .send()
            .await
            .map_err(store_error)?;
        Ok((output.items().to_vec(), output.last_evaluated_key().cloned()))
    }
}

/// An entry's (or item's) sort key in the index (empty if it has none, so it sorts last).
pub fn sort_key<'i>(item: &'i Item, name: &str) -> &'i str {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value,
        _ => "",
    }
}
