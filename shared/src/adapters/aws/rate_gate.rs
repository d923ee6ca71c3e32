//! `RateGate` over DynamoDB, shared by every `deliver` instance: one item per rate-limited
//! webhook (`RATE#<id>`, `META`) holding the next free slot (`next_free`, epoch ms). A
//! reservation is one conditional `UpdateItem` when the webhook is idle (take now), or one that
//! moves `next_free` on by an interval when the next slot is within the horizon; a full horizon
//! costs a third request to say how long to wait. Webhooks without a limit never touch it.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::item::{get_n, key, n};
use super::reads::get_item;
use super::{Dynamo, written};
use crate::domain::ids::WebhookId;
use crate::domain::rate_limit::{Reservation, millis};
use crate::ports::{RateGate, StoreError};

pub struct DynamoDbRateGate {
    db: Dynamo,
}

impl DynamoDbRateGate {
    pub fn new(db: Dynamo) -> Self {
        Self { db }
    }

    /// Sets `next_free` to `value` if `condition` holds; returns the attributes before, if it did.
    async fn update(
        &self,
        webhook: &WebhookId,
        expression: &str,
        condition: &str,
        values: &[(&str, i64)],
    ) -> Result<Option<super::item::Item>, StoreError> {
        let mut request = self
            .db
            .client
            .update_item()
            .table_name(&*self.db.table)
            .set_key(Some(key(format!("RATE#{webhook}"), "META")))
            .update_expression(expression)
            .condition_expression(condition)
            .return_values(ReturnValue::AllOld);
        for (name, value) in values {
            request = request.expression_attribute_values(*name, n(value));
        }
        Ok(written(request.send().await)?.map(|output| output.attributes.unwrap_or_default()))
    }
}

#[async_trait]
impl RateGate for DynamoDbRateGate {
    async fn reserve(
        &self,
        webhook: &WebhookId,
        interval: Duration,
        now: DateTime<Utc>,
        horizon: Duration,
    ) -> Result<Reservation, StoreError> {
        let (now, interval, horizon) = (now.timestamp_millis(), millis(interval).max(1), millis(horizon));
        let idle = "attribute_not_exists(next_free) OR next_free <= :now";
        if self.update(webhook, "SET next_free = :next", idle, &[(":now", now), (":next", now + interval)]).await?.is_some() {
            return Ok(Reservation::At(now));
        }
        let soon = "next_free > :now AND next_free <= :limit";
        let values = [(":now", now), (":limit", now + horizon), (":interval", interval)];
        if let Some(before) = self.update(webhook, "SET next_free = next_free + :interval", soon, &values).await? {
            return Ok(Reservation::At(get_n(&before, "next_free")?));
        }
        let Some(item) = get_item(&self.db, key(format!("RATE#{webhook}"), "META")).await? else {
            return Ok(Reservation::Full(Duration::from_millis(1)));
        };
        let next_free: i64 = get_n(&item, "next_free")?;
        Ok(Reservation::Full(Duration::from_millis(u64::try_from(next_free - now - horizon).unwrap_or(0).max(1))))
    }
}
