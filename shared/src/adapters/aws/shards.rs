//! Spreading the partition keys that every delivery or event writes (a webhook's partition of
//! the delivery index, the metrics rollups; the events earlier versions had not fanned out
//! yet) over `SHARDS` partitions, so that none takes more than DynamoDB's 1,000 write units a second at
//! 10,000 deliveries a second (`hot_keys` below shows it). A writer picks the shard from the
//! item's own id; a reader queries every shard, plus the unsharded key written before sharding,
//! and merges.

/// How many partitions the delivery index's keys (by webhook) and the metrics rollups are
/// spread over. Fixed once deployed: a reader finds only the shards below it. 32 keeps the
/// busiest shard under three quarters of the partition limit at 10,000 deliveries a second
/// (see `hot_keys`) while a listing's scatter stays one round trip of 33 queries.
pub const SHARDS: u32 = 32;

/// How many partitions the events not yet fanned out were spread over by the versions that
/// fanned out inline (every event wrote its whole item there and deleted it again); read until
/// they are marked.
pub const UNFANNED_SHARDS: u32 = 128;

/// A stable shard of `shards` for `id` (FNV-1a, so every process and version agrees).
pub fn shard_of(id: &str, shards: u32) -> u32 {
    let hash = id.bytes().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193));
    hash % shards
}

/// The key `base` for the item `id`, spread over `shards`: `<base>#<shard, two digits or more>`.
pub fn sharded(base: &str, id: &str, shards: u32) -> String {
    shard_key(base, shard_of(id, shards))
}

pub fn shard_key(base: &str, shard: u32) -> String {
    format!("{base}#{shard:02}")
}

/// Every key a reader of `base` spread over `shards` queries: each shard, then `base` itself
/// (items written before the key was sharded).
pub fn every_shard(base: &str, shards: u32) -> Vec<String> {
    (0..shards).map(|shard| shard_key(base, shard)).chain(std::iter::once(base.to_owned())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_every_one_is_read() {
        assert_eq!(sharded("WHD#wh_1", "dlv_01abc", SHARDS), sharded("WHD#wh_1", "dlv_01abc", SHARDS));
        let keys = every_shard("UNFANNED", UNFANNED_SHARDS);
        assert_eq!(keys.len(), UNFANNED_SHARDS as usize + 1);
        assert!(keys.contains(&sharded("UNFANNED", "evt_1", UNFANNED_SHARDS)));
        assert!(keys.contains(&"UNFANNED".to_owned()));
    }

    #[test]
    fn time_ordered_ids_spread_evenly() {
        let mut counts = vec![0u32; SHARDS as usize];
        for n in 0..32_000u32 {
            counts[shard_of(&format!("dlv_01JX{n:08}"), SHARDS) as usize] += 1;
        }
        let (least, most) = (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
        assert!(least > 800 && most < 1_200, "shard sizes {least}..{most} for 1,000 each");
    }
}
