//! Per-caller rate limits: one token bucket per API key and per token subject.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::rate_limit::{Rate, TokenBucket};

/// Buckets are forgotten once full again, checked whenever the table grows past this.
const PRUNE_ABOVE: usize = 10_000;

pub struct RateLimiter {
    rate: Rate,
    origin: Instant,
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

impl RateLimiter {
    pub fn new(rate: Rate) -> Self {
        Self { rate, origin: Instant::now(), buckets: Mutex::new(HashMap::new()) }
    }

    /// Counts one request by `caller`; `Err` carries how long to wait.
    pub fn check(&self, caller: &str) -> Result<(), Duration> {
        let now = self.origin.elapsed().as_secs_f64();
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, bucket| !bucket.is_full(self.rate, now));
        }
        buckets.entry(caller.to_owned()).or_insert_with(|| TokenBucket::new(self.rate, now)).take(self.rate, now)
    }
}
