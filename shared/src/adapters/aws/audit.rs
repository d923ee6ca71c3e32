//! `AuditLog` over DynamoDB: one partition `AUDIT` (management changes are rare), sorted by
//! time; append is a conditional put, and nothing here updates or deletes.

use async_trait::async_trait;
use rand::Rng;

use super::cursor::{Cursors, position_of, start_key};
use super::item::{Item, get_s, get_time, key, opt_s, put_opt, s};
use super::{Dynamo, page_size, store_error};
use crate::domain::audit::{AuditAction, AuditEntry};
use crate::domain::event::format_timestamp;
use crate::ports::{AuditFilter, AuditLog, Page, StoreError};

const KEYS: [&str; 2] = ["PK", "SK"];

pub struct DynamoDbAuditLog {
    db: Dynamo,
    cursors: Cursors,
}

impl DynamoDbAuditLog {
    pub fn new(db: Dynamo, cursors: Cursors) -> Self {
        Self { db, cursors }
    }
}

fn to_item(entry: &AuditEntry) -> Item {
    let unique: u64 = rand::rng().random();
    let mut item = key("AUDIT".to_owned(), &format!("{}#{unique:016x}", format_timestamp(entry.at)));
    item.insert("at".into(), s(format_timestamp(entry.at)));
    item.insert("actor".into(), s(&entry.actor));
    item.insert("action".into(), s(entry.action.as_str()));
    item.insert("target".into(), s(&entry.target));
    put_opt(&mut item, "source", entry.source.as_deref().map(s));
    item
}

fn from_item(item: &Item) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        at: get_time(item, "at")?,
        actor: get_s(item, "actor")?.to_owned(),
        action: AuditAction::parse(get_s(item, "action")?).ok_or_else(|| StoreError::Backend("stored audit action unknown".into()))?,
        target: get_s(item, "target")?.to_owned(),
        source: opt_s(item, "source"),
    })
}

fn wanted(entry: &AuditEntry, filter: &AuditFilter) -> bool {
    filter.actor.as_deref().is_none_or(|actor| entry.actor == actor)
        && filter.action.is_none_or(|action| entry.action == action)
        && filter.target.as_deref().is_none_or(|target| entry.target == target)
}

#[async_trait]
impl AuditLog for DynamoDbAuditLog {
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.db
            .client
            .put_item()
            .table_name(&*self.db.table)
            .set_item(Some(to_item(entry)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn list(&self, filter: &AuditFilter) -> Result<Page<AuditEntry>, StoreError> {
        let mut start = self.cursors.open_opt("audit", filter.cursor.as_deref())?.map(|p| start_key(&p, &KEYS));
        let (mut items, mut last) = (Vec::new(), None);
        loop {
            let mut request = self
                .db
                .client
                .query()
                .table_name(&*self.db.table)
                .scan_index_forward(false)
                .expression_attribute_values(":pk", s("AUDIT"))
                .set_exclusive_start_key(start)
                .limit(page_size(filter.limit));
            request = match filter.since {
                Some(since) => request
                    .key_condition_expression("PK = :pk AND SK >= :since")
                    .expression_attribute_values(":since", s(format_timestamp(since))),
                None => request.key_condition_expression("PK = :pk"),
            };
            let output = request.send().await.map_err(store_error)?;
            for item in output.items() {
                let entry = from_item(item)?;
                if !wanted(&entry, filter) {
                    continue;
                }
                if items.len() == filter.limit {
                    return Ok(Page { items, next_cursor: last.map(|p| self.cursors.seal("audit", &p)) });
                }
                items.push(entry);
                last = Some(position_of(item, &KEYS));
            }
            start = output.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(Page { items, next_cursor: None });
            }
        }
    }
}
