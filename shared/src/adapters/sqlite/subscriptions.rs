//! `SubscriptionStore` over SQLite. Webhooks are cached in memory for fan-out and delivery,
//! and the cache is dropped on every write through this store (a health change is patched into
//! it instead); in local mode this process is the only writer, so the cache is never stale.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Db, corrupt, decode_cursor, encode_cursor, from_text, to_text};
use crate::adapters::cipher::SecretCipher;
use crate::adapters::shaping::StoredShaping;
use crate::domain::filter::{EventPattern, any_matches};
use crate::domain::health::{Health, HealthChange, WebhookState};
use crate::domain::ids::WebhookId;
use crate::domain::secret::SigningSecret;
use crate::domain::webhook::{RetiredSecret, Webhook};
use crate::domain::webhook_url::WebhookUrl;
use crate::ports::{Page, StateChange, StoreError, SubscriptionStore, WebhookFilter};

const COLUMNS: &str = "seq, id, name, url, secret, events, is_active, description, headers, retry_policy, disabled_reason, created_at, updated_at, \
     retired_secrets, state, state_changed_at, health, rate_limit, shaping";

pub struct SqliteSubscriptionStore {
    db: Arc<Db>,
    /// Seals signing secrets before they are written and opens them when read.
    cipher: Arc<SecretCipher>,
    /// Every webhook, loaded on first use after a write.
    all: RwLock<Option<Arc<Vec<Webhook>>>>,
}

impl SqliteSubscriptionStore {
    pub fn new(db: Arc<Db>, cipher: Arc<SecretCipher>) -> Self {
        Self { db, cipher, all: RwLock::new(None) }
    }

    fn forget_cache(&self) {
        if let Ok(mut all) = self.all.write() {
            *all = None;
        }
    }

    /// Puts a webhook's new health into the cache (copied on write) instead of dropping the
    /// cache, since health changes with every failure.
    fn patch_cached(&self, id: &WebhookId, health: &Health) {
        let Ok(mut all) = self.all.write() else { return };
        let Some(cached) = all.as_ref() else { return };
        let mut patched: Vec<Webhook> = cached.as_ref().clone();
        if let Some(webhook) = patched.iter_mut().find(|w| &w.id == id) {
            webhook.health = health.clone();
        }
        *all = Some(Arc::new(patched));
    }

    async fn all_webhooks(&self) -> Result<Arc<Vec<Webhook>>, StoreError> {
        if let Some(cached) = self.all.read().ok().and_then(|a| a.clone()) {
            return Ok(cached);
        }
        let cipher = self.cipher.clone();
        let loaded = Arc::new(
            self.db
                .read(move |conn| {
                    let mut statement = conn.prepare(&format!("SELECT {COLUMNS} FROM webhooks ORDER BY seq"))?;
                    let rows = statement.query_map([], |row| read_webhook(row, &cipher).map(|(_, webhook)| webhook))?;
                    Ok(rows.collect::<Result<Vec<_>, _>>()?)
                })
                .await?,
        );
        if let Ok(mut all) = self.all.write() {
            *all = Some(loaded.clone());
        }
        Ok(loaded)
    }

    async fn write_row(&self, webhook: &Webhook, replace: bool) -> Result<(), StoreError> {
        let row = WebhookRow::new(webhook, &self.cipher);
        self.db.write(move |conn| row.save(conn, replace)).await?;
        self.forget_cache();
        Ok(())
    }
}

#[async_trait]
impl SubscriptionStore for SqliteSubscriptionStore {
    async fn insert(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.write_row(webhook, false).await
    }

    async fn get(&self, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        Ok(self.all_webhooks().await?.iter().find(|w| &w.id == id).cloned())
    }

    async fn list(&self, filter: &WebhookFilter) -> Result<Page<Webhook>, StoreError> {
        let after = decode_cursor(filter.cursor.as_deref())?.unwrap_or(0);
        let (is_active, event_type, limit) = (filter.is_active, filter.event_type.clone(), filter.limit);
        let cipher = self.cipher.clone();
        self.db
            .read(move |conn| {
                let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE seq > ?1 AND (?2 IS NULL OR is_active = ?2) ORDER BY seq");
                let mut statement = conn.prepare_cached(&sql)?;
                let mut items = Vec::new();
                let mut next_cursor = None;
                for row in statement.query_map(params![after, is_active], |row| read_webhook(row, &cipher))? {
                    let (seq, webhook) = row?;
                    if event_type.as_deref().is_some_and(|t| !any_matches(&webhook.events, t)) {
                        continue;
                    }
                    if items.len() == limit {
                        next_cursor = Some(encode_cursor(seq - 1));
                        break;
                    }
                    items.push(webhook);
                }
                Ok(Page { items, next_cursor })
            })
            .await
    }

