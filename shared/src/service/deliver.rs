//! Delivering: one attempt of one delivery (`deliver_one`), the single step every host
//! (local workers, the SQS consumer, tests) calls. The decision after an attempt is the
//! pure function `plan_next`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;

use super::notify::Notice;
use super::{Hookline, ServiceError};
use crate::VERSION;
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::event::Event;
use crate::domain::ids::DeliveryId;
use crate::domain::outcome::{ErrorKind, Outcome, classify};
use crate::domain::rate_limit::Reservation;
use crate::domain::retry::RetryPolicy;
use crate::domain::trace::TraceContext;
use crate::domain::webhook::Webhook;
use crate::ports::{AttemptRecord, Claimed, DeliveryTask, Disposition, OutboundRequest, Settled};

/// One attempt and how its result was classified.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub attempt: Attempt,
    pub outcome: Outcome,
}

impl AttemptResult {
    /// A one-line reason for a failed attempt, shown on the delivery.
    pub fn error_summary(&self) -> Option<String> {
        match (&self.outcome, self.attempt.error_kind) {
            (Outcome::Delivered, _) => None,
            (_, Some(ErrorKind::HttpStatus)) | (_, None) => self.attempt.status_code.map(|code| format!("HTTP {code}")),
            (_, Some(kind)) => Some(format!("{}: {}", kind.as_str(), self.attempt.error_detail.as_deref().unwrap_or(""))),
        }
    }
}

/// What happens after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub status: DeliveryStatus,
    /// Wait this long, then attempt again.
    pub retry_in: Option<Duration>,
    /// The endpoint answered 410: deactivate the webhook.
    pub deactivate: bool,
}

/// Decides what follows attempt `number`. `draw` is the jitter draw in [-1, 1].
pub fn plan_next(policy: &RetryPolicy, number: u32, outcome: Outcome, draw: f64) -> Plan {
    let finished = |status| Plan { status, retry_in: None, deactivate: false };
    match outcome {
        Outcome::Delivered => finished(DeliveryStatus::Succeeded),
        Outcome::Gone => Plan { deactivate: true, ..finished(DeliveryStatus::Dead) },
        Outcome::Retry { .. } if !policy.has_attempts_after(number) => finished(DeliveryStatus::Dead),
        Outcome::Retry { retry_after } => {
            Plan { retry_in: Some(policy.next_delay(number, draw, retry_after)), ..finished(DeliveryStatus::Retrying) }
        }
    }
}

impl Hookline {
    /// Delivers a claimed task and settles it with the queue: the one path every consumer
    /// takes (the local workers, the Lambda SQS handler). An error leaves the claim to time out,
    /// so the task comes back.
    pub async fn deliver_claimed(&self, claimed: &Claimed) -> Result<Settled, ServiceError> {
        let disposition = self.deliver_one(&claimed.task).await?;
        if disposition == Disposition::Unknown {
            let message_id = claimed.message_id.as_deref().unwrap_or_default();
            tracing::warn!(message_id, delivery_id = %claimed.task.delivery_id, "task for a delivery that is not stored set aside");
        }
        Ok(self.stores.queue.settle(claimed, disposition).await?)
    }

