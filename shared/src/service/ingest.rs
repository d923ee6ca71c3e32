//! Ingesting events: validate against the catalog, store once, fan out to every matching webhook
//! (the deliveries of one that is not active are created held, and not queued).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::filtering::{ExpressionFailures, Recipient, recipients};
use super::notify::about_webhook;
use super::{Hookline, ServiceError};
use crate::domain::api_key::ApiKey;
use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::event::{Event, PublishRequest};
use crate::domain::ids::{EventId, WebhookId};
use crate::domain::json::from_value;
use crate::domain::trace::TraceContext;
use crate::domain::webhook::Webhook;
use crate::ports::{DeliveryTask, FanOut, PlannedDeliveries, Recorded, StoreError, settled_when_stored};

/// The answer to one publish.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublishOutcome {
    pub id: EventId,
    pub event_type: &'static str,
    /// How many deliveries the event fanned out to (0 for a duplicate).
    pub deliveries: usize,
    /// True when this id was already published: nothing new was queued.
    pub duplicate: bool,
}

/// Who publishes: the ingestion path (`metadata.source` default) and, over HTTP, the API key,
/// which may limit the event types allowed.
#[derive(Debug, Clone, Copy)]
pub struct PublishAs<'a> {
    pub source: &'a str,
    pub key: Option<&'a ApiKey>,
    /// The publisher's trace (`traceparent`), if it sent one that parses.
    pub trace: Option<TraceContext>,
}

impl Hookline {
    /// Whether publishers may publish now: refused (`Overloaded`) while the delivery queue holds
    /// `max_backlog` tasks, so ingest cannot run ahead of delivery without bound. Only the
    /// publishing routes ask; Hookline's own `hookline.*` events and replays are never refused.
    pub async fn admit(&self) -> Result<(), ServiceError> {
        let Some(limit) = self.settings.max_backlog else { return Ok(()) };
        match self.stores.queue.depth().await? {
            Some(depth) if depth.tasks >= limit => {
                self.tally.refused_overloaded();
                Err(ServiceError::Overloaded { backlog: depth.tasks, limit })
            }
            _ => Ok(()),
        }
    }

    /// Publishes one event. Safe to retry with the same `id`: a publish that stopped half
    /// way (event stored, deliveries not yet queued) is completed, a finished one is a duplicate.
    pub async fn publish(&self, request: PublishRequest, by: PublishAs<'_>) -> Result<PublishOutcome, ServiceError> {
        let mut results = self.publish_all(vec![(request, by)]).await;
        results.pop().unwrap_or_else(|| Err(lost()))
    }

    /// Publishes each JSON item on its own; one bad item does not refuse the others.
    pub async fn publish_batch(&self, items: Vec<Value>, by: PublishAs<'_>) -> Vec<Result<PublishOutcome, ServiceError>> {
        let requests = items.into_iter().map(|item| (from_value::<PublishRequest>(item).map_err(ServiceError::from), by));
        self.publish_each(requests.collect()).await
    }