    async fn replace(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.write_row(webhook, true).await
    }

    async fn delete(&self, id: &WebhookId) -> Result<(), StoreError> {
        let id = id.to_string();
        let deleted = self.db.write(move |conn| Ok(conn.execute("DELETE FROM webhooks WHERE id = ?1", [id])?)).await?;
        self.forget_cache();
        if deleted == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn matching(&self, event_type: &str) -> Result<Vec<Webhook>, StoreError> {
        Ok(self.all_webhooks().await?.iter().filter(|webhook| webhook.wants(event_type)).cloned().collect())
    }

    async fn transition(&self, id: &WebhookId, change: &StateChange) -> Result<Option<Webhook>, StoreError> {
        let from: Vec<&'static str> = change.from.iter().map(|state| state.as_str()).collect();
        let from = serde_json::to_string(&from).unwrap_or_default();
        let (key, to, reason, at) = (id.to_string(), change.to, change.reason.clone(), to_text(change.at));
        let changed = self
            .db
            .write(move |conn| {
                let sql = "UPDATE webhooks SET state = ?2, is_active = ?3, disabled_reason = ?4, state_changed_at = ?5, updated_at = ?5 \
                           WHERE id = ?1 AND COALESCE(state, CASE WHEN is_active = 1 THEN 'active' \
                           WHEN disabled_reason IS NOT NULL THEN 'disabled' ELSE 'paused' END) \
                           IN (SELECT value FROM json_each(?6))";
                let active = i64::from(to == WebhookState::Active);
                Ok(conn.execute(sql, params![key, to.as_str(), active, reason, at, from])?)
            })
            .await?;
        self.forget_cache();
        if changed == 0 { Ok(None) } else { self.get(id).await }
    }

    async fn record_health(&self, id: &WebhookId, change: &HealthChange, at: DateTime<Utc>) -> Result<Option<Health>, StoreError> {
        let (key, change) = (id.to_string(), change.clone());
        let health = self
            .db
            .write(move |conn| {
                let stored: Option<String> =
                    conn.query_row("SELECT health FROM webhooks WHERE id = ?1", [&key], |row| row.get(0)).optional()?;
                let Some(stored) = stored else { return Ok(None) };
                let mut health: Health = serde_json::from_str(&stored).unwrap_or_default();
                health.apply(&change, at);
                let json = serde_json::to_string(&health).unwrap_or_default();
                conn.execute("UPDATE webhooks SET health = ?2 WHERE id = ?1", params![key, json])?;
                Ok(Some(health))
            })
            .await?;
        if let Some(health) = &health {
            self.patch_cached(id, health);
        }
        Ok(health)
    }
}

/// A webhook flattened to column values, owned so it can move to the writer thread.
struct WebhookRow {
    values: [Option<String>; 16],
    rate_limit: Option<f64>,
}

impl WebhookRow {
    /// The row for `webhook`, its secrets sealed with `cipher`.
    fn new(webhook: &Webhook, cipher: &SecretCipher) -> Self {
        let id = webhook.id.as_str();
        let events: Vec<String> = webhook.events.iter().map(EventPattern::as_string).collect();
        let json = |value: serde_json::Result<String>| value.unwrap_or_default();
        Self {
            values: [
                Some(webhook.id.to_string()),
                Some(webhook.name.clone()),
                Some(webhook.url.as_str().to_owned()),
                Some(cipher.seal(webhook.secret.expose(), id)),
                Some(json(serde_json::to_string(&events))),
                Some(if webhook.is_active() { "1" } else { "0" }.to_owned()),
                webhook.description.clone(),
                Some(json(serde_json::to_string(&webhook.headers))),
                webhook.retry_policy.as_ref().map(|p| json(serde_json::to_string(p))),
                webhook.disabled_reason.clone(),
                Some(to_text(webhook.created_at)),
                Some(to_text(webhook.updated_at)),
                Some(cipher.seal(&retired_to_json(&webhook.retired_secrets), id)),
                Some(webhook.state.as_str().to_owned()),
                Some(to_text(webhook.state_changed_at)),
                Some(json(serde_json::to_string(&StoredShaping::of(webhook)))),
            ],
            rate_limit: webhook.rate_limit_per_sec,
        }
    }

