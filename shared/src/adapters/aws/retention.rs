//! Retention over DynamoDB: every item carries its own expiry (`expires_at`, by event type, a
//! dead delivery's until it is reviewed) and TTL deletes it within days of it; a purge deletes
//! the closed deliveries past their expiry that TTL has not reached yet. Reads hide expired
//! items either way.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::delivery_item::from_item;
use super::item::{get_n, key};
use super::subscriptions::webhook_ids_ever;
use super::walk::{Walk, every_stored_item};
use super::{Dynamo, store_error};
use crate::domain::retention::RetentionPolicy;
use crate::ports::{Retention, StoreError};

/// How far back a purge looks for what TTL has not deleted yet.
const TTL_LAG: Duration = Duration::days(7);

pub struct DynamoDbRetention {
    db: Dynamo,
}

impl DynamoDbRetention {
    pub fn new(db: Dynamo) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Retention for DynamoDbRetention {
    async fn purge(&self, policy: &RetentionPolicy, now: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
        let walk = Walk::of_webhooks(&webhook_ids_ever(&self.db).await?, Some(now - policy.longest() - TTL_LAG));
        let mut deleted = 0;
        for item in every_stored_item(&self.db, &walk).await? {
            let expires_at: i64 = get_n(&item, "expires_at")?;
            let delivery = from_item(&item)?;
            if expires_at > now.timestamp() || delivery.status.is_unfinished() {
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
