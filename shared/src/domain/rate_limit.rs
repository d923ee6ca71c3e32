//! A token bucket: up to `burst` requests at once, refilled at `per_second`. Pure: the
//! caller passes the time, in seconds from any fixed origin.

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
