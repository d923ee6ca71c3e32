//! Delivery health from delivery items (each with its attempts): DynamoDB has no aggregation,
//! so the items are read and handed to the domain's `aggregate`. The figures match the SQLite
//! adapter's for deliveries created since the start of the period; attempts are counted for
//! those deliveries.

use chrono::{DateTime, Utc};

use super::delivery_item::{attempts_of, from_item};
use super::item::Item;
use crate::domain::stats::{DeliveryStats, aggregate};
use crate::ports::StoreError;

pub fn stats_of(since: DateTime<Utc>, items: &[Item]) -> Result<DeliveryStats, StoreError> {
    let deliveries = items.iter().map(|item| Ok((from_item(item)?, attempts_of(item)?))).collect::<Result<Vec<_>, StoreError>>()?;
    Ok(aggregate(since, &deliveries))
}
