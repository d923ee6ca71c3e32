//! How long records are kept: a default period, longer or shorter ones per event type
//! (`auth.*=7`, `invoice.*=365`), and dead deliveries kept for review until someone
//! acknowledges or replays them, at most `dead` after their creation.

use chrono::Duration;

use super::Invalid;
use super::delivery::DeliveryStatus;
use super::filter::EventPattern;

#[derive(Debug, Clone, PartialEq)]
pub struct RetentionPolicy {
    pub default: Duration,
    /// The most specific matching pattern wins (an exact type over a prefix, a longer prefix
    /// over a shorter one).
    pub by_type: Vec<(EventPattern, Duration)>,
    /// The hard limit for an unacknowledged dead delivery (and its event).
    pub dead: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self { default: Duration::days(30), by_type: Vec::new(), dead: Duration::days(90) }
    }
}

impl RetentionPolicy {
    /// How long events of `event_type` and their deliveries are kept.
    pub fn for_type(&self, event_type: &str) -> Duration {
        self.by_type
            .iter()
            .filter(|(pattern, _)| pattern.matches(event_type))
            .max_by_key(|(pattern, _)| specificity(pattern))
            .map_or(self.default, |(_, days)| *days)
    }

    /// How long a delivery is kept after its creation: an unacknowledged dead one waits for
    /// review for `dead`, anything else follows its type.
    pub fn for_delivery(&self, event_type: &str, status: DeliveryStatus, acknowledged: bool) -> Duration {
        if status == DeliveryStatus::Dead && !acknowledged { self.dead } else { self.for_type(event_type) }
    }

    /// The longest anything is kept.
    pub fn longest(&self) -> Duration {
        self.by_type.iter().map(|(_, days)| *days).chain([self.default, self.dead]).max().unwrap_or(self.default)
    }

    /// Parses `PATTERN=DAYS` (`auth.*=7`), as given to `--retention`.
    pub fn parse_rule(raw: &str) -> Result<(EventPattern, Duration), Invalid> {
        let field = "retention";
        let (pattern, days) = raw.split_once('=').ok_or_else(|| Invalid::new(field, format!("'{raw}' is not PATTERN=DAYS")))?;
        let pattern = EventPattern::parse(pattern.trim(), field)?;
        let days: f64 = days.trim().parse().map_err(|_| Invalid::new(field, format!("'{raw}': the days are not a number")))?;
        if !(days.is_finite() && days > 0.0 && days <= 3650.0) {
            return Err(Invalid::new(field, format!("'{raw}': between 0 and 3650 days")));
        }
        Ok((pattern, days_to_duration(days)))
    }
}

pub fn days_to_duration(days: f64) -> Duration {
    Duration::milliseconds((days * 86_400_000.0).round() as i64)
}

/// Exact types first, then longer prefixes, then `*`.
fn specificity(pattern: &EventPattern) -> (u8, usize) {
    match pattern {
        EventPattern::Exact(name) => (2, name.len()),
        EventPattern::Prefix(prefix) => (1, prefix.len()),
        EventPattern::All => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: &[&str]) -> RetentionPolicy {
        let by_type = rules.iter().map(|raw| RetentionPolicy::parse_rule(raw).unwrap()).collect();
        RetentionPolicy { by_type, ..RetentionPolicy::default() }
    }

    #[test]
    fn the_most_specific_rule_wins_over_the_default() {
        let policy = policy(&["auth.*=7", "invoice.*=365", "invoice.paid=400", "*=60"]);
        assert_eq!(policy.for_type("auth.login"), Duration::days(7));
        assert_eq!(policy.for_type("invoice.created"), Duration::days(365));
        assert_eq!(policy.for_type("invoice.paid"), Duration::days(400));
        assert_eq!(policy.for_type("ticket.created"), Duration::days(60));
        assert_eq!(RetentionPolicy::default().for_type("ticket.created"), Duration::days(30));
        assert_eq!(policy.longest(), Duration::days(400));
    }

    #[test]
    fn unacknowledged_dead_deliveries_wait_for_review() {
        let policy = policy(&["auth.*=7"]);
        assert_eq!(policy.for_delivery("auth.login", DeliveryStatus::Dead, false), Duration::days(90));
        assert_eq!(policy.for_delivery("auth.login", DeliveryStatus::Dead, true), Duration::days(7));
        assert_eq!(policy.for_delivery("auth.login", DeliveryStatus::Succeeded, false), Duration::days(7));
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        for raw in ["auth.*", "nope.*=7", "auth.*=soon", "auth.*=0", "auth.*=99999"] {
            assert!(RetentionPolicy::parse_rule(raw).is_err(), "{raw}");
        }
        assert_eq!(RetentionPolicy::parse_rule("auth.* = 0.5").unwrap().1, Duration::hours(12));
    }
}