    fn save(&self, conn: &Connection, replace: bool) -> Result<(), StoreError> {
        let v = &self.values;
        if replace {
            let sql = "UPDATE webhooks SET name = ?2, url = ?3, secret = ?4, events = ?5, is_active = ?6, description = ?7, \
                       headers = ?8, retry_policy = ?9, disabled_reason = ?10, created_at = ?11, updated_at = ?12, \
                       retired_secrets = ?13, state = ?14, state_changed_at = ?15, shaping = ?16, rate_limit = ?17 WHERE id = ?1";
            let changed = conn.execute(
                sql,
                params![
                    v[0],
                    v[1],
                    v[2],
                    v[3],
                    v[4],
                    v[5],
                    v[6],
                    v[7],
                    v[8],
                    v[9],
                    v[10],
                    v[11],
                    v[12],
                    v[13],
                    v[14],
                    v[15],
                    self.rate_limit
                ],
            )?;
            return if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) };
        }
        let sql = "INSERT INTO webhooks (id, name, url, secret, events, is_active, description, headers, retry_policy, \
                   disabled_reason, created_at, updated_at, retired_secrets, state, state_changed_at, shaping, rate_limit) \
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
        let values =
            params![v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], self.rate_limit];
        match conn.execute(sql, values) {
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Err(StoreError::Conflict("a webhook with this id already exists".into()))
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
    }
}

fn read_webhook(row: &Row<'_>, cipher: &SecretCipher) -> rusqlite::Result<(i64, Webhook)> {
    let text = |index: usize| row.get::<_, String>(index);
    let id = text(1)?;
    let open = |index: usize, what: &str| cipher.open(&text(index)?, &id).map_err(|_| corrupt(what));
    let events: Vec<String> = serde_json::from_str(&text(5)?).map_err(|_| corrupt("events"))?;
    let headers: BTreeMap<String, String> = serde_json::from_str(&text(8)?).map_err(|_| corrupt("headers"))?;
    let retry_policy = match row.get::<_, Option<String>>(9)? {
        Some(raw) => Some(serde_json::from_str(&raw).map_err(|_| corrupt("retry policy"))?),
        None => None,
    };
    let is_active = row.get::<_, String>(6).map(|v| v == "1").or_else(|_| row.get::<_, i64>(6).map(|v| v == 1))?;
    let state = match row.get::<_, Option<String>>(14)? {
        Some(raw) => WebhookState::parse(&raw).ok_or_else(|| corrupt("webhook state"))?,
        None if is_active => WebhookState::Active,
        // Files from before states: a deactivated webhook was disabled by a 410, or paused.
        None if row.get::<_, Option<String>>(10)?.is_some() => WebhookState::Disabled,
        None => WebhookState::Paused,
    };
    let updated_at = from_text(&text(12)?)?;
    // Rows written before the column have none: shaped as before.
    let stored: StoredShaping = match row.get::<_, Option<String>>(18)? {
        Some(raw) => serde_json::from_str(&raw).map_err(|_| corrupt("shaping"))?,
        None => StoredShaping::default(),
    };
    let shaping = stored.compile().map_err(corrupt)?;
    let webhook = Webhook {
        id: WebhookId::parse(&id).ok_or_else(|| corrupt("webhook id"))?,
        name: text(2)?,
        url: WebhookUrl::from_stored(&text(3)?).ok_or_else(|| corrupt("url"))?,
        secret: SigningSecret::parse(&open(4, "secret")?).map_err(|_| corrupt("secret"))?,
        events: events.iter().map(|raw| EventPattern::from_stored(raw)).collect(),
        state,
        state_changed_at: row.get::<_, Option<String>>(15)?.map(|raw| from_text(&raw)).transpose()?.unwrap_or(updated_at),
        health: serde_json::from_str(&text(16)?).map_err(|_| corrupt("health"))?,
        rate_limit_per_sec: row.get(17)?,
        signature: shaping.signature,
        filter: shaping.filter,
        transform: shaping.transform,
        description: row.get(7)?,
        headers,
        retry_policy,
        disabled_reason: row.get(10)?,
        created_at: from_text(&text(11)?)?,
        updated_at,
        retired_secrets: retired_from_json(&open(13, "retired secrets")?)?,
    };
    Ok((row.get(0)?, webhook))
}

/// Retired secrets as `[{"secret", "expires_at"}]`.
fn retired_to_json(retired: &[RetiredSecret]) -> String {
    let entries: Vec<serde_json::Value> =
        retired.iter().map(|r| serde_json::json!({ "secret": r.secret.expose(), "expires_at": to_text(r.expires_at) })).collect();
    serde_json::Value::Array(entries).to_string()
}

fn retired_from_json(raw: &str) -> rusqlite::Result<Vec<RetiredSecret>> {
    let entries: Vec<serde_json::Value> = serde_json::from_str(raw).map_err(|_| corrupt("retired secrets"))?;
    entries
        .iter()
        .map(|entry| {
            let text = |key: &str| entry.get(key).and_then(serde_json::Value::as_str).ok_or_else(|| corrupt("retired secret"));
            Ok(RetiredSecret {
                secret: SigningSecret::parse(text("secret")?).map_err(|_| corrupt("retired secret"))?,
                expires_at: from_text(text("expires_at")?)?,
            })
        })
        .collect()
}
