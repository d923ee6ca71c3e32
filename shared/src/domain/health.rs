//! A webhook's health: its state (active, paused, failing, disabled), its current failure
//! streak, and the pure rules that move it between states.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether Hookline attempts a webhook's deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookState {
    /// Deliveries are attempted.
    Active,
    /// Its owner paused it: deliveries are held until it is resumed.
    Paused,
    /// The receiver kept failing: deliveries are held, and a probe is sent on a backoff; the
    /// first success makes it active again and releases what was held.
    Failing,
    /// It answered 410, or failed for too long: deliveries are held until someone enables it.
    Disabled,
}

impl WebhookState {
    pub const ALL: [Self; 4] = [Self::Active, Self::Paused, Self::Failing, Self::Disabled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Failing => "failing",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == raw)
    }
}

/// What the recent attempts say about a receiver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Health {
    /// Failed attempts since the last success.
    pub failure_streak: u32,
    /// When the first failure of the current streak happened.
    pub streak_started_at: Option<DateTime<Utc>>,
    /// Kept to the minute: a success within a minute of the last one recorded is not written.
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// While failing: when the next probe is due, and the wait after it if it fails too.
    pub next_probe_at: Option<DateTime<Utc>>,
    pub probe_interval_secs: u64,
    /// While held deliveries are being released: the time slot the next one gets.
    pub release_next_at: Option<DateTime<Utc>>,
    /// Events its content filter or transformation failed on (not delivered), ever.
    pub expression_errors: u64,
    /// Why one last failed (`filter: …` or `transform: …`), and when.
    pub last_expression_error: Option<String>,
    pub last_expression_error_at: Option<DateTime<Utc>>,
}

/// How often a success is written when nothing else changed.
pub const SUCCESS_RECORDED_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// A change to a webhook's health, as a store applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthChange {
    /// An attempt (or probe) succeeded: the streak ends.
    Success,
    /// An attempt failed: the streak grows.
    Failure { error: String },
    /// A probe is due at `at`; if it fails the one after waits `interval`.
    ProbeAt { at: DateTime<Utc>, interval: Duration },
    /// Probing stops (the webhook left the failing state).
    NoProbe,
    /// Held deliveries are released from the slot `next_at` on; `None` when none are left.
    Releasing { next_at: Option<DateTime<Utc>> },
    /// The filter or transformation failed on `count` events (not delivered), the last time
    /// for `error`.
    ExpressionErrors { count: u64, error: String },
    /// Held deliveries are to be released from `from` on, unless a release is already under
    /// way (which then goes on from where it is).
    Release { from: DateTime<Utc> },
}

/// The deployment's rules for failing, probing, disabling and recovering.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthPolicy {
    /// A webhook fails after this many consecutive failed attempts…
    pub failing_after: u32,
    /// …the first of which is at least this old.
    pub failing_min: Duration,
    /// The first probe's wait; each failed probe doubles it, up to `probe_max`.
    pub probe_interval: Duration,
    pub probe_max: Duration,
    /// A webhook failing this long is disabled.
    pub disable_after: Duration,
    /// Held deliveries are released at no more than this many per second.
    pub recovery_rate: f64,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            failing_after: 10,
            failing_min: Duration::from_secs(300),
            probe_interval: Duration::from_secs(60),
            probe_max: Duration::from_secs(3600),
            disable_after: Duration::from_secs(3 * 86_400),
            recovery_rate: 10.0,
        }
    }
}

impl HealthPolicy {
    /// The streak is long and old enough to stop attempting.
    pub fn is_failing(&self, health: &Health, now: DateTime<Utc>) -> bool {
        let old_enough = health.streak_started_at.is_some_and(|first| elapsed(first, now) >= self.failing_min);
        self.failing_after > 0 && health.failure_streak >= self.failing_after && old_enough
    }

    /// The wait after a probe that waited `interval` fails: doubled, at most `probe_max`.
    pub fn next_probe_interval(&self, interval: Duration) -> Duration {
        interval.saturating_mul(2).clamp(self.probe_interval, self.probe_max.max(self.probe_interval))
    }

    /// Failing since `since`, long enough to give up probing.
    pub fn should_disable(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        elapsed(since, now) >= self.disable_after
    }

    /// The spacing of released deliveries: the recovery rate, or the webhook's own limit if lower.
    pub fn release_interval(&self, webhook_rate: Option<f64>) -> Duration {
        let rate = webhook_rate.map_or(self.recovery_rate, |own| own.min(self.recovery_rate));
        if rate > 0.0 { Duration::from_secs_f64(1.0 / rate) } else { Duration::ZERO }
    }
}

impl Health {
    /// Whether recording this success changes anything worth a write.
    pub fn success_worth_recording(&self, now: DateTime<Utc>) -> bool {
        self.failure_streak > 0 || self.last_success_at.is_none_or(|last| now - last >= SUCCESS_RECORDED_EVERY)
    }

