//! Latency histograms with fixed log-scale buckets (1–2–5 per decade, 1 ms to 1,000,000 s),
//! so percentiles come from counts per bucket and rollups of any size merge by addition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Upper bounds (inclusive, milliseconds) of every bucket but the last, which is open.
pub const BOUNDS_MS: [u64; 28] = [
    1,
    2,
    5,
    10,
    20,
    50,
    100,
    200,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
];

/// How many buckets there are: one per bound and the open one above the last.
pub const BUCKETS: usize = BOUNDS_MS.len() + 1;

/// The bucket a value falls in.
pub fn bucket_of(value_ms: u64) -> usize {
    BOUNDS_MS.partition_point(|bound| *bound < value_ms)
}

/// Counts per bucket (only the buckets used), and the sum for the average.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    #[serde(rename = "n", default, skip_serializing_if = "is_zero")]
    pub count: u64,
    #[serde(rename = "sum", default, skip_serializing_if = "is_zero")]
    pub sum_ms: u64,
    /// Bucket index → count.
    #[serde(rename = "b", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub buckets: BTreeMap<usize, u64>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// A histogram's summary: `None` figures while it is empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Latency {
    pub count: u64,
    pub avg_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl Histogram {
    pub fn observe(&mut self, value_ms: u64) {
        self.count += 1;
        self.sum_ms = self.sum_ms.saturating_add(value_ms);
        *self.buckets.entry(bucket_of(value_ms)).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.sum_ms = self.sum_ms.saturating_add(other.sum_ms);
        for (bucket, count) in &other.buckets {
            *self.buckets.entry(*bucket).or_default() += count;
        }
    }

    /// Quantile `q` by nearest rank, placed linearly inside its bucket: never further from the
    /// exact value than the bucket's width (the open bucket answers its lower bound).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let rank = ((self.count.checked_sub(1)? as f64) * q).round() as u64;
        let mut below = 0;
        for (&bucket, &count) in &self.buckets {
            if rank < below + count {
                let (low, high) = bucket_range(bucket);
                let Some(high) = high else { return Some(low as f64) };
                let within = (rank - below) as f64 + 0.5;
                return Some(low as f64 + (high - low) as f64 * within / count as f64);
            }
            below += count;
        }
        None
    }

    pub fn latency(&self) -> Latency {
        Latency {
            count: self.count,
            avg_ms: (self.count > 0).then(|| self.sum_ms as f64 / self.count as f64),
            p50_ms: self.quantile(0.50),
            p95_ms: self.quantile(0.95),
            p99_ms: self.quantile(0.99),
        }
    }
}

/// A bucket's lower bound and upper bound (`None` for the open one).
pub fn bucket_range(bucket: usize) -> (u64, Option<u64>) {
    let low = bucket.checked_sub(1).map_or(0, |below| BOUNDS_MS[below.min(BOUNDS_MS.len() - 1)]);
    (low, BOUNDS_MS.get(bucket).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fall_in_the_bucket_whose_upper_bound_holds_them() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(2), 1);
        assert_eq!(bucket_of(3), 2);
        assert_eq!(bucket_of(1_000), 9);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_stay_within_their_bucket() {
        let mut histogram = Histogram::default();
        (1..=1000).for_each(|ms| histogram.observe(ms));
        for q in [0.5_f64, 0.95, 0.99] {
            let exact = (999.0 * q).round() as u64 + 1;
            let estimate = histogram.quantile(q).unwrap_or_default();
            let (low, high) = bucket_range(bucket_of(exact));
            assert!(estimate >= low as f64 && estimate <= high.unwrap_or(u64::MAX) as f64, "{q}: {estimate} vs {exact}");
        }
        assert_eq!(histogram.latency().avg_ms, Some(500.5));
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn merged_histograms_add_up() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.observe(3);
        b.observe(3);
        b.observe(40_000);
        a.merge(&b);
        assert_eq!((a.count, a.sum_ms, a.buckets.get(&2).copied()), (3, 40_006, Some(2)));
    }

    #[test]
    fn the_open_bucket_answers_its_lower_bound() {
        let mut histogram = Histogram::default();
        histogram.observe(u64::MAX);
        assert_eq!(histogram.quantile(0.99), Some(1_000_000_000.0));
    }
}
