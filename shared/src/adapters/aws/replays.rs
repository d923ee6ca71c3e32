//! `ReplayStore` over DynamoDB: one item per bulk replay (`RPL#<id>`, `META`), its state as
//! JSON in `doc`, listed through the sparse `GSI1` partition `REPLAYS_OPEN` until it finishes.

use async_trait::async_trait;

use super::item::{get_s, key, s};
use super::reads::{get_item, query_all};
use super::{Dynamo, store_error};
use crate::domain::ids::ReplayId;
use crate::domain::replay::Replay;
use crate::ports::{ReplayStore, StoreError};

const OPEN: &str = "REPLAYS_OPEN";

pub struct DynamoDbReplayStore {
    db: Dynamo,
}

impl DynamoDbReplayStore {
    pub fn new(db: Dynamo) -> Self {
        Self { db }
    }
}

fn parse(item: &super::item::Item) -> Result<Replay, StoreError> {
    serde_json::from_str(get_s(item, "doc")?).map_err(|_| StoreError::Backend("stored replay does not parse".into()))
}

#[async_trait]
impl ReplayStore for DynamoDbReplayStore {
    async fn save(&self, replay: &Replay) -> Result<(), StoreError> {
        let mut item = key(format!("RPL#{}", replay.id), "META");
        item.insert("doc".into(), s(serde_json::to_string(replay).unwrap_or_default()));
        if !replay.is_finished() {
            item.insert("GSI1PK".into(), s(OPEN));
            item.insert("GSI1SK".into(), s(replay.id.as_str()));
        }
        self.db.client.put_item().table_name(&*self.db.table).set_item(Some(item)).send().await.map_err(store_error)?;
        Ok(())
    }

    async fn get(&self, id: &ReplayId) -> Result<Option<Replay>, StoreError> {
        get_item(&self.db, key(format!("RPL#{id}"), "META")).await?.as_ref().map(parse).transpose()
    }

    async fn unfinished(&self) -> Result<Vec<Replay>, StoreError> {
        let entries = query_all(&self.db, Some("GSI1"), "GSI1PK", OPEN).await?;
        let mut open = Vec::with_capacity(entries.len());
        // The index holds keys, and is eventually consistent: each is read from the table, so a
        // finished one is not resumed.
        for entry in &entries {
            let Some(item) = get_item(&self.db, key(get_s(entry, "PK")?.to_owned(), get_s(entry, "SK")?)).await? else { continue };
            let replay = parse(&item)?;
            if !replay.is_finished() {
                open.push(replay);
            }
        }
        Ok(open)
    }
}
