//! A webhook's health in DynamoDB: attributes of its own item (`WH#<id>`, `META`) beside the
//! document, changed by one `UpdateItem` each (counters added atomically, so concurrent
//! `deliver` invocations never lose a failure), and never copied into the index items.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::item::{Item, n, opt_n, opt_s, opt_time, s, time};
use crate::domain::health::{Health, HealthChange};
use crate::ports::StoreError;

/// The health stored in a webhook's item (none stored is a clean record).
pub fn health_of(item: &Item) -> Result<Health, StoreError> {
    Ok(Health {
        failure_streak: opt_n(item, "h_streak")?.unwrap_or(0),
        streak_started_at: opt_time(item, "h_streak_at")?,
        last_success_at: opt_time(item, "h_ok_at")?,
        last_failure_at: opt_time(item, "h_fail_at")?,
        last_error: opt_s(item, "h_error"),
        next_probe_at: opt_time(item, "h_probe_at")?,
        probe_interval_secs: opt_n(item, "h_probe_secs")?.unwrap_or(0),
        release_next_at: opt_time(item, "h_release_at")?,
        expression_errors: opt_n(item, "h_expr_errors")?.unwrap_or(0),
        last_expression_error: opt_s(item, "h_expr_error"),
        last_expression_error_at: opt_time(item, "h_expr_error_at")?,
    })
}

/// The update expression and its values that apply `change` at `at`, as `Health::apply` does.
pub fn update_for(change: &HealthChange, at: DateTime<Utc>) -> (String, Vec<(&'static str, AttributeValue)>) {
    match change {
        HealthChange::Success => {
            ("SET h_streak = :zero, h_ok_at = :at REMOVE h_streak_at".into(), vec![(":zero", n(0)), (":at", time(at))])
        }
        HealthChange::Failure { error } => (
            "ADD h_streak :one SET h_streak_at = if_not_exists(h_streak_at, :at), h_fail_at = :at, h_error = :error".into(),
            vec![(":one", n(1)), (":at", time(at)), (":error", s(error))],
        ),
        HealthChange::ProbeAt { at: due, interval } => {
            ("SET h_probe_at = :due, h_probe_secs = :secs".into(), vec![(":due", time(*due)), (":secs", n(interval.as_secs()))])
        }
        HealthChange::NoProbe => ("REMOVE h_probe_at, h_probe_secs".into(), Vec::new()),
        HealthChange::Releasing { next_at: Some(next) } => ("SET h_release_at = :next".into(), vec![(":next", time(*next))]),
        HealthChange::Releasing { next_at: None } => ("REMOVE h_release_at".into(), Vec::new()),
        HealthChange::ExpressionErrors { count, error } => (
            "ADD h_expr_errors :count SET h_expr_error = :error, h_expr_error_at = :at".into(),
            vec![(":count", n(*count)), (":error", s(error)), (":at", time(at))],
        ),
        HealthChange::Release { from } => ("SET h_release_at = if_not_exists(h_release_at, :from)".into(), vec![(":from", time(*from))]),
    }
}
