//! Erasure (GDPR): an event's payload goes, its delivery outcomes stay.

use super::{Hookline, ServiceError, not_found};
use crate::domain::ids::EventId;

impl Hookline {
    /// Replaces the event's payload with an erasure marker, cancels its open deliveries and
    /// clears the response excerpts of their attempts (receivers may echo the payload).
    pub async fn erase_event(&self, id: &str) -> Result<(), ServiceError> {
        let id = EventId::parse(id).map_err(|_| ServiceError::NotFound("event"))?;
        if self.stores.events.get(&id).await?.is_none() {
            return Err(ServiceError::NotFound("event"));
        }
        // Deliveries first: the erasure itself ends by flushing everything written before it.
        self.stores.deliveries.forget_event(&id, self.clock.now()).await?;
        self.stores.events.erase(&id).await.map_err(not_found("event"))?;
        tracing::info!(event_id = %id, "event erased");
        Ok(())
    }
}
