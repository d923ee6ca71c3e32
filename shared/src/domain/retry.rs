//! Retry policy: how many attempts a delivery gets and how long to wait between them.
//! `next_delay` is pure: the caller passes the random jitter draw, so tests can pin it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Invalid;

/// The longest wait Hookline will schedule between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);
/// A receiver's `Retry-After` may stretch a wait up to this, never beyond.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// `base × factor^(n-1)`, capped at `max_delay`.
    Exponential { base_delay_secs: f64, factor: f64, max_delay_secs: f64 },
    /// The wait before attempt n+1 is `delays_secs[n-1]`; the last entry repeats.
    Explicit { delays_secs: Vec<f64> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub schedule: Schedule,
    /// Each wait is spread by up to ± this fraction, so retries from one outage do not arrive together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// The seed's policy: 3 attempts with exponential backoff (about 10 s, then 50 s) and ±20 % jitter.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            schedule: Schedule::Exponential { base_delay_secs: 10.0, factor: 5.0, max_delay_secs: 3600.0 },
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// Svix's schedule: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts over ~27.5 h).
    pub fn svix() -> Self {
        let delays_secs = vec![5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0];
        Self { max_attempts: 8, schedule: Schedule::Explicit { delays_secs }, jitter: 0.2 }
    }

    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "default" => Some(Self::default()),
            "svix" => Some(Self::svix()),
            _ => None,
        }
    }

    /// The wait before the attempt after `attempt` (1-based), before jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let secs = match &self.schedule {
            Schedule::Exponential { base_delay_secs, factor, max_delay_secs } => {
                let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
                (base_delay_secs * factor.powi(exponent)).min(*max_delay_secs)
            }
            Schedule::Explicit { delays_secs } => {
                let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
                delays_secs.get(index).or(delays_secs.last()).copied().unwrap_or(0.0)
            }
        };
        Duration::from_secs_f64(secs.clamp(0.0, MAX_DELAY.as_secs_f64()))
    }

    /// The wait after a failed `attempt`. `draw` is uniform in [-1, 1]; `retry_after`
    /// (from a 429 or 503) can lengthen the wait up to [`MAX_RETRY_AFTER`], never shorten it.
    pub fn next_delay(&self, attempt: u32, draw: f64, retry_after: Option<Duration>) -> Duration {
        let base = self.base_delay(attempt).as_secs_f64();
        let jittered = Duration::from_secs_f64((base * (1.0 + self.jitter * draw.clamp(-1.0, 1.0))).max(0.0));
        match retry_after {
            Some(asked) => asked.clamp(jittered, MAX_RETRY_AFTER.max(jittered)),
            None => jittered,
        }
    }

    pub fn has_attempts_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    pub fn validate(&self) -> Result<(), Invalid> {
        let field = |name: &str| format!("retry_policy.{name}");
        if !(1..=50).contains(&self.max_attempts) {
            return Err(Invalid::new(field("max_attempts"), "must be between 1 and 50"));
        }
        if !(0.0..=0.5).contains(&self.jitter) {
            return Err(Invalid::new(field("jitter"), "must be between 0 and 0.5"));
        }
        let max = MAX_DELAY.as_secs_f64();
        let in_range = |secs: f64| (0.0..=max).contains(&secs);
        match &self.schedule {
            Schedule::Exponential { base_delay_secs, factor, max_delay_secs } => {
                if !in_range(*base_delay_secs) || !in_range(*max_delay_secs) {
                    return Err(Invalid::new(field("schedule"), "delays must be between 0 and 7 days"));
                }
                if !(1.0..=10.0).contains(factor) {
                    return Err(Invalid::new(field("schedule.factor"), "must be between 1 and 10"));
                }
            }
            Schedule::Explicit { delays_secs } => {
                if delays_secs.is_empty() || delays_secs.len() > 50 || !delays_secs.iter().all(|d| in_range(*d)) {
                    return Err(Invalid::new(field("schedule.delays_secs"), "must list 1 to 50 delays between 0 and 7 days"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn the_default_policy_is_three_attempts_with_exponential_backoff() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.max_attempts, 3);
        assert_eq!(secs(policy.base_delay(1)), 10.0);
        assert_eq!(secs(policy.base_delay(2)), 50.0);
        assert!(policy.has_attempts_after(2));
        assert!(!policy.has_attempts_after(3));
    }

    #[test]
    fn exponential_delays_stop_at_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 20,
            schedule: Schedule::Exponential { base_delay_secs: 1.0, factor: 2.0, max_delay_secs: 60.0 },
            jitter: 0.0,
        };
        let delays: Vec<f64> = (1..=8).map(|n| secs(policy.base_delay(n))).collect();
        assert_eq!(delays, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]);
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let policy = RetryPolicy::default();
        for step in 0..=20 {
            let draw = -1.0 + f64::from(step) * 0.1;
            let delay = secs(policy.next_delay(1, draw, None));
            assert!((8.0..=12.0).contains(&delay), "{delay} outside 10 s ± 20 %");
        }
        assert_eq!(secs(policy.next_delay(1, -1.0, None)), 8.0);
        assert_eq!(secs(policy.next_delay(1, 1.0, None)), 12.0);
        assert_eq!(secs(policy.next_delay(1, 7.0, None)), 12.0);
    }

    #[test]
    fn the_svix_preset_repeats_its_last_step() {
        let policy = RetryPolicy::preset("svix").unwrap();
        assert_eq!(policy.max_attempts, 8);
        assert_eq!(secs(policy.base_delay(1)), 5.0);
        assert_eq!(secs(policy.base_delay(7)), 36000.0);
        assert_eq!(secs(policy.base_delay(30)), 36000.0);
        let total: f64 = (1..8).map(|n| secs(policy.base_delay(n))).sum();
        assert!((total / 3600.0 - 27.5).abs() < 0.1);
    }

    #[test]
    fn retry_after_lengthens_within_bounds_but_never_shortens() {
        let policy = RetryPolicy { jitter: 0.0, ..RetryPolicy::default() };
        assert_eq!(secs(policy.next_delay(1, 0.0, Some(Duration::from_secs(30)))), 30.0);
        assert_eq!(secs(policy.next_delay(1, 0.0, Some(Duration::from_secs(1)))), 10.0);
        assert_eq!(policy.next_delay(1, 0.0, Some(Duration::from_secs(86_400))), MAX_RETRY_AFTER);
    }

    #[test]
    fn out_of_range_policies_are_refused() {
        let bad_attempts = RetryPolicy { max_attempts: 0, ..RetryPolicy::default() };
        assert_eq!(bad_attempts.validate().unwrap_err().field, "retry_policy.max_attempts");
        let bad_jitter = RetryPolicy { jitter: 0.9, ..RetryPolicy::default() };
        assert_eq!(bad_jitter.validate().unwrap_err().field, "retry_policy.jitter");
        let bad_schedule = RetryPolicy { schedule: Schedule::Explicit { delays_secs: vec![-1.0] }, ..RetryPolicy::default() };
        assert!(bad_schedule.validate().is_err());
        assert!(RetryPolicy::svix().validate().is_ok());
    }
}
