//! `EventStore` over SQLite: events are written once; a second write of the same id reports
//! whether the first one finished its fan-out.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::deliveries::insert_rows;
use super::recent::Recent;
use super::{Db, corrupt, from_text, to_text};
use crate::domain::delivery::Delivery;
use crate::domain::event::{Event, EventType};
use crate::domain::ids::EventId;
use crate::domain::trace::TraceContext;
use crate::ports::{EventStore, PlannedDeliveries, Recorded, StoreError, settled_when_stored};

pub struct SqliteEventStore {
    db: Arc<Db>,
    recent: Mutex<Recent>,
}

impl SqliteEventStore {
    pub fn new(db: Arc<Db>) -> Self {
        Self { db, recent: Mutex::new(Recent::default()) }
    }
}

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn record(&self, event: &Event) -> Result<Recorded, StoreError> {
        let mut recorded = self.record_all(std::slice::from_ref(event)).await?;
        recorded.pop().ok_or_else(|| StoreError::Backend("an event's insert reported nothing".into()))
    }

    /// Every event in one write (a batch of a hundred is one commit, not a hundred).
    async fn record_all(&self, events: &[Event]) -> Result<Vec<Recorded>, StoreError> {
        self.record_all_with(events, None).await
    }

    /// The events and the deliveries of those recorded now in one write: one commit per publish.
    async fn record_with_deliveries(&self, events: &[Event], planned: &PlannedDeliveries) -> Option<Result<Vec<Recorded>, StoreError>> {
        Some(self.record_all_with(events, Some(planned.clone())).await)
    }

    /// The mark is a hint for start-up (`unfanned`): it rides with the next write's commit
    /// instead of one of its own, and nobody waits for it. Lost with a process that dies
    /// first, it makes start-up fan the event out again, which changes nothing: deliveries
    /// that exist are kept, and tasks of closed ones finish without sending.
    async fn mark_fanned_out(&self, id: &EventId) -> Result<(), StoreError> {
        self.mark_all_fanned_out(std::slice::from_ref(id)).await
    }

    async fn mark_all_fanned_out(&self, ids: &[EventId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        self.db.write_later(move |conn| {
            let mut mark = conn.prepare_cached("UPDATE events SET fanned_out = 1 WHERE id = ?1")?;
            for id in ids {
                mark.execute([id])?;
            }
            Ok(())
        })
    }

    async fn unfanned(&self) -> Result<Vec<Event>, StoreError> {
        // On the writer, after the marks handed to it before.
        let ids: Vec<String> = self
            .db
            .write(|conn| {
                let mut statement = conn.prepare_cached("SELECT id FROM events WHERE fanned_out = 0")?;
                let rows = statement.query_map([], |row| row.get(0))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        let mut events = Vec::with_capacity(ids.len());
        for id in ids.iter().filter_map(|id| EventId::parse(id).ok()) {
            events.extend(self.load(&id).await?);
        }
        Ok(events)
    }

    async fn erase(&self, id: &EventId) -> Result<(), StoreError> {
        if let Ok(mut recent) = self.recent.lock() {
            recent.forget(id);
        }
        let id = id.to_string();
        let erased = self
            .db
            .write(move |conn| {
                let sql = "UPDATE events SET body = json_object('id', id, 'event_type', event_type, 'erased', json('true')) WHERE id = ?1";
                Ok(conn.execute(sql, [id])?)
            })
            .await?;
        if erased == 0 {
            return Err(StoreError::NotFound);
        }
        self.db.truncate_wal().await
    }

    async fn get(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        if let Some(event) = self.recent.lock().ok().and_then(|mut recent| recent.read(id)) {
            return Ok(Some(event));
        }
        self.load(id).await
    }
}

/// The deliveries `planned` holds for `events[i]`; `None` when nothing was planned.
fn planned_for(planned: Option<&PlannedDeliveries>, i: usize) -> Option<&[Delivery]> {
    planned.and_then(|planned| planned.get(i)).map(Vec::as_slice)
}

impl SqliteEventStore {
    /// `record_with_deliveries` (no plan: `record_all`), remembering the new events.
    async fn record_all_with(&self, events: &[Event], planned: Option<PlannedDeliveries>) -> Result<Vec<Recorded>, StoreError> {
        // Each planned delivery reads its event once; events recorded alone say nothing.
        let reads: Vec<Option<usize>> = (0..events.len()).map(|i| planned_for(planned.as_ref(), i).map(<[Delivery]>::len)).collect();
        let recorded = self.insert_all(events, planned).await?;
        if let Ok(mut recent) = self.recent.lock() {
            let now = Instant::now();
            for ((event, reads), _) in events.iter().zip(reads).zip(&recorded).filter(|(_, recorded)| **recorded == Recorded::New) {
                recent.remember(event, reads, now);
            }
        }
        Ok(recorded)
    }

    /// Inserts each event unless its id is stored, and with each one inserted its planned
    /// deliveries (`planned[i]` for `events[i]`, if planned), in one write; what became of
    /// each. An event whose plan is settled once stored is inserted fanned out.
    async fn insert_all(&self, events: &[Event], planned: Option<PlannedDeliveries>) -> Result<Vec<Recorded>, StoreError> {
        let rows: Vec<_> = events
            .iter()
            .map(|event| {
                let trace = event.trace.map(|trace| trace.to_string());
                (
                    event.id.to_string(),
                    event.event_type.as_str(),
                    to_text(event.occurred_at),
                    event.body.clone(),
                    event.fingerprint.clone(),
                    trace,
                )
            })
            .collect();
        self.db
            .write(move |conn| {
                let sql = "INSERT INTO events (id, event_type, occurred_at, body, fingerprint, trace, fanned_out) \
                           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING";
                let mut insert = conn.prepare_cached(sql)?;
                let mut stored = conn.prepare_cached("SELECT fanned_out, fingerprint FROM events WHERE id = ?1")?;
                let mut recorded = Vec::with_capacity(rows.len());
                for (i, (id, event_type, occurred_at, body, fingerprint, trace)) in rows.into_iter().enumerate() {
                    let deliveries = planned_for(planned.as_ref(), i).unwrap_or_default();
                    let fanned_out = planned.is_some() && settled_when_stored(deliveries);
                    if insert.execute(params![id, event_type, occurred_at, body, fingerprint, trace, fanned_out])? == 1 {
                        insert_rows(conn, deliveries)?;
                        recorded.push(Recorded::New);
                        continue;
                    }
                    let (fanned_out, kept): (bool, String) = stored.query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))?;
                    recorded.push(Recorded::Existing { fanned_out, same_content: kept == fingerprint });
                }
                Ok(recorded)
            })
            .await
    }

    async fn load(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        let id = id.to_string();
        self.db
            .read(move |conn| {
                let mut statement =
                    conn.prepare_cached("SELECT id, event_type, occurred_at, body, fingerprint, trace FROM events WHERE id = ?1")?;
                let event = statement
                    .query_row([id], |row| {
                        let event_type = row.get::<_, String>(1)?;
                        Ok(Event {
                            id: EventId::parse(&row.get::<_, String>(0)?).map_err(|_| corrupt("event id"))?,
                            event_type: EventType::from_stored(&event_type).ok_or_else(|| corrupt("event type"))?,
                            occurred_at: from_text(&row.get::<_, String>(2)?)?,
                            body: row.get(3)?,
                            fingerprint: row.get(4)?,
                            trace: row.get::<_, Option<String>>(5)?.as_deref().and_then(TraceContext::parse),
                        })
                    })
                    .optional()?;
                Ok(event)
            })
            .await
    }
}