    /// `change` applied at `now`: what every store computes, in memory or in its update.
    pub fn apply(&mut self, change: &HealthChange, now: DateTime<Utc>) {
        match change {
            HealthChange::Success => {
                self.failure_streak = 0;
                self.streak_started_at = None;
                self.last_success_at = Some(now);
            }
            HealthChange::Failure { error } => {
                self.failure_streak = self.failure_streak.saturating_add(1);
                self.streak_started_at.get_or_insert(now);
                self.last_failure_at = Some(now);
                self.last_error = Some(error.clone());
            }
            HealthChange::ProbeAt { at, interval } => {
                self.next_probe_at = Some(*at);
                self.probe_interval_secs = interval.as_secs();
            }
            HealthChange::NoProbe => {
                self.next_probe_at = None;
                self.probe_interval_secs = 0;
            }
            HealthChange::Releasing { next_at } => self.release_next_at = *next_at,
            HealthChange::ExpressionErrors { count, error } => {
                self.expression_errors = self.expression_errors.saturating_add(*count);
                self.last_expression_error = Some(error.clone());
                self.last_expression_error_at = Some(now);
            }
            HealthChange::Release { from } => {
                self.release_next_at.get_or_insert(*from);
            }
        }
    }
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap_or_default()
    }

    fn failed(times: &[i64]) -> Health {
        let mut health = Health::default();
        for t in times {
            health.apply(&HealthChange::Failure { error: "HTTP 503".into() }, at(*t));
        }
        health
    }

    #[test]
    fn a_webhook_fails_only_after_enough_failures_spread_over_enough_time() {
        let policy = HealthPolicy::default();
        let ten_quick = failed(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(!policy.is_failing(&ten_quick, at(9)), "ten failures within seconds are a blip");
        assert!(policy.is_failing(&ten_quick, at(300)), "the first of them is five minutes old");
        assert!(!policy.is_failing(&failed(&[0, 100, 400]), at(400)), "three are not ten");
    }

    #[test]
    fn a_success_ends_the_streak() {
        let mut health = failed(&[0, 1, 2]);
        health.apply(&HealthChange::Success, at(5));
        assert_eq!((health.failure_streak, health.streak_started_at, health.last_success_at), (0, None, Some(at(5))));
        assert_eq!(health.last_failure_at, Some(at(2)), "the last failure stays on record");
    }

    #[test]
    fn successes_are_written_when_they_end_a_streak_or_once_a_minute() {
        let mut health = Health::default();
        assert!(health.success_worth_recording(at(0)));
        health.apply(&HealthChange::Success, at(0));
        assert!(!health.success_worth_recording(at(30)));
        assert!(health.success_worth_recording(at(60)));
        health.apply(&HealthChange::Failure { error: "timeout".into() }, at(31));
        assert!(health.success_worth_recording(at(32)));
    }

    #[test]
    fn filter_failures_add_up_and_keep_the_last_reason_without_touching_the_streak() {
        let mut health = Health::default();
        health.apply(&HealthChange::ExpressionErrors { count: 2, error: "No such key: site_id".into() }, at(1));
        health.apply(&HealthChange::ExpressionErrors { count: 1, error: "No such key: reason".into() }, at(2));
        assert_eq!(health.expression_errors, 3);
        assert_eq!((health.last_expression_error.as_deref(), health.last_expression_error_at), (Some("No such key: reason"), Some(at(2))));
        assert_eq!(health.failure_streak, 0, "a filter failure is not a delivery failure");
    }

    #[test]
    fn probes_back_off_by_doubling_up_to_the_maximum() {
        let policy = HealthPolicy::default();
        assert_eq!(policy.next_probe_interval(Duration::from_secs(60)), Duration::from_secs(120));
        assert_eq!(policy.next_probe_interval(Duration::from_secs(3000)), Duration::from_secs(3600));
        assert_eq!(policy.next_probe_interval(Duration::ZERO), Duration::from_secs(60), "never below the first wait");
    }

    #[test]
    fn release_is_spaced_by_the_lower_of_the_recovery_rate_and_the_webhooks_limit() {
        let policy = HealthPolicy::default();
        assert_eq!(policy.release_interval(None), Duration::from_millis(100));
        assert_eq!(policy.release_interval(Some(2.0)), Duration::from_millis(500));
        assert_eq!(policy.release_interval(Some(50.0)), Duration::from_millis(100));
    }

    #[test]
    fn asking_for_a_release_keeps_one_under_way_where_it_is() {
        let mut health = Health::default();
        health.apply(&HealthChange::Release { from: at(0) }, at(0));
        health.apply(&HealthChange::Releasing { next_at: Some(at(30)) }, at(1));
        health.apply(&HealthChange::Release { from: at(2) }, at(2));
        assert_eq!(health.release_next_at, Some(at(30)));
    }

    #[test]
    fn states_round_trip() {
        for state in WebhookState::ALL {
            assert_eq!(WebhookState::parse(state.as_str()), Some(state));
        }
    }

    #[test]
    fn a_webhook_failing_for_three_days_is_disabled() {
        let policy = HealthPolicy::default();
        assert!(!policy.should_disable(at(0), at(3 * 86_400 - 1)));
        assert!(policy.should_disable(at(0), at(3 * 86_400)));
    }
}
