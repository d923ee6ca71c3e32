//! Endpoint health's ports: `SubscriptionStore`'s state transitions and health records, and
//! `RateGate`'s slots: the same answers from each backend.

use std::time::Duration;

use hookline_core::domain::health::{HealthChange, WebhookState};
use hookline_core::domain::rate_limit::Reservation;
use hookline_core::ports::{StateChange, WebhookFilter};

use super::{Backend, aws, now, sqlite, webhook};

fn change(from: &[WebhookState], to: WebhookState, reason: Option<&str>) -> StateChange {
    StateChange { from: from.to_vec(), to, reason: reason.map(str::to_owned), at: now() }
}

async fn transitions_happen_only_from_the_expected_states(backend: &Backend) {
    let store = &backend.stores.subscriptions;
    let hook = webhook(&["invoice.*"], true);
    store.insert(&hook).await.unwrap();
    let failing = change(&[WebhookState::Active], WebhookState::Failing, Some("10 failures"));
    let changed = store.transition(&hook.id, &failing).await.unwrap().expect("active → failing");
    assert_eq!((changed.state, changed.disabled_reason.as_deref()), (WebhookState::Failing, Some("10 failures")));
    assert!(store.transition(&hook.id, &failing).await.unwrap().is_none(), "no longer active: a second mover loses");
    let read = store.get(&hook.id).await.unwrap().unwrap();
    assert_eq!((read.state, read.is_active()), (WebhookState::Failing, false));
    assert_eq!(store.matching("invoice.paid").await.unwrap().len(), 1, "a failing webhook still gets (held) deliveries");
    let inactive = WebhookFilter { limit: 10, is_active: Some(false), ..WebhookFilter::default() };
    assert_eq!(store.list(&inactive).await.unwrap().items.len(), 1);

    let back = change(&[WebhookState::Failing, WebhookState::Disabled], WebhookState::Active, None);
    let active = store.transition(&hook.id, &back).await.unwrap().expect("failing → active");
    assert_eq!((active.state, active.disabled_reason), (WebhookState::Active, None));
    let mut renamed = store.get(&hook.id).await.unwrap().unwrap();
    renamed.name = "renamed".into();
    store.replace(&renamed).await.unwrap();
    assert_eq!(store.get(&hook.id).await.unwrap().unwrap().state, WebhookState::Active, "a replace keeps the state it was given");
    store.delete(&hook.id).await.unwrap();
    assert!(store.transition(&hook.id, &back).await.unwrap().is_none(), "a deleted webhook has no state");
}

async fn health_counts_failures_and_survives_replaces(backend: &Backend) {
    let store = &backend.stores.subscriptions;
    let hook = webhook(&["auth.*"], true);
    store.insert(&hook).await.unwrap();
    let (first, later) = (now(), now() + chrono::Duration::seconds(5));
    let failure = HealthChange::Failure { error: "HTTP 503".into() };
    store.record_health(&hook.id, &failure, first).await.unwrap();
    let health = store.record_health(&hook.id, &failure, later).await.unwrap().unwrap();
    assert_eq!((health.failure_streak, health.streak_started_at, health.last_failure_at), (2, Some(first), Some(later)));
    assert_eq!(health.last_error.as_deref(), Some("HTTP 503"));

    let due = later + chrono::Duration::seconds(60);
    store.record_health(&hook.id, &HealthChange::ProbeAt { at: due, interval: Duration::from_secs(60) }, later).await.unwrap();
    let mut renamed = store.get(&hook.id).await.unwrap().unwrap();
    assert_eq!((renamed.health.next_probe_at, renamed.health.probe_interval_secs), (Some(due), 60));
    renamed.name = "renamed".into();
    store.replace(&renamed).await.unwrap();
    let read = store.get(&hook.id).await.unwrap().unwrap();
    assert_eq!(read.health.failure_streak, 2, "replacing the webhook keeps its health");
    let listed = store.list(&WebhookFilter { limit: 10, ..WebhookFilter::default() }).await.unwrap();
    assert_eq!(listed.items[0].health, read.health, "listing shows the same health");

    let health = store.record_health(&hook.id, &HealthChange::Success, later).await.unwrap().unwrap();
    assert_eq!((health.failure_streak, health.streak_started_at, health.last_success_at), (0, None, Some(later)));
    store.record_health(&hook.id, &HealthChange::NoProbe, later).await.unwrap();
    store.record_health(&hook.id, &HealthChange::Releasing { next_at: Some(due) }, later).await.unwrap();
    let health = store.record_health(&hook.id, &HealthChange::Release { from: later }, later).await.unwrap().unwrap();
    assert_eq!(health.release_next_at, Some(due), "a release under way goes on from where it is");
    let health = store.get(&hook.id).await.unwrap().unwrap().health;
    assert_eq!((health.next_probe_at, health.release_next_at, health.last_failure_at), (None, Some(due), Some(later)));
    store.record_health(&hook.id, &HealthChange::Releasing { next_at: None }, later).await.unwrap();
    let health = store.record_health(&hook.id, &HealthChange::Release { from: later }, later).await.unwrap().unwrap();
    assert_eq!(health.release_next_at, Some(later), "none under way: one starts");
    store.delete(&hook.id).await.unwrap();
    assert!(store.record_health(&hook.id, &failure, later).await.unwrap().is_none());
}

#[tokio::test]
async fn sqlite_transitions_happen_only_from_the_expected_states() {
    transitions_happen_only_from_the_expected_states(&sqlite().await).await;
}

#[tokio::test]
async fn aws_transitions_happen_only_from_the_expected_states() {
    transitions_happen_only_from_the_expected_states(&aws().await).await;
}

#[tokio::test]
async fn sqlite_health_counts_failures_and_survives_replaces() {
    health_counts_failures_and_survives_replaces(&sqlite().await).await;
}

#[tokio::test]
async fn aws_health_counts_failures_and_survives_replaces() {
    health_counts_failures_and_survives_replaces(&aws().await).await;
}

async fn rate_gates_hand_out_slots_one_interval_apart(backend: &Backend) {
    let gate = &backend.stores.rate_gate;
    let (limited, other) = (webhook(&["auth.*"], true).id, webhook(&["auth.*"], true).id);
    let (interval, horizon) = (Duration::from_millis(100), Duration::from_millis(250));
    let now = chrono::DateTime::from_timestamp_millis(now().timestamp_millis()).unwrap();
    let ms = now.timestamp_millis();
    let mut slots = Vec::new();
    for _ in 0..3 {
        match gate.reserve(&limited, interval, now, horizon).await.unwrap() {
            Reservation::At(slot) => slots.push(slot - ms),
            full => panic!("{full:?}"),
        }
    }
    assert_eq!(slots, [0, 100, 200], "taken in turn, one interval apart");
    assert_eq!(gate.reserve(&limited, interval, now, horizon).await.unwrap(), Reservation::Full(Duration::from_millis(50)));
    assert_eq!(gate.reserve(&other, interval, now, horizon).await.unwrap(), Reservation::At(ms), "each webhook has its own");
    let later = now + chrono::Duration::seconds(10);
    assert_eq!(gate.reserve(&limited, interval, later, horizon).await.unwrap(), Reservation::At(later.timestamp_millis()));
}

#[tokio::test]
async fn sqlite_rate_gates_hand_out_slots_one_interval_apart() {
    rate_gates_hand_out_slots_one_interval_apart(&sqlite().await).await;
}

#[tokio::test]
async fn aws_rate_gates_hand_out_slots_one_interval_apart() {
    rate_gates_hand_out_slots_one_interval_apart(&aws().await).await;
}