    /// Makes the next attempt of a queued delivery and records it. Tasks whose delivery is
    /// already closed (a redelivered message, a deleted webhook) are finished without sending.
    /// A task may carry a delivery not stored yet: it is stored with its first attempt, or
    /// held; one with nothing to attempt (its webhook or event gone) is dropped unstored.
    pub async fn deliver_one(&self, task: &DeliveryTask) -> Result<Disposition, ServiceError> {
        let Some((delivery, stored)) = self.delivery_of(task).await? else { return Ok(Disposition::Unknown) };
        if !delivery.status.is_open() {
            return Ok(Disposition::Done);
        }
        // A task back before its delivery is due (a queue that caps how long a message can wait,
        // a released delivery waiting for its slot, or a duplicate) waits for the rest of the
        // time instead of attempting early.
        let slack = self.stores.queue.delay_resolution();
        if let Some(wait) = delivery.next_attempt_at.and_then(|due| (due - self.clock.now()).to_std().ok()).filter(|wait| *wait > slack) {
            return Ok(Disposition::RetryIn(wait));
        }
        let webhook = match self.stores.subscriptions.get(&task.webhook_id).await? {
            Some(webhook) if webhook.is_active() => webhook,
            Some(webhook) => {
                if self.hold_unattempted(&delivery, stored).await? {
                    self.recheck_held_for(&[&webhook.id]).await?;
                }
                return Ok(Disposition::Done);
            }
            None => return self.cancel_unattempted(&delivery, stored, "webhook was deleted").await,
        };
        let event = match self.stores.events.get(&task.event_id).await? {
            Some(event) if !event.is_erased() => event,
            Some(_) => return self.cancel_unattempted(&delivery, stored, "event was erased").await,
            None => return self.cancel_unattempted(&delivery, stored, "event is no longer stored").await,
        };
        if let Some(wait) = self.wait_for_rate_limit(&webhook).await? {
            return Ok(Disposition::RetryIn(wait));
        }
        let number = delivery.attempts + 1;
        let mut result = self.attempt(&webhook, &event, &delivery, number).await;
        let receiver = self.note_attempt(&webhook, &result).await?;
        let policy = webhook.policy(&self.settings.retry_policy);
        // A replayed delivery gets the whole policy again, counted from the replay.
        let attempt_in_round = number.saturating_sub(delivery.attempts_before_replay);
        let plan = plan_next(policy, attempt_in_round, result.outcome, rand::rng().random_range(-1.0..=1.0));
        let (plan, hold) = spare_when_down(plan, receiver, self.settings.health.probe_interval);
        result.attempt.next_attempt_at = plan.retry_in.map(|wait| after(self.clock.now(), wait));
        let record = AttemptRecord::new(&delivery, result.attempt.clone(), plan.status, result.error_summary());
        self.record_consumed_attempt(&delivery, stored, &record).await?;
        let attempted = Delivery { attempts: number, last_error: record.last_error, ..delivery };
        self.conclude(&webhook, attempted, plan, hold).await
    }

    /// The delivery `task` is for and whether it is stored: the copy it carries of a stored
    /// one (no read), else the store's, else the copy it carries of one not stored yet.
    async fn delivery_of(&self, task: &DeliveryTask) -> Result<Option<(Delivery, bool)>, ServiceError> {
        if let Some(delivery) = task.stored_delivery() {
            return Ok(Some((delivery, true)));
        }
        Ok(match self.stores.deliveries.get(&task.delivery_id).await? {
            Some(delivery) => Some((delivery, true)),
            None => task.carried_delivery().map(|delivery| (delivery, false)),
        })
    }

    /// Holds a delivery not attempted now (its webhook is not active): the stored one as
    /// `hold` does, one carried by its task by storing it held. False when it was not open.
    async fn hold_unattempted(&self, delivery: &Delivery, stored: bool) -> Result<bool, ServiceError> {
        if stored {
            return Ok(self.stores.deliveries.hold(delivery, self.clock.now()).await?);
        }
        self.stores.deliveries.create(&[delivery.clone().held()]).await?;
        Ok(true)
    }

    /// Cancels a delivery that will never be attempted; one its task carried was never stored,
    /// so nothing is.
    async fn cancel_unattempted(&self, delivery: &Delivery, stored: bool, reason: &str) -> Result<Disposition, ServiceError> {
        if stored {
            return self.cancel(&delivery.id, reason).await;
        }
        tracing::info!(delivery_id = %delivery.id, reason, "delivery dropped before it was stored");
        Ok(Disposition::Done)
    }

    /// Records an attempt: appended to a stored delivery, or stored with it (a delivery its
    /// task carried, or a ping's); in the store (and its rollups) and in this process's tally.
    pub(crate) async fn record_attempt_of(&self, delivery: &Delivery, stored: bool, record: &AttemptRecord) -> Result<(), ServiceError> {
        let now = self.clock.now();
        if stored {
            self.stores.deliveries.record_attempt(&delivery.id, record, now).await?;
        } else {
            self.stores.deliveries.store_attempted(delivery, record, now).await?;
        }
        self.tally.attempted(&record.sample);
        Ok(())
    }

    /// `record_attempt_of` for the queue's consumer, which reads nothing back: a stored
    /// delivery's success may be committed after this returns (`record_delivered_soon`).
    async fn record_consumed_attempt(&self, delivery: &Delivery, stored: bool, record: &AttemptRecord) -> Result<(), ServiceError> {
        if !stored || record.status != DeliveryStatus::Succeeded {
            return self.record_attempt_of(delivery, stored, record).await;
        }
        self.stores.deliveries.record_delivered_soon(delivery, record, self.clock.now()).await?;
        self.tally.attempted(&record.sample);
        Ok(())
    }

