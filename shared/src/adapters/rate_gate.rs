//! `RateGate` in memory: right where one process is the only consumer (local mode, one server
//! per data file), so its reservations are every reservation.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::ids::WebhookId;
use crate::domain::rate_limit::{Reservation, millis, reserve};
use crate::ports::{RateGate, StoreError};

/// The next free slot of each webhook, in milliseconds.
#[derive(Default)]
pub struct LocalRateGate {
    next_free: Mutex<HashMap<WebhookId, i64>>,
}

#[async_trait]
impl RateGate for LocalRateGate {
    async fn reserve(
        &self,
        webhook: &WebhookId,
        interval: Duration,
        now: DateTime<Utc>,
        horizon: Duration,
    ) -> Result<Reservation, StoreError> {
        let mut slots = self.next_free.lock().map_err(|_| StoreError::Backend("the rate gate's lock was poisoned".into()))?;
        let now = now.timestamp_millis();
        // Forget webhooks idle for a while, so the map holds only the busy ones.
        slots.retain(|_, free| *free > now - 60_000);
        let (reservation, next_free) = reserve(slots.get(webhook).copied(), now, millis(interval), millis(horizon));
        if let Some(free) = next_free {
            slots.insert(webhook.clone(), free);
        }
        Ok(reservation)
    }
}
