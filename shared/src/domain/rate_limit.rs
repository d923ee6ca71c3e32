//! Rate limits, pure (the caller passes the time): a token bucket for API callers (up to
//! `burst` requests at once, refilled at `per_second`), and slot reservations for deliveries to
//! a webhook (one every `interval`, each reserved ahead by whoever is about to send).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    updated_at: f64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: Rate, now: f64) -> Self {
        Self { tokens: rate.burst, updated_at: now }
    }

    /// Takes one token, or says how long until one is available.
    pub fn take(&mut self, rate: Rate, now: f64) -> Result<(), Duration> {
        let elapsed = (now - self.updated_at).max(0.0);
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.updated_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - self.tokens;
        Err(Duration::from_secs_f64(if rate.per_second > 0.0 { missing / rate.per_second } else { f64::MAX.min(86_400.0) }))
    }

    /// Full again: nothing is lost by forgetting this bucket.
    pub fn is_full(&self, rate: Rate, now: f64) -> bool {
        self.tokens + (now - self.updated_at).max(0.0) * rate.per_second >= rate.burst
    }
}

/// The answer to a slot reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Send at this time (now, or a moment later): the slot is taken.
    At(i64),
    /// Every slot within the horizon is taken: come back in this long.
    Full(Duration),
}

/// A duration in whole milliseconds, as slots are counted.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Reserves the next slot of a webhook whose slots are `interval_ms` apart, given the time the
/// next free slot starts (`next_free`, `None` if never used), `now`, and how far ahead a
/// reservation may be (`horizon_ms`). Times are milliseconds. Returns the answer and the new
/// `next_free` (unchanged when full). This is GCRA without bursts: sends are never closer
/// together than the interval.
pub fn reserve(next_free: Option<i64>, now: i64, interval_ms: i64, horizon_ms: i64) -> (Reservation, Option<i64>) {
    let slot = next_free.map_or(now, |free| free.max(now));
    if slot - now > horizon_ms {
        let wait = u64::try_from(slot - now - horizon_ms).unwrap_or(0).max(1);
        return (Reservation::Full(Duration::from_millis(wait)), next_free);
    }
    (Reservation::At(slot), Some(slot + interval_ms.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate { per_second: 2.0, burst: 3.0 };

    #[test]
    fn a_burst_is_allowed_then_refused_with_the_wait_until_the_next_token() {
        let mut bucket = TokenBucket::new(RATE, 0.0);
        assert!(bucket.take(RATE, 0.0).is_ok());
        assert!(bucket.take(RATE, 0.0).is_ok());
        assert!(bucket.take(RATE, 0.0).is_ok());
        assert_eq!(bucket.take(RATE, 0.0), Err(Duration::from_millis(500)));
    }

    #[test]
    fn reservations_are_one_interval_apart_and_full_beyond_the_horizon() {
        let (first, next) = reserve(None, 1_000, 50, 200);
        assert_eq!((first, next), (Reservation::At(1_000), Some(1_050)));
        let (second, next) = reserve(next, 1_010, 50, 200);
        assert_eq!(second, Reservation::At(1_050), "the next slot, not now");
        let mut next = next;
        for _ in 0..3 {
            next = reserve(next, 1_010, 50, 200).1;
        }
        assert_eq!(next, Some(1_250));
        let (full, unchanged) = reserve(next, 1_010, 50, 200);
        assert_eq!((full, unchanged), (Reservation::Full(Duration::from_millis(40)), Some(1_250)));
        assert_eq!(reserve(next, 5_000, 50, 200).0, Reservation::At(5_000), "idle time is not saved up");
    }

    #[test]
    fn the_bucket_refills_at_the_rate_up_to_the_burst() {
        let mut bucket = TokenBucket::new(RATE, 0.0);
        for _ in 0..3 {
            bucket.take(RATE, 0.0).unwrap();
        }
        assert!(bucket.take(RATE, 0.5).is_ok(), "one token after half a second");
        assert!(bucket.take(RATE, 0.5).is_err());
        assert!(bucket.is_full(RATE, 10.0));
        for _ in 0..3 {
            assert!(bucket.take(RATE, 10.0).is_ok());
        }
        assert!(bucket.take(RATE, 10.0).is_err(), "never more than the burst");
    }
}