    /// What follows a recorded attempt: hold the delivery (its webhook just failed), report a
    /// dead one, disable the webhook after a 410, and say what the queue does with the task.
    async fn conclude(&self, webhook: &Webhook, delivery: Delivery, plan: Plan, hold: bool) -> Result<Disposition, ServiceError> {
        if hold {
            if self.stores.deliveries.hold(&delivery, self.clock.now()).await? {
                self.recheck_held_for(&[&webhook.id]).await?;
            }
            return Ok(Disposition::Done);
        }
        if plan.status == DeliveryStatus::Dead {
            let last_error = delivery.last_error.as_deref();
            self.notify(Notice::DeliveryDead { delivery: &delivery, attempts: delivery.attempts, last_error }).await;
        }
        if plan.deactivate {
            let reason = format!("endpoint answered 410 Gone on delivery {}", delivery.id);
            self.disable(webhook, reason).await?;
        }
        Ok(match plan.retry_in {
            Some(wait) => Disposition::RetryIn(wait),
            None if plan.status == DeliveryStatus::Dead => Disposition::Dead,
            None => Disposition::Done,
        })
    }

    /// Holds the attempt to the webhook's rate limit: waits here for a slot a moment ahead, or
    /// says how long to put the task back for when every slot within `RATE_WAIT` is taken.
    /// Waiting is neither an attempt nor a failure.
    async fn wait_for_rate_limit(&self, webhook: &Webhook) -> Result<Option<Duration>, ServiceError> {
        let Some(rate) = webhook.rate_limit_per_sec else { return Ok(None) };
        let now = self.clock.now();
        let interval = Duration::from_secs_f64(1.0 / rate);
        match self.stores.rate_gate.reserve(&webhook.id, interval, now, RATE_WAIT).await? {
            Reservation::At(slot) => {
                let wait = u64::try_from(slot - now.timestamp_millis()).unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                Ok(None)
            }
            Reservation::Full(wait) => Ok(Some(wait)),
        }
    }

    /// Signs and sends one attempt; never fails, every problem becomes part of the attempt.
    pub(crate) async fn attempt(&self, webhook: &Webhook, event: &Event, delivery: &Delivery, number: u32) -> AttemptResult {
        let started_at = self.clock.now();
        let span = event.trace.unwrap_or_else(TraceContext::root).child();
        let request = signed_request(webhook, event, delivery, number, started_at, &span);
        let clock = Instant::now();
        let sent = self.sender.send(request).await;
        let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut attempt = Attempt {
            number,
            started_at,
            duration_ms,
            status_code: None,
            response_excerpt: None,
            error_kind: None,
            error_detail: None,
            next_attempt_at: None,
        };
        let outcome = match sent {
            Ok(response) => {
                let outcome = classify(response.status, response.retry_after);
                attempt.status_code = Some(response.status);
                attempt.response_excerpt = Some(response.body_excerpt);
                if outcome != Outcome::Delivered {
                    attempt.error_kind = Some(ErrorKind::HttpStatus);
                }
                outcome
            }
            Err(error) => {
                attempt.error_kind = Some(error.kind);
                attempt.error_detail = Some(error.detail);
                Outcome::Retry { retry_after: None }
            }
        };
        log_attempt(&attempt, &delivery.id, &span);
        AttemptResult { attempt, outcome }
    }

    async fn cancel(&self, id: &DeliveryId, reason: &str) -> Result<Disposition, ServiceError> {
        self.stores.deliveries.cancel(id, reason, self.clock.now()).await?;
        Ok(Disposition::Done)
    }
}

/// The longest a consumer waits in place for a rate-limited webhook's slot; beyond it the task
/// goes back to the queue.
const RATE_WAIT: Duration = Duration::from_secs(5);

/// What the receiver's health says about a failed attempt's delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    /// Answering, or failing too little to tell.
    Up,
    /// Its recent attempts all failed, enough of them to count, but not for long enough to
    /// stop attempting it.
    Down,
    /// The webhook is failing: Hookline stopped attempting it.
    Failing,
}

/// Spares a delivery from the receiver's outage: while the webhook is failing it is held
/// (second value), and while the receiver is down a delivery whose policy is spent waits
/// `wait` and tries again instead of dying, so an outage kills nothing. A 410 is never spared.
pub fn spare_when_down(plan: Plan, receiver: Receiver, wait: Duration) -> (Plan, bool) {
    let failed = plan.status != DeliveryStatus::Succeeded && !plan.deactivate;
    match receiver {
        Receiver::Failing if failed => (Plan { status: DeliveryStatus::Retrying, retry_in: None, deactivate: false }, true),
        Receiver::Down if failed && plan.status == DeliveryStatus::Dead => {
            (Plan { status: DeliveryStatus::Retrying, retry_in: Some(wait), deactivate: false }, false)
        }
        _ => (plan, false),
    }
}

