//! Retention over DynamoDB: TTL deletes expired items (events included) within days of their
//! `expires_at`; a purge deletes the closed deliveries past the period that TTL has not reached.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::delivery_item::from_item;
use super::item::key;
use super::walk::{Walk, days_between, every_item};
use super::{Dynamo, store_error};
use crate::ports::{Retention, StoreError};

/// How far back a purge looks for what TTL has not deleted yet.
const TTL_LAG: Duration = Duration::days(7);

pub struct DynamoDbRetention {
    db: Dynamo,
    retention: Duration,
}

impl DynamoDbRetention {
    pub fn new(db: Dynamo, retention: Duration) -> Self {
        Self { db, retention }
    }
}

#[async_trait]
impl Retention for DynamoDbRetention {
    async fn purge(&self, before: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
        // TTL deletes expired items (events included); this removes what it has not reached yet.
        let walk = Walk { index: "GSI1", partitions: days_between(before - self.retention - TTL_LAG, before), since: None };
        let mut deleted = 0;
        for item in every_item(&self.db, &walk).await? {
            let delivery = from_item(&item)?;
            if delivery.created_at >= before || delivery.status.is_open() {
                continue;
            }
            self.db
                .client
                .delete_item()
                .table_name(&*self.db.table)
                .set_key(Some(key(format!("DLV#{}", delivery.id), "META")))
                .send()
                .await
                .map_err(store_error)?;
            deleted += 1;
        }
        Ok((deleted, 0))
    }
}