    /// Publishes together the requests that could be read, answering for every item in order:
    /// one that could not be read keeps its error, the others get their outcome.
    pub async fn publish_each(
        &self,
        items: Vec<(Result<PublishRequest, ServiceError>, PublishAs<'_>)>,
    ) -> Vec<Result<PublishOutcome, ServiceError>> {
        let mut readable = Vec::with_capacity(items.len());
        let mut results: Vec<Option<Result<PublishOutcome, ServiceError>>> = Vec::with_capacity(items.len());
        for (request, by) in items {
            match request {
                Ok(request) => {
                    readable.push((request, by));
                    results.push(None);
                }
                Err(unreadable) => results.push(Some(Err(unreadable))),
            }
        }
        let mut published = self.publish_all(readable).await.into_iter();
        results.into_iter().map(|slot| slot.unwrap_or_else(|| published.next().unwrap_or_else(|| Err(lost())))).collect()
    }

    /// Publishes several events together: each is validated and recorded on its own, then all
    /// their deliveries are created and queued in one go, so a batch of events costs one queue
    /// write (or one SQS `SendMessageBatch` per ten tasks) rather than one per event.
    pub async fn publish_all(&self, items: Vec<(PublishRequest, PublishAs<'_>)>) -> Vec<Result<PublishOutcome, ServiceError>> {
        let validated: Vec<Result<Event, ServiceError>> = items.into_iter().map(|(request, by)| self.validate(request, by)).collect();
        let events: Vec<Event> = validated.iter().filter_map(|v| v.as_ref().ok().cloned()).collect();
        let (recorded, fanned_with) = match self.record_events(&events).await {
            Ok(recorded) => recorded,
            Err(error) => return validated.into_iter().map(|v| v.and_then(|_| Err(retry_later(&error)))).collect(),
        };
        let mut stages = recorded.into_iter().zip(fanned_with);
        let accepted: Vec<Result<Accepted, ServiceError>> = validated
            .into_iter()
            .map(|v| {
                v.and_then(|event| match stages.next().ok_or_else(lost)? {
                    (Recorded::New, Some(deliveries)) => Ok(Accepted::Done(outcome(&event, deliveries, false))),
                    (recorded, _) => classify(event, recorded),
                })
            })
            .collect();
        let to_fan_out: Vec<(&Event, bool)> = accepted
            .iter()
            .filter_map(|a| match a {
                Ok(Accepted::FanOut(event, fresh)) => Some((event, *fresh)),
                _ => None,
            })
            .collect();
        let fanned =
            if self.fanned_out_by_stream() { self.count_recipients(&to_fan_out).await } else { self.fan_out_all(&to_fan_out).await };
        let mut counts = fanned.as_ref().map(|counts| counts.clone().into_iter()).unwrap_or_default();
        accepted
            .into_iter()
            .map(|stage| match stage {
                Err(error) => Err(error),
                Ok(Accepted::Duplicate(outcome) | Accepted::Done(outcome)) => Ok(outcome),
                Ok(Accepted::FanOut(event, _)) => match (&fanned, counts.next()) {
                    (Ok(_), Some(deliveries)) => Ok(outcome(&event, deliveries, false)),
                    (Err(error), _) => Err(retry_later(error)),
                    (Ok(_), None) => Err(lost()),
                },
            })
            .collect()
    }

    /// Records `events`. Where the store writes an event and its deliveries at once (locally),
    /// the deliveries planned for each go with it, and the fan-out of those recorded now is
    /// finished here: their delivery counts come back (`Some`, by event); `None` for events
    /// whose fan-out is left to the caller (or, on AWS, to the stream).
    async fn record_events(&self, events: &[Event]) -> Result<(Vec<Recorded>, Vec<Option<usize>>), ServiceError> {
        let unplanned = |recorded: Vec<Recorded>| {
            let none = vec![None; recorded.len()];
            (recorded, none)
        };
        if self.fanned_out_by_stream() || events.is_empty() {
            return Ok(unplanned(self.stores.events.record_all(events).await?));
        }
        let as_stored: Vec<(&Event, bool)> = events.iter().map(|event| (event, false)).collect();
        let FanOutPlan { again, counts, held_for, failures, .. } = self.plan_fan_out(&as_stored).await?;
        let mut planned = again.into_iter();
        let by_event: PlannedDeliveries = Arc::new(counts.iter().map(|count| planned.by_ref().take(*count).collect()).collect());
        let Some(recorded) = self.stores.events.record_with_deliveries(events, &by_event).await else {
            return Ok(unplanned(self.stores.events.record_all(events).await?));
        };
        // The write let go of its share when it ran.
        let by_event = Arc::unwrap_or_clone(by_event);
        let recorded = recorded?;
        let is_new: Vec<bool> = recorded.iter().map(|r| *r == Recorded::New).collect();
        let new_events: Vec<&Event> = events.iter().zip(&is_new).filter(|(_, new)| **new).map(|(event, _)| event).collect();
        for event in &new_events {
            self.tally.published(event.event_type.as_str());
        }
        // The store wrote the settled ones fanned out; the others are marked once they are.
        let unsettled: Vec<EventId> = events
            .iter()
            .zip(&by_event)
            .zip(&is_new)
            .filter(|((_, planned), new)| **new && !settled_when_stored(planned))
            .map(|((event, _), _)| event.id.clone())
            .collect();
        let created: Vec<Delivery> =
            by_event.into_iter().zip(&is_new).filter(|(_, new)| **new).flat_map(|(deliveries, _)| deliveries).collect();
        // A failed filter counts once per event: with duplicates among them, the new ones' again.
        let failures = if new_events.len() == events.len() {
            failures
        } else {
            self.plan_fan_out(&new_events.iter().map(|event| (*event, false)).collect::<Vec<_>>()).await?.failures
        };
        // The deliveries of a new event are stored as planned (none of them could exist).
        let tasks = pending(&created).map(DeliveryTask::of_stored).collect();
        self.after_created(&created, tasks, &held_for, failures, &unsettled).await?;
        let fanned = counts.into_iter().zip(is_new).map(|(count, new)| new.then_some(count)).collect();
        Ok((recorded, fanned))
    }

    /// Checks one request against the publisher's key, the catalog and the size limit.
    fn validate(&self, request: PublishRequest, by: PublishAs<'_>) -> Result<Event, ServiceError> {
        if let Some(key) = by.key.filter(|key| !key.may_publish(&request.event_type)) {
            return Err(ServiceError::Forbidden(format!("API key {} may not publish {}", key.id, request.event_type)));
        }
        let event = Event::from_request(request, self.clock.now(), by.source)?.in_trace(by.trace);
        let limit = self.settings.max_event_bytes;
        if event.body.len() > limit {
            return Err(ServiceError::PayloadTooLarge { actual: event.body.len(), limit });
        }
        Ok(event)
    }

    /// Finishes the fan-out of events stored by a process that stopped before queueing their
    /// deliveries, so an event never stays stored but undelivered. Run at start-up.
    pub async fn resume_fan_out(&self) -> Result<usize, ServiceError> {
        let unfinished = self.stores.events.unfanned().await?;
        self.fan_out_all(&unfinished.iter().map(|event| (event, false)).collect::<Vec<_>>()).await?;
        Ok(unfinished.len())
    }

    /// Fans out events the store's change stream hands over (`FanOut::FromStream`), at least
    /// once each: deliveries that exist are kept, and tasks already queued are queued again,
    /// which consumers take as duplicates. Returns how many deliveries they got.
    pub async fn fan_out_recorded(&self, events: &[Event]) -> Result<usize, ServiceError> {
        let counts = self.fan_out_all(&events.iter().map(|event| (event, false)).collect::<Vec<_>>()).await?;
        Ok(counts.iter().sum())
    }

    /// How many deliveries each of `events` will get when the stream fans them out, as the
    /// webhooks are now; nothing is written.
    async fn count_recipients(&self, events: &[(&Event, bool)]) -> Result<Vec<usize>, ServiceError> {
        Ok(self.plan_fan_out(events).await?.counts)
    }

    /// Whether the store's stream fans out what is recorded, rather than the publisher.
    pub(crate) fn fanned_out_by_stream(&self) -> bool {
        self.stores.events.fan_out() == FanOut::FromStream
    }

    /// Creates and queues the deliveries of `events` (each with whether it was recorded just
    /// now, so none of its deliveries can exist yet); returns how many each got.
    pub(crate) async fn fan_out_all(&self, events: &[(&Event, bool)]) -> Result<Vec<usize>, ServiceError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let FanOutPlan { fresh, again, counts, held_for, failures } = self.plan_fan_out(events).await?;
        let (fresh_carried, fresh) = self.carried_apart(fresh);
        let (again_carried, again) = self.carried_apart(again);
        // All are idempotent and all must be done before an event counts as fanned out.
        let (created_new, created) = tokio::join!(self.stores.deliveries.create_new(&fresh), self.stores.deliveries.create(&again));
        created_new?;
        created?;
        let ids: Vec<EventId> = events.iter().map(|(event, _)| event.id.clone()).collect();
        // A fresh delivery is stored as planned; one stored before may have moved on since.
        let tasks = pending(&fresh).map(DeliveryTask::of_stored).chain(pending(&again).map(DeliveryTask::of));
        let tasks: Vec<DeliveryTask> = tasks.chain(fresh_carried).chain(again_carried).collect();
        let stored: Vec<Delivery> = fresh.into_iter().chain(again).collect();
        self.after_created(&stored, tasks, &held_for, failures, &ids).await?;
        Ok(counts)
    }

    /// The pending deliveries the store leaves unstored until their first attempt, as the
    /// tasks that carry them, and the deliveries to store now.
    fn carried_apart(&self, deliveries: Vec<Delivery>) -> (Vec<DeliveryTask>, Vec<Delivery>) {
        if !self.stores.deliveries.stores_at_first_attempt() {
            return (Vec::new(), deliveries);
        }
        let mut carried = Vec::new();
        let mut stored = Vec::new();
        for delivery in deliveries {
            let task = if delivery.status == DeliveryStatus::Pending { DeliveryTask::carrying(&delivery) } else { None };
            match task {
                Some(task) => carried.push(task),
                None => stored.push(delivery),
            }
        }
        (carried, stored)
    }

    /// What follows storing the deliveries of `events`: their `tasks` are queued, with those
    /// that carry theirs (a task goes out only once its delivery is stored or carried: a
    /// consumer that found neither would set it aside as unknown), the held ones' webhooks
    /// checked again, `events` marked fanned out (where the stream does not fan out) and the
    /// filters that failed recorded.
    async fn after_created(
        &self,
        deliveries: &[Delivery],
        tasks: Vec<DeliveryTask>,
        held_for: &[WebhookId],
        failures: ExpressionFailures,
        events: &[EventId],
    ) -> Result<(), ServiceError> {
        self.stores.queue.enqueue(&tasks).await?;
        let held = deliveries.iter().filter(|d| d.status == DeliveryStatus::Held).count() as u64;
        self.tally.created(DeliveryStatus::Pending, tasks.len() as u64);
        self.tally.created(DeliveryStatus::Held, held);
        self.recheck_held_for(&held_for.iter().collect::<Vec<_>>()).await?;
        if !self.fanned_out_by_stream() {
            self.stores.events.mark_all_fanned_out(events).await?;
        }
        self.record_expression_failures(failures).await;
        Ok(())
    }

    /// Who each of `events` goes to, and the deliveries that makes, without writing anything;
    /// the events recorded just now count as published.
    async fn plan_fan_out(&self, events: &[(&Event, bool)]) -> Result<FanOutPlan, ServiceError> {
        let now = self.clock.now();
        let mut subscribers: HashMap<&str, Vec<Webhook>> = HashMap::new();
        for (event, _) in events {
            let event_type = event.event_type.as_str();
            if !subscribers.contains_key(event_type) {
                subscribers.insert(event_type, self.stores.subscriptions.matching(event_type).await?);
            }
        }
        let mut plan = FanOutPlan::default();
        for (event, new) in events {
            let about = about_webhook(event);
            let webhooks: Vec<&Webhook> = subscribers
                .get(event.event_type.as_str())
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .filter(|w| about.as_deref() != Some(w.id.as_str()))
                .collect();
            let recipients = recipients(event, webhooks, self.settings.max_event_bytes, &mut plan.failures);
            plan.counts.push(recipients.len());
            let deliveries = recipients.into_iter().map(|Recipient { webhook, body }| {
                let delivery = Delivery { body, ..Delivery::new(event.id.clone(), webhook.id.clone(), event.event_type.as_str(), now) };
                if webhook.is_active() { delivery } else { delivery.held() }
            });
            if *new { plan.fresh.extend(deliveries) } else { plan.again.extend(deliveries) }
        }
        let held_for: BTreeMap<&str, &WebhookId> =
            subscribers.values().flatten().filter(|w| !w.is_active()).map(|w| (w.id.as_str(), &w.id)).collect();
        plan.held_for = held_for.into_values().cloned().collect();
        for (event, _) in events.iter().filter(|(_, new)| *new) {
            self.tally.published(event.event_type.as_str());
        }
        Ok(plan)
    }
}

/// What fanning out some events makes: the deliveries of events recorded just now (`fresh`,
/// which cannot exist yet) and of the others (`again`), how many each event gets, the inactive
/// webhooks among the subscribers, and the filters that failed on the way.
#[derive(Default)]
struct FanOutPlan {
    fresh: Vec<Delivery>,
    again: Vec<Delivery>,
    counts: Vec<usize>,
    held_for: Vec<WebhookId>,
    failures: ExpressionFailures,
}

/// What recording an event decided: fan it out (`true` when it was recorded just now, so none
/// of its deliveries can exist yet), or answer that it is a finished duplicate.
enum Accepted {
    FanOut(Event, bool),
    Duplicate(PublishOutcome),
    /// Recorded now with its deliveries, and fanned out.
    Done(PublishOutcome),
}

/// The deliveries among `deliveries` to queue now (not held).
fn pending(deliveries: &[Delivery]) -> impl Iterator<Item = &Delivery> {
    deliveries.iter().filter(|d| d.status == DeliveryStatus::Pending)
}

fn classify(event: Event, recorded: Recorded) -> Result<Accepted, ServiceError> {
    match recorded {
        Recorded::Existing { same_content: false, .. } => {
            Err(ServiceError::Conflict(format!("event id '{}' was already used for a different event", event.id)))
        }
        Recorded::Existing { fanned_out: true, .. } => Ok(Accepted::Duplicate(outcome(&event, 0, true))),
        Recorded::Existing { fanned_out: false, .. } => Ok(Accepted::FanOut(event, false)),
        Recorded::New => Ok(Accepted::FanOut(event, true)),
    }
}

fn outcome(event: &Event, deliveries: usize, duplicate: bool) -> PublishOutcome {
    PublishOutcome { id: event.id.clone(), event_type: event.event_type.as_str(), deliveries, duplicate }
}

/// The same storage failure for every event of a fan-out that failed together.
fn retry_later(error: &ServiceError) -> ServiceError {
    ServiceError::Store(StoreError::Backend(error.to_string().into()))
}

fn lost() -> ServiceError {
    ServiceError::Store(StoreError::Backend("an event's result went missing".into()))
}