fn after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

/// The Standard Webhooks request: `webhook-id` is the event id, stable across attempts.
/// One line per attempt, with the trace and span ids a receiver's logs also have: failures at
/// `info`, successes at `debug`.
fn log_attempt(attempt: &Attempt, delivery_id: &DeliveryId, span: &TraceContext) {
    let (number, status) = (attempt.number, attempt.status_code);
    // The ids are formatted inside the macros, so only when the line is written.
    match attempt.error_kind {
        Some(kind) => tracing::info!(trace_id = %span.trace_id(), span_id = %span.span_id(), %delivery_id, number, status,
            error_kind = kind.as_str(), "attempt failed"),
        None => tracing::debug!(trace_id = %span.trace_id(), span_id = %span.span_id(), %delivery_id, number, status, "attempt delivered"),
    }
}

/// The attempt's request: the delivery's body (the event's, or the webhook's transformation of
/// it), signed, in a new span of the event's trace.
fn signed_request(
    webhook: &Webhook,
    event: &Event,
    delivery: &Delivery,
    number: u32,
    now: DateTime<Utc>,
    span: &TraceContext,
) -> OutboundRequest {
    let timestamp = now.timestamp();
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("user-agent".to_owned(), format!("Hookline/{VERSION}")),
        ("webhook-id".to_owned(), event.id.to_string()),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        ("x-hookline-event-type".to_owned(), event.event_type.as_str().to_owned()),
        ("x-hookline-delivery-id".to_owned(), delivery.id.to_string()),
        ("x-hookline-attempt".to_owned(), number.to_string()),
        ("traceparent".to_owned(), span.to_string()),
    ];
    let secrets = webhook.signing_secrets(now);
    let body = delivery.body.as_ref().unwrap_or(&event.body);
    headers.extend(webhook.signature.headers(&secrets, event.id.as_str(), timestamp, body.as_bytes()));
    headers.extend(webhook.headers.iter().map(|(name, value)| (name.clone(), value.clone())));
    OutboundRequest { url: webhook.url.as_str().to_owned(), headers, body: body.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy { jitter: 0.0, ..RetryPolicy::default() }
    }

    #[test]
    fn success_closes_the_delivery() {
        let plan = plan_next(&policy(), 1, Outcome::Delivered, 0.0);
        assert_eq!(plan, Plan { status: DeliveryStatus::Succeeded, retry_in: None, deactivate: false });
    }

    #[test]
    fn a_failure_with_attempts_left_is_retried_after_the_policys_delay() {
        let plan = plan_next(&policy(), 1, Outcome::Retry { retry_after: None }, 0.0);
        assert_eq!(plan.status, DeliveryStatus::Retrying);
        assert_eq!(plan.retry_in, Some(Duration::from_secs(10)));
    }

    #[test]
    fn the_last_failure_makes_the_delivery_dead() {
        let plan = plan_next(&policy(), 3, Outcome::Retry { retry_after: None }, 0.0);
        assert_eq!(plan, Plan { status: DeliveryStatus::Dead, retry_in: None, deactivate: false });
    }

    #[test]
    fn an_outage_spares_deliveries_holding_them_once_the_webhook_fails() {
        let wait = Duration::from_secs(60);
        let last = plan_next(&policy(), 3, Outcome::Retry { retry_after: None }, 0.0);
        let (spared, hold) = spare_when_down(last, Receiver::Down, wait);
        assert_eq!((spared.status, spared.retry_in, hold), (DeliveryStatus::Retrying, Some(wait), false));
        assert_eq!(spare_when_down(last, Receiver::Up, wait), (last, false), "one delivery failing alone dies");
        let retry = plan_next(&policy(), 1, Outcome::Retry { retry_after: None }, 0.0);
        assert_eq!(spare_when_down(retry, Receiver::Down, wait), (retry, false), "retries go on as planned");
        assert!(spare_when_down(retry, Receiver::Failing, wait).1, "a failing webhook's deliveries are held");
        let gone = plan_next(&policy(), 1, Outcome::Gone, 0.0);
        assert_eq!(spare_when_down(gone, Receiver::Failing, wait), (gone, false), "a 410 is never spared");
    }

    #[test]
    fn gone_deactivates_the_webhook_without_retrying() {
        let plan = plan_next(&policy(), 1, Outcome::Gone, 0.0);
        assert_eq!(plan, Plan { status: DeliveryStatus::Dead, retry_in: None, deactivate: true });
    }
}
